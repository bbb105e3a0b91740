/**
 * What of a request may enter the audit trail (issue 17: "no PHI beyond pseudonyms"): hospital
 * identifiers and free text a client puts in a query or a path stay out; codes, dates and study
 * references stay in, so the auditor can tell what was asked.
 */
import { describe, expect, it } from 'vitest';
import { REDACTED, recordableId, redactPath, redactQuery } from '../../../../lambdas/commons/audit/redact.js';

describe('redactQuery', () => {
  it('keeps codes, dates, study references and result controls', () => {
    const q = 'patient=Patient/S-ABCDEFGHIJKL&code=http://loinc.org|777-3&date=ge2030-01-01&_count=10&_sort=-date';
    expect(redactQuery(q)).toBe(new URLSearchParams(q).toString());
  });

  it('drops identifier values but keeps the issuing system', () => {
    expect(redactQuery('identifier=urn:oid:1.2.3|MRN-1')).toBe(`identifier=${encodeURIComponent(`urn:oid:1.2.3|${REDACTED}`)}`);
    expect(redactQuery('identifier=MRN-1')).toBe(`identifier=${encodeURIComponent(REDACTED)}`);
  });

  it('drops the value of every parameter off the allow-list, and of :text modifiers', () => {
    const out = new URLSearchParams(redactQuery('name=Doe&family=Doe&_content=lupus+flare&phone=555&unknown=x&code:text=Smith'));
    for (const name of ['name', 'family', '_content', 'phone', 'unknown', 'code:text']) expect(out.get(name), name).toBe(REDACTED);
    expect(out.toString()).not.toMatch(/Doe|555|Smith|flare/);
  });
});

describe('redactPath', () => {
  it('keeps every segment of a successful access (the store held the id)', () => {
    expect(redactPath('/Patient/anything-at-all/_history/3', true)).toBe('/Patient/anything-at-all/_history/3');
  });

  it('on a failure keeps study-shaped ids and drops the others (a hospital id sent in a path)', () => {
    expect(redactPath('/Patient/S-ABCDEFGHIJKL/$hospital-identity', false)).toBe('/Patient/S-ABCDEFGHIJKL/$hospital-identity');
    expect(redactPath('/Observation/0123456789abcdef0123456789abcdef/_history/2', false)).toBe('/Observation/0123456789abcdef0123456789abcdef/_history/2');
    expect(redactPath('/Patient/MRN-0042', false)).toBe(`/Patient/${REDACTED}`);
    expect(recordableId('MRN-0042', false)).toBe(false);
    expect(recordableId('MRN-0042', true)).toBe(true);
  });
});
