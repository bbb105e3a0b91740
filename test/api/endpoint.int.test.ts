import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_DRUG, LOCAL_LAB } from '../../local/samples/lupus-subject.js';
import { studyCourseBundle, type VisitRecord } from '../../local/samples/study-course.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

// Issue 11, end to end through POST /fhir: the cases that flipped the primary endpoint (SRI-4 at week 48,
// response-indices.md §1) and the review Tasks, read back through the API. Each case cites the study decision
// (../shared/reference/study-decisions.md) that prescribes its answer.

const base = 'https://belimumab-sle.example.org/fhir';
const ASSESSMENTS = `${base}/CodeSystem/study-assessments`;
const DAY0 = '2024-07-01';

// SLEDAI-2K 16 at baseline (arthritis 4, rash 2, mucosal ulcers 2, proteinuria 4, low complement 2, increased
// DNA binding 2: sledai-2k.md §2), 2 from week 4 on (rash): an SRI-4 responder at every visit unless a rule says no.
const active = { c3: 0.6, c4: 0.08, dsdna: 180, uprot24: 1200, plt: 210, wbc: 5.1, cd19: 14, nsmb: 9 };
const quiet = { c3: 1.1, c4: 0.2, dsdna: 40, uprot24: 150, plt: 220, wbc: 5.4, cd19: 8, nsmb: 6 };
const baselineVisit: VisitRecord = { week: 0, present: ['arthritis', 'rash', 'mucosal-ulcers'], bilag: { musculoskeletal: 'B', mucocutaneous: 'B', renal: 'B' }, pga: 1.5, labs: active };
const followUp = (week: number, labs: VisitRecord['labs'] | null = quiet): VisitRecord => ({ week, present: ['rash'], bilag: { mucocutaneous: 'C' }, pga: 0.5, ...(labs ? { labs } : {}) });
const fullCourse = (): VisitRecord[] => [baselineVisit, ...[4, 12, 24, 36, 48].map((w) => followUp(w))];

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function withEntries(bundle: Bundle, patientId: string, resources: Resource[]): Bundle {
  const entries: BundleEntry[] = resources.map((resource, i) => ({
    fullUrl: `urn:uuid:${patientId}-extra-${i}`,
    resource: { ...resource, id: `${patientId}-extra-${i}` },
    request: { method: 'POST', url: resource.resourceType },
  }));
  return { ...bundle, entry: [...(bundle.entry ?? []), ...entries] };
}

/** The EHR's (or coordinator's) ResearchSubject for this study, matched by the NCT identifier. */
function researchSubject(patientId: string, status: string, start: string, end?: string): Resource {
  return {
    resourceType: 'ResearchSubject',
    status: status as 'on-study',
    period: { start, ...(end ? { end } : {}) },
    study: { identifier: { system: 'https://clinicaltrials.gov', value: 'NCT04893161' } },
    individual: { reference: `urn:uuid:${patientId}` },
  };
}

/** A daily oral glucocorticoid the way the EHR lists it (local drug code, mg/day). */
function dailyDrug(type: 'MedicationStatement' | 'MedicationRequest', patientId: string, code: string, mg: number, start: string, end?: string): Resource {
  const dosage = {
    route: { coding: [{ system: 'http://snomed.info/sct', code: '26643006', display: 'Oral route' }] },
    timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' as const } },
    doseAndRate: [{ doseQuantity: { value: mg, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } }],
  };
  const medicationCodeableConcept = { coding: [{ system: LOCAL_DRUG, code }] };
  const subject = { reference: `urn:uuid:${patientId}` };
  return type === 'MedicationStatement'
    ? { resourceType: 'MedicationStatement', status: 'active', medicationCodeableConcept, subject, effectivePeriod: { start, ...(end ? { end } : {}) }, dosage: [dosage] }
    : {
        resourceType: 'MedicationRequest',
        status: 'active',
        intent: 'order',
        medicationCodeableConcept,
        subject,
        authoredOn: start,
        dosageInstruction: [{ ...dosage, timing: { repeat: { ...dosage.timing.repeat, boundsPeriod: { start, ...(end ? { end } : {}) } } } }],
      };
}

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app.close();
});

async function push(bundle: Bundle): Promise<string> {
  const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(bundle) });
  expect(res.status).toBe(200);
  const failed = (res.body.entry ?? []).filter((e: any) => !/^2/.test(e.response.status));
  expect(failed.map((e: any) => JSON.stringify(e.response))).toEqual([]);
  return res.body.entry[0].response.location.split('/')[1];
}

async function derived(patient: string, profile: string): Promise<any[]> {
  const { body } = await app.fetchFhir(`/Observation?subject=Patient/${patient}&_profile=${base}/StructureDefinition/${profile}&_count=200`);
  return (body.entry ?? []).map((e: any) => e.resource);
}

const visitOf = (o: any): string | undefined => o.extension?.find((x: any) => x.url.endsWith('/study-visit'))?.valueCoding?.code;
const codeOf = (c: any): string | undefined => c?.coding?.find((x: any) => x.system === ASSESSMENTS)?.code ?? c?.coding?.[0]?.code;

async function sri4(patient: string): Promise<Record<string, { value: string; reasons: string[] }>> {
  const all = await derived(patient, 'sri4-response');
  return Object.fromEntries(
    all
      .filter((o) => o.code.coding.some((c: any) => c.code === 'sri4'))
      .map((o) => [
        visitOf(o) ?? 'week-48',
        {
          value: codeOf(o.valueCodeableConcept) as string,
          reasons: (o.component ?? []).filter((c: any) => codeOf(c.code) === 'outcome-reason').map((c: any) => codeOf(c.valueCodeableConcept)),
        },
      ]),
  );
}

describe('the primary endpoint through the API (issue 11)', () => {
  it('a week-48 visit whose labs never came has a partial SLEDAI-2K that names the missing descriptors, and no false responder (D3, D8)', async () => {
    const visits = [...fullCourse().slice(0, -1), followUp(48, null)];
    const patient = await push(studyCourseBundle({ patientId: 'e2e-nolabs', day0: DAY0, visits }));
    const scores = Object.fromEntries((await derived(patient, 'sledai-2k-score')).map((o) => [visitOf(o), o]));
    expect(scores['week-36'].valueInteger).toBe(2);
    const week48 = scores['week-48'];
    expect(week48.valueInteger).toBeUndefined();
    const missing = (week48.component ?? []).filter((c: any) => c.dataAbsentReason).map((c: any) => c.code.coding[0].code);
    expect(missing).toEqual(expect.arrayContaining(['low-complement', 'increased-dna-binding', 'proteinuria', 'leukopenia', 'thrombocytopenia']));
    const sri = await sri4(patient);
    expect(sri['week-36']?.value).toBe('responder');
    expect(sri['week-48']?.value).toBe('non-responder');
    expect(sri['week-48']?.reasons).toContain('missing-component');
  });

  it('a subject who withdraws at week 30 responds at week 24 and is a non-responder at the endpoint (D6)', async () => {
    const visits = [baselineVisit, ...[4, 12, 24].map((w) => followUp(w))];
    const bundle = studyCourseBundle({ patientId: 'e2e-withdrawn', day0: DAY0, visits, lastInfusionDay: 196 });
    const patient = await push(withEntries(bundle, 'e2e-withdrawn', [researchSubject('e2e-withdrawn', 'withdrawn', DAY0, addDays(DAY0, 210))]));
    const sri = await sri4(patient);
    expect(sri['week-24']?.value).toBe('responder');
    expect(sri['week-48']?.value).toBe('non-responder');
    expect(sri['week-48']?.reasons).toContain('withdrawal');
  });

  it('a subject who completes and is then marked off-study stays a responder (D6: off-study after the week-48 assessment is completion)', async () => {
    const bundle = studyCourseBundle({ patientId: 'e2e-completed', day0: DAY0, visits: fullCourse() });
    const patient = await push(withEntries(bundle, 'e2e-completed', [researchSubject('e2e-completed', 'off-study', DAY0, addDays(DAY0, 345))]));
    const sri = await sri4(patient);
    expect(sri['week-48']?.value).toBe('responder');
    expect(sri['week-48']?.reasons).not.toContain('withdrawal');
  });

  it('a subject marked off-study before the week-48 assessment is a non-responder at the endpoint (D6)', async () => {
    const visits = fullCourse().slice(0, -1);
    const bundle = studyCourseBundle({ patientId: 'e2e-offstudy', day0: DAY0, visits, lastInfusionDay: 280 });
    const patient = await push(withEntries(bundle, 'e2e-offstudy', [researchSubject('e2e-offstudy', 'off-study', DAY0, addDays(DAY0, 300))]));
    const sri = await sri4(patient);
    expect(sri['week-36']?.value).toBe('responder');
    expect(sri['week-48']?.value).toBe('non-responder');
  });

  it('a subject whose prednisone rises from 10 to 40 mg/day after week 24 is a non-responder from then on (D7d, D10)', async () => {
    const bundle = studyCourseBundle({ patientId: 'e2e-steroids', day0: DAY0, visits: fullCourse() });
    const patient = await push(
      withEntries(bundle, 'e2e-steroids', [
        dailyDrug('MedicationStatement', 'e2e-steroids', 'PRED', 10, addDays(DAY0, -90), addDays(DAY0, 199)),
        dailyDrug('MedicationRequest', 'e2e-steroids', 'PRED', 40, addDays(DAY0, 200)),
      ]),
    );
    const sri = await sri4(patient);
    expect(sri['week-24']?.value).toBe('responder');
    expect(sri['week-36']?.value).toBe('non-responder');
    expect(sri['week-48']?.value).toBe('non-responder');
    expect(sri['week-48']?.reasons).toContain('glucocorticoid-increase');
  });

  it('a subject assessed the day before the first infusion has that assessment as baseline (D1)', async () => {
    const bundle = studyCourseBundle({ patientId: 'e2e-dayminus1', day0: DAY0, visits: fullCourse() });
    // The baseline assessments move to day -1; the infusions stay on day 0.
    const moved = JSON.parse(JSON.stringify(bundle).replaceAll(`${DAY0}T09:00:00+08:00`, `${addDays(DAY0, -1)}T09:00:00+08:00`)) as Bundle;
    const patient = await push(moved);
    const sri = await sri4(patient);
    expect(sri['week-48']?.value).toBe('responder');
  });
});

describe('heme-granular casts through the API (sledai-2k.md §2 row 11, §4)', () => {
  it('counts a hospital heme-granular cast result as urinary casts, and a plain granular cast not', async () => {
    const cast = (system: string, code: string, display: string, day: number): Resource => ({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
      // The hospital's own text is dropped by the de-identification policy; the ConceptMap's display for HGCAST says heme-granular.
      code: { coding: [{ system, code, display }] },
      subject: { reference: 'urn:uuid:e2e-casts' },
      effectiveDateTime: `${addDays(DAY0, day)}T09:00:00+08:00`,
      valueQuantity: { value: 3, unit: '/[LPF]', system: 'http://unitsofmeasure.org', code: '/[LPF]' },
    });
    const bundle = studyCourseBundle({ patientId: 'e2e-casts', day0: DAY0, visits: fullCourse() });
    const patient = await push(
      withEntries(bundle, 'e2e-casts', [cast(LOCAL_LAB, 'HGCAST', 'casts for patient', 84), cast('http://loinc.org', '5793-5', 'heme granular (free text)', 168)]),
    );
    const scores = Object.fromEntries((await derived(patient, 'sledai-2k-score')).map((o) => [visitOf(o), o]));
    const present = (visit: string): string[] => (scores[visit].component ?? []).filter((c: any) => c.valueInteger > 0).map((c: any) => c.code.coding[0].code);
    expect(present('week-12')).toContain('urinary-casts');
    expect(scores['week-12'].valueInteger).toBe(6); // rash 2 + urinary casts 4
    expect(present('week-24')).not.toContain('urinary-casts');
  });
});

describe('review Tasks through the API (issue 11: every undecided item is a Task the investigator settles)', () => {
  let patient: string;
  const wbcLow = { ...quiet, wbc: 2.5 };

  beforeAll(async () => {
    // Leukopenia at week 12 while on azathioprine since before day 0: undecided (D5), a Task for the investigator.
    const visits = [baselineVisit, followUp(4), followUp(12, wbcLow), followUp(24), followUp(36), followUp(48)];
    const bundle = studyCourseBundle({ patientId: 'e2e-review', day0: DAY0, visits });
    patient = await push(withEntries(bundle, 'e2e-review', [dailyDrug('MedicationStatement', 'e2e-review', 'AZA', 100, addDays(DAY0, -200))]));
  });

  async function tasks(): Promise<any[]> {
    const { status, body } = await app.fetchFhir(`/Task?patient=Patient/${patient}&_count=100`);
    expect({ status, issue: body.issue }).toEqual({ status: 200, issue: undefined });
    return (body.entry ?? []).map((e: any) => e.resource);
  }

  it('opens a requested Task whose focus is the visit score and whose input is the evidence', async () => {
    const open = (await tasks()).filter((t) => t.status === 'requested' && codeOf(t.code) === 'review-sledai-descriptor');
    const leukopenia = open.find((t) => t.input.some((i: any) => i.valueCoding?.code === 'leukopenia'));
    expect(leukopenia).toBeDefined();
    expect(codeOf(leukopenia.reasonCode)).toBe('drug-attribution');
    expect(leukopenia.input.find((i: any) => codeOf(i.type) === 'review-visit').valueCoding.code).toBe('week-12');
    const score = (await derived(patient, 'sledai-2k-score')).find((o) => visitOf(o) === 'week-12');
    expect(leukopenia.focus.reference).toBe(`Observation/${score.id}`);
    expect(leukopenia.input.filter((i: any) => codeOf(i.type) === 'review-evidence').length).toBeGreaterThan(0);
    // Undecided is not counted (D4, D5): the score is partial and names leukopenia.
    expect(score.valueInteger).toBeUndefined();
    expect(score.component.some((c: any) => c.code.coding[0].code === 'leukopenia' && c.dataAbsentReason)).toBe(true);
  });

  it('settles through POST Task/{id}/$settle, recomputes the subject and completes the Task with the decision as output', async () => {
    const task = (await tasks()).find((t) => t.status === 'requested' && t.input.some((i: any) => i.valueCoding?.code === 'leukopenia'));
    const decision = { resourceType: 'Parameters', parameter: [{ name: 'decision', valueCode: 'present' }, { name: 'reason', valueString: 'Counts fell before azathioprine was started' }] };
    const denied = await app.fetchFhir(`/Task/${task.id}/$settle`, { method: 'POST', body: JSON.stringify(decision), scopes: 'system/*.rs' });
    expect(denied.status).toBe(403);
    const res = await app.fetchFhir(`/Task/${task.id}/$settle`, { method: 'POST', body: JSON.stringify(decision) });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('completed');
    expect(res.body.output.find((o: any) => codeOf(o.type) === 'review-decision').valueCoding.code).toBe('present');
    const score = (await derived(patient, 'sledai-2k-score')).find((o) => visitOf(o) === 'week-12');
    expect(score.valueInteger).toBe(3); // rash 2 + leukopenia 1 (sledai-2k.md §2)
    const again = await app.fetchFhir(`/Task/${task.id}/$settle`, { method: 'POST', body: JSON.stringify(decision) });
    expect(again.status).toBe(200);
    expect(again.body.meta.versionId).toBe(res.body.meta.versionId);
    const other = await app.fetchFhir(`/Task/${task.id}/$settle`, {
      method: 'POST',
      body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'decision', valueCode: 'absent' }] }),
    });
    expect(other.status).toBe(409);
  });

  it('answers an unknown Task with 404 and a malformed decision with 400', async () => {
    expect((await app.fetchFhir('/Task/nope/$settle', { method: 'POST', body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'decision', valueCode: 'met' }] }) })).status).toBe(404);
    const [task] = await tasks();
    expect((await app.fetchFhir(`/Task/${task.id}/$settle`, { method: 'POST', body: '{"resourceType":"Parameters"}' })).status).toBe(400);
  });
});
