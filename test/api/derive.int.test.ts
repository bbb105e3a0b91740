import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_LAB } from '../../local/samples/lupus-subject.js';
import { studyCourseBundle, type VisitRecord } from '../../local/samples/study-course.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

// A subject who responds: SLEDAI-2K 16 at baseline (arthritis 4, rash 2, mucosal ulcers 2, proteinuria 4,
// low complement 2, increased DNA binding 2: weights from sledai-2k.md §2), 2 at week 48 (rash), no new
// BILAG A or B, PGA 1.5 → 0.5 (SRI-4 as defined in response-indices.md §1).
const active = { c3: 0.6, c4: 0.08, dsdna: 180, uprot24: 1200, plt: 210, wbc: 5.1, cd19: 14, nsmb: 9 };
const quiet = { c3: 1.1, c4: 0.2, dsdna: 40, uprot24: 150, plt: 220, wbc: 5.4, cd19: 8, nsmb: 6 };
const visits: VisitRecord[] = [
  { week: 0, present: ['arthritis', 'rash', 'mucosal-ulcers'], bilag: { musculoskeletal: 'B', mucocutaneous: 'B', renal: 'B' }, pga: 1.5, labs: active },
  { week: 2, present: ['arthritis', 'rash'], bilag: { musculoskeletal: 'B', mucocutaneous: 'C', renal: 'B' }, pga: 1.2, labs: active },
  { week: 4, present: ['rash'], bilag: { mucocutaneous: 'C', renal: 'C' }, pga: 1.0, labs: quiet },
  { week: 12, present: ['rash'], bilag: { mucocutaneous: 'C' }, pga: 0.8, labs: quiet },
  { week: 24, present: ['rash'], bilag: { mucocutaneous: 'C' }, pga: 0.7, labs: quiet },
  { week: 48, present: ['rash'], bilag: { mucocutaneous: 'C' }, pga: 0.5, labs: quiet },
];

let app: TestApp;
const base = 'https://belimumab-sle.example.org/fhir';

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app.close();
});

async function derived(patient: string, profile: string): Promise<any[]> {
  const { body } = await app.fetchFhir(`/Observation?subject=Patient/${patient}&_profile=${base}/StructureDefinition/${profile}&_count=100`);
  return (body.entry ?? []).map((e: any) => e.resource);
}

const visitOf = (o: any): string => o.extension.find((x: any) => x.url.endsWith('/study-visit')).valueCoding.code;

describe('Derived responder Observations through the local API', () => {
  let patient: string;

  beforeAll(async () => {
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(studyCourseBundle({ patientId: 'resp-1', day0: '2024-07-01', visits })) });
    expect(res.status).toBe(200);
    patient = res.body.entry[0].response.location.split('/')[1];
  });

  it('publishes a SLEDAI-2K score per visit with no other call', async () => {
    const scores = await derived(patient, 'sledai-2k-score');
    const byVisit = Object.fromEntries(scores.map((o) => [visitOf(o), o.valueInteger]));
    expect(byVisit['week-0']).toBe(16);
    expect(byVisit['week-48']).toBe(2);
    expect(Object.keys(byVisit).sort()).toEqual(['week-0', 'week-12', 'week-2', 'week-24', 'week-4', 'week-48'].sort());
  });

  it('marks the week-48 SRI-4 as the primary endpoint, a responder', async () => {
    const sri = await derived(patient, 'sri4-response');
    const week48 = sri.find((o) => visitOf(o) === 'week-48' && o.code.coding[0].code === 'sri4');
    expect(week48.valueCodeableConcept.coding[0].code).toBe('responder');
    expect(JSON.stringify(week48.category)).toContain('primary-endpoint');
    expect(week48.derivedFrom.length).toBeGreaterThan(0);
  });

  it('predicts week-48 response once the week-4 features are in, flagged preliminary and illustrative', async () => {
    const [prediction] = await derived(patient, 'response-prediction');
    expect(prediction.status).toBe('preliminary');
    const probability = prediction.component.find((c: any) => c.code.coding[0].code === 'response-probability').valueQuantity;
    expect(probability.code).toBe('1');
    expect(probability.value).toBeGreaterThan(0);
    expect(probability.value).toBeLessThan(1);
    expect(['likely-responder', 'unlikely-responder']).toContain(prediction.valueCodeableConcept.coding[0].code);
    expect(JSON.stringify(prediction.note)).toMatch(/ILLUSTRATIVE AND UNCALIBRATED/);
    const { body } = await app.fetchFhir('/Library?_count=10');
    expect(body.entry.map((e: any) => e.resource.url)).toContain(`${base}/Library/sri4-week4`);
  });

  it('changes no derived version when the same data is pushed again', async () => {
    const before = (await derived(patient, 'sledai-2k-score')).map((o) => `${o.id}@${o.meta.versionId}`).sort();
    await app.fetchFhir('', { method: 'POST', body: JSON.stringify(studyCourseBundle({ patientId: 'resp-1', day0: '2024-07-01', visits })) });
    const after = (await derived(patient, 'sledai-2k-score')).map((o) => `${o.id}@${o.meta.versionId}`).sort();
    expect(after).toEqual(before);
  });

  it('lets a late lab change exactly the visit whose look-back window it falls in', async () => {
    const before = Object.fromEntries((await derived(patient, 'sledai-2k-score')).map((o) => [visitOf(o), o]));
    // Platelets 80 x10^9/L on study day 164, 4 days before week 24 (day 168): thrombocytopenia (+1).
    const late = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        {
          fullUrl: 'urn:uuid:late-plt',
          resource: {
            resourceType: 'Observation',
            id: 'resp-1-late-plt',
            status: 'final',
            code: { coding: [{ system: LOCAL_LAB, code: 'PLT' }] },
            subject: { reference: 'Patient/resp-1' },
            effectiveDateTime: '2024-12-12T09:00:00+08:00',
            valueQuantity: { value: 80, unit: '10*9/L' },
          },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    };
    expect((await app.fetchFhir('', { method: 'POST', body: JSON.stringify(late) })).status).toBe(200);
    const after = Object.fromEntries((await derived(patient, 'sledai-2k-score')).map((o) => [visitOf(o), o]));
    expect(after['week-24'].valueInteger).toBe(before['week-24'].valueInteger + 1);
    expect(after['week-24'].meta.versionId).not.toBe(before['week-24'].meta.versionId);
    for (const visit of ['week-0', 'week-2', 'week-4', 'week-12', 'week-48']) {
      expect(after[visit].meta.versionId, visit).toBe(before[visit].meta.versionId);
    }
  });
});
