import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConformance } from '../../../lambdas/commons/conformance/index.js';
import { unitAliases } from '../../../lambdas/commons/study-context.js';
import { StudyCodes } from '../../../lambdas/ingest/core/codes.js';
import { readBulkExport, sweepPopulation } from '../../../lambdas/screen/bulk-sweep.js';
import { loadEligibilityCriteria } from '../../../lambdas/screen/core/index.js';
import { SHARED_DATA } from '../../support/local-app.js';

const conformance = loadConformance();
const deps = {
  conformance,
  codes: new StudyCodes(conformance),
  unitAliases: unitAliases(conformance),
  criteria: loadEligibilityCriteria(),
  sourceSystem: 'urn:test:ehr',
  asOf: new Date('2026-11-01T00:00:00Z'),
};

/** A Bulk Data export of `n` made-up patients: every third has SLE (ICD-10-CM M32.9), the rest none. */
function writeExport(n: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'bulk-'));
  const patients: string[] = [];
  const conditions: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `p${i}`;
    patients.push(JSON.stringify({ resourceType: 'Patient', id, gender: 'female', birthDate: '1980-01-01', name: [{ family: `Family${i}` }] }));
    const code = i % 3 === 0 ? { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M32.9' } : { system: 'http://snomed.info/sct', code: '444814009' };
    conditions.push(
      JSON.stringify({
        resourceType: 'Condition',
        id: `c${i}`,
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
        code: { coding: [code] },
        subject: { reference: `Patient/${id}` },
        onsetDateTime: '2015-01-01',
      }),
    );
  }
  writeFileSync(join(dir, 'Patient.000.ndjson'), `${patients.join('\n')}\n`);
  writeFileSync(join(dir, 'Condition.000.ndjson'), `${conditions.join('\n')}\n`);
  writeFileSync(join(dir, 'log.ndjson'), '{"exportId":"x","eventId":"kickoff"}\n');
  return dir;
}

describe('Function: sweepPopulation (npm run screen -- --ndjson)', () => {
  it('screens a generated population: no SLE diagnosis is ineligible, SLE leaves the rest to work out', async () => {
    // Registry inclusion I-1 and the rule: no SLE diagnosis on record → ineligible, not a candidate.
    const patients = await readBulkExport(writeExport(3000));
    const started = performance.now();
    const summary = sweepPopulation(patients, deps);
    const seconds = (performance.now() - started) / 1000;
    console.log(`bulk sweep: ${summary.patients} patients in ${seconds.toFixed(2)} s (${Math.round(summary.patients / seconds)}/s)`);
    expect(summary.patients).toBe(3000);
    expect(summary.byState.ineligible).toBe(2000);
    expect(summary.byState.candidate).toBe(1000);
    expect(summary.byState.eligible).toBe(0);
  });

  it('screens the Synthea Bulk Data export of 10 patients, none with SLE on record', async () => {
    const patients = await readBulkExport(join(SHARED_DATA, 'synthea/bulk10'));
    const summary = sweepPopulation(patients, deps);
    expect(summary.patients).toBe(patients.size);
    expect(summary.byState.ineligible).toBe(patients.size);
  });
});
