/**
 * `seedDemoCohort` against the local layer: the simulated cohort arrives through `POST /fhir` as an
 * EHR's transactions (FHIR R4 http.html#transaction) and `Task/{id}/$settle`, and the layer computes
 * every state the app shows: each eligibility state, enrolled, completed and withdrawn subjects (D6),
 * responders and non-responders at week 48, open review Tasks (D4) and predictions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoCohortBundles, seedDemoCohort, type DemoCohortCounts } from '../../local/demo-cohort.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

let app: TestApp;
let counts: DemoCohortCounts;

beforeAll(async () => {
  app = await startTestApp();
  // Two completers keep the run short; the kinds are the same as the demo's.
  counts = await seedDemoCohort(app.baseUrl, await app.token('system/*.cruds'), { completed: 2, timeoutMs: 150_000 });
}, 180_000);

afterAll(async () => {
  await app?.close();
});

describe('The demo cohort in the layer', () => {
  it('has screened patients in every eligibility state', () => {
    // Enrolled subjects were screened eligible too (their reviews decided at enrolment).
    expect(counts.screening.candidate).toBe(3);
    expect(counts.screening.ineligible).toBe(3);
    expect(counts.screening.eligible).toBe(2 + 4);
  });

  it('has enrolled, completed and withdrawn subjects, and the screened ones as candidates, eligible or ineligible', () => {
    expect(counts.researchSubjects).toEqual({ 'potential-candidate': 3, eligible: 2, ineligible: 3, 'off-study': 2, withdrawn: 1, 'on-study': 1 });
  });

  it('has responders and non-responders at week 48, the withdrawal a non-responder (D6)', () => {
    expect(counts.week48).toEqual({ responder: 1, 'non-responder': 2 });
  });

  it('has a prediction for every enrolled subject and open review Tasks, a SLEDAI-2K descriptor among them (D4)', async () => {
    expect(counts.predictions).toBe(4);
    expect(counts.openTasks).toBeGreaterThan(0);
    const tasks = await app.fetchFhir('/Task?status=requested&_count=1000', { scopes: 'system/Task.rs' });
    const codes = new Set(tasks.body.entry.map((e: any) => e.resource.code.coding[0].code));
    expect(codes).toEqual(new Set(['review-eligibility-criterion', 'review-sledai-descriptor']));
  });

  it('stores only pseudonyms: no hospital id of the bundles reaches a Patient', async () => {
    const patients = await app.fetchFhir('/Patient?_count=1000', { scopes: 'system/Patient.rs' });
    expect(patients.body.entry).toHaveLength(counts.patients);
    const text = JSON.stringify(patients.body);
    for (const p of demoCohortBundles(new Date(), { completed: 2 })) expect(text).not.toContain(p.id);
  });
});
