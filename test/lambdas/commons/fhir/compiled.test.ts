import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { validateCompiled } from '../../../../lambdas/commons/fhir/compiled/validate-compiled.js';
import { isBlocking } from '../../../../lambdas/commons/fhir/issues.js';
import { validateBase, validateBaseReference } from '../../../../lambdas/commons/fhir/validate-base.js';

/*
 * The compiled walk on its own (lambdas/commons/fhir/compiled/): each case is a rule of FHIR R4 (JSON
 * representation §2.6.2, datatypes §2.24, the R4 invariants of the StructureDefinitions) with the verdict
 * the HL7 validator gives, and the same verdict as the validation as it was.
 */

const obs = (extra: Record<string, unknown>): Resource => ({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, ...extra });
const compiled = (r: Resource): OperationOutcomeIssue[] => validateCompiled(r, { maxIssues: 100 });
const errors = (r: Resource): OperationOutcomeIssue[] => compiled(r).filter(isBlocking);

const CASES: [rule: string, resource: Resource, valid: boolean][] = [
  ['a minimal Observation is valid', obs({}), true],
  ['an unknown property is an error (json.html: unknown elements)', obs({ colour: 'red' }), false],
  ['an unknown property in a datatype is an error', obs({ code: { text: 'x', colour: 'red' } }), false],
  ['a decimal given as a string is an error (json.html: numbers are JSON numbers)', obs({ valueQuantity: { value: '1.0' } }), false],
  ['a date off the regular expression is an error (datatypes: dateTime)', obs({ effectiveDateTime: '2024-13-01' }), false],
  ['a whitespace-only string is an error (datatypes: string)', obs({ code: { text: '   ' } }), false],
  ['an id longer than 64 characters is an error (datatypes: id)', obs({ id: 'a'.repeat(65) }), false],
  ['a code with two spaces is an error (datatypes: code)', obs({ code: { coding: [{ code: 'a  b' }] } }), false],
  ['a repeating element given as one value is an error', obs({ category: { text: 'x' } }), false],
  ['a single element given as an array is an error', obs({ code: [{ text: 'x' }] }), false],
  ['a missing required element is an error (Observation.code 1..1)', { resourceType: 'Observation', status: 'final' } as Resource, false],
  [
    'a required choice element is present under any of its types (MedicationAdministration.medication[x] 1..1)',
    { resourceType: 'MedicationAdministration', status: 'completed', medicationCodeableConcept: { text: 'x' }, subject: { reference: 'Patient/p' }, effectiveDateTime: '2024-01-01' },
    true,
  ],
  [
    'a required choice element missing under every type is an error',
    { resourceType: 'MedicationAdministration', status: 'completed', subject: { reference: 'Patient/p' }, effectiveDateTime: '2024-01-01' },
    false,
  ],
  ['a null in a primitive array is allowed where the _ partner holds the extension (json.html)', { resourceType: 'Patient', name: [{ given: [null, 'B'], _given: [{ extension: [{ url: 'http://e', valueString: 'x' }] }, null] }] } as unknown as Resource, true],
  ['a null in a primitive array without its _ partner is an error', { resourceType: 'Patient', name: [{ given: [null, 'B'] }] } as unknown as Resource, false],
  ['obs-6: dataAbsentReason only when there is no value', obs({ valueString: 'x', dataAbsentReason: { text: 'x' } }), false],
  ['bdl-5: an entry must have a resource, a request or a response', { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'urn:uuid:0b2b2b2b-0000-4000-8000-000000000001' }] }, false],
  [
    'bdl-7: the same fullUrl twice is an error',
    { resourceType: 'Bundle', type: 'collection', entry: [1, 2].map(() => ({ fullUrl: 'http://x/Patient/a', resource: { resourceType: 'Patient', id: 'a' } })) },
    false,
  ],
  [
    'bdl-7: the same fullUrl with different meta.versionId is allowed',
    { resourceType: 'Bundle', type: 'collection', entry: ['1', '2'].map((v) => ({ fullUrl: 'http://x/Patient/a', resource: { resourceType: 'Patient', id: 'a', meta: { versionId: v } } })) },
    true,
  ],
  ['a contained resource of an unknown type is an error', obs({ contained: [{ resourceType: 'NotAType', id: 'c' }] }), false],
  ['a Bundle entry resource is validated by its own type', { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'urn:uuid:0b2b2b2b-0000-4000-8000-000000000001', resource: { resourceType: 'Patient', gender: 'cat' } }] } as unknown as Resource, false],
  ['an unknown resource type is an error', { resourceType: 'NotAType' } as unknown as Resource, false],
];

describe('Compiled base R4 validation', () => {
  it.each(CASES)('%s', (_rule, resource, valid) => {
    expect(errors(resource).length === 0, JSON.stringify(errors(resource).map((i) => [i.expression?.[0], i.details?.text]))).toBe(valid);
    expect(validateBaseReference(resource).some(isBlocking)).toBe(!valid);
    expect(validateBase(resource).some(isBlocking)).toBe(!valid);
  });

  it('locates an error at the element, with no instance value in the message (patient data stays out)', () => {
    const secret = 'Jane Doe 1970';
    const issues = errors(obs({ code: { text: 'x', colour: secret }, effectiveDateTime: `${secret}` }));
    expect(issues.map((i) => i.expression?.[0])).toEqual(expect.arrayContaining(['Observation.code.colour', 'Observation.effectiveDateTime']));
    expect(JSON.stringify(issues)).not.toContain(secret);
  });

  it('stops at MAX_ISSUES on a hostile 100 kB bundle, in milliseconds', () => {
    const entry = Array.from({ length: 2_000 }, (_, i) => ({ fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, resource: { resourceType: 'Observation', status: 'bad status', code: 'not an object' } }));
    const bundle = { resourceType: 'Bundle', type: 'collection', entry } as unknown as Bundle;
    expect(JSON.stringify(bundle).length).toBeGreaterThan(100_000);
    compiled(bundle); // warm
    const start = performance.now();
    const issues = validateCompiled(bundle, { maxIssues: 100 });
    const ms = performance.now() - start;
    expect(issues).toHaveLength(100);
    expect(ms).toBeLessThan(200);
  });
});

describe('Compiled validation under many warnings', () => {
  it('still finds an error after MAX_ISSUES warnings (the issue bound counts errors only)', () => {
    // 120 blood-pressure Observations without LOINC 85354-9 (a warning in the ingest's strictness), then one
    // Observation without its required code (FHIR R4 Observation.code 1..1).
    const bp = { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '55284-4' }] } };
    const entry = [...Array.from({ length: 120 }, () => bp), { resourceType: 'Observation', status: 'final' }].map((resource, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resource,
    }));
    const bundle = { resourceType: 'Bundle', type: 'collection', entry } as unknown as Bundle;
    const issues = validateCompiled(bundle, { maxIssues: 100, vitalSignsProfile: 'warning' });
    expect(issues.filter((i) => i.severity === 'warning').length).toBeGreaterThan(50);
    expect(issues.filter(isBlocking).map((i) => i.expression?.[0])).toContain('Bundle.entry[120].resource.code');
    expect(validateBase(bundle, { vitalSignsProfile: 'warning' }).some(isBlocking)).toBe(true);
  });
});
