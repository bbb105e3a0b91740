import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { DEFAULT_CANONICAL_BASE } from '../../lambdas/commons/config.js';
import type { ModelData } from '../../lambdas/predict/stats/model-data.js';
import { mulberry32, normalDraw, type Random } from '../../lambdas/predict/stats/prng.js';
import { LOCAL_DRUG, LOCAL_LAB } from '../../local/samples/lupus-subject.js';
import { BILAG_DOMAINS, CLINICIAN_DESCRIPTORS, studyCourseBundle, type VisitRecord } from '../../local/samples/study-course.js';

const BASE = DEFAULT_CANONICAL_BASE;
const STUDY = `${BASE}/CodeSystem/study-assessments`;
const SCT = 'http://snomed.info/sct';
const ICD = 'http://hl7.org/fhir/sid/icd-10-cm';
const LOINC = 'http://loinc.org';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const UCUM = 'http://unitsofmeasure.org';
const INTERP = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const ACT = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const IV = { coding: [{ system: SCT, code: '47625008' }] };
const ORAL = { coding: [{ system: SCT, code: '26643006' }] };

/*
 * Deterministic generated inputs of the benchmark (seeded PRNG): every run measures the same data.
 */

const LAB_CATEGORY = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }];

/** Local lab codes with the unit the sample hospital writes and a plausible range (mapped and converted by the ingest). */
const LOCAL_LABS: readonly [code: string, unit: string, lo: number, hi: number][] = [
  ['PLT', '10*9/L', 50, 400],
  ['WBC', '10*9/L', 2, 12],
  ['HGB', 'g/dL', 8, 15],
  ['C3', 'g/L', 0.4, 1.8],
  ['C4', 'g/L', 0.05, 0.4],
  ['DSDNA', '[IU]/mL', 5, 400],
  ['UPROT24', 'mg/(24.h)', 50, 3000],
  ['IGG', 'g/L', 6, 18],
  ['CRP', 'mg/L', 0.5, 80],
  ['ESR', 'mm/h', 2, 90],
];

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * A batch Bundle of `entries` entries for a few patients, almost all lab Observations in the sample
 * hospital's local codes and units (so each goes through the ConceptMap, unit conversion, visit
 * annotation and its study profile); per patient also the Patient, a body weight and three belimumab
 * infusions (day 0). Over the 1,000-entry HTTP limit on purpose: the core figure runs with a raised
 * `maxEntries`.
 * @param entries - Total entries.
 * @param patients - How many patients share them.
 * @param seed - PRNG seed.
 * @returns The bundle.
 */
export function labBundle(entries: number, patients: number, seed = 4893161): Bundle {
  const random = mulberry32(seed);
  const day0 = '2024-01-08';
  const out: BundleEntry[] = [];
  const add = (resource: Resource & { id: string }, method: 'POST' | 'PUT' = 'POST'): void => {
    out.push({
      fullUrl: `urn:uuid:${resource.id}`,
      resource,
      request: method === 'PUT' ? { method, url: `${resource.resourceType}/${resource.id}` } : { method, url: resource.resourceType },
    });
  };
  const fixed = 5;
  const labsPerPatient = Math.floor((entries - fixed * patients) / patients);
  for (let p = 0; p < patients; p++) {
    const pid = `bench-pt-${p}`;
    const subject = { reference: `urn:uuid:${pid}` };
    add({ resourceType: 'Patient', id: pid, gender: 'female', birthDate: '1985-03-02' }, 'PUT');
    add({
      resourceType: 'Observation',
      id: `${pid}-wt`,
      status: 'final',
      code: { coding: [{ system: LOCAL_LAB, code: 'WT' }] },
      subject,
      effectiveDateTime: `${addDays(day0, -5)}T08:00:00+01:00`,
      valueQuantity: { value: 58 + p, unit: 'kg', system: UCUM, code: 'kg' },
    });
    for (const day of [0, 14, 28]) {
      add({
        resourceType: 'MedicationAdministration',
        id: `${pid}-beli-${day}`,
        status: 'completed',
        medicationCodeableConcept: { coding: [{ system: LOCAL_DRUG, code: 'BELI' }] },
        subject,
        effectiveDateTime: `${addDays(day0, day)}T10:00:00+01:00`,
        dosage: { route: IV, dose: { value: 10, unit: 'mg/kg', system: UCUM, code: 'mg/kg' } },
      });
    }
    const extra = p === patients - 1 ? entries - fixed * patients - labsPerPatient * patients : 0;
    for (let k = 0; k < labsPerPatient + extra; k++) {
      const [code, unit, lo, hi] = LOCAL_LABS[k % LOCAL_LABS.length] as (typeof LOCAL_LABS)[number];
      const day = Math.floor(k / LOCAL_LABS.length) - 30;
      add({
        resourceType: 'Observation',
        id: `${pid}-lab-${k}`,
        status: 'final',
        category: LAB_CATEGORY,
        code: { coding: [{ system: LOCAL_LAB, code }] },
        subject,
        effectiveDateTime: `${addDays(day0, day)}T08:${String(k % 60).padStart(2, '0')}:00+01:00`,
        valueQuantity: { value: Math.round((lo + random() * (hi - lo)) * 100) / 100, unit },
      });
    }
  }
  return { resourceType: 'Bundle', type: 'batch', entry: out };
}

/** A 50-entry transaction for the end-to-end figure: one patient's visit worth of labs and infusions. */
export function visitBundle(patientIndex: number, visitIndex: number, entries = 50, seed = 20240610): Bundle {
  const random = mulberry32(seed + patientIndex * 1000 + visitIndex);
  const pid = `e2e-pt-${patientIndex}`;
  const day0 = '2024-01-08';
  const day = visitIndex * 14;
  const subject = { reference: `urn:uuid:${pid}` };
  const out: BundleEntry[] = [
    { fullUrl: subject.reference, resource: { resourceType: 'Patient', id: pid, gender: 'female', birthDate: '1985-03-02' }, request: { method: 'PUT', url: `Patient/${pid}` } },
    {
      fullUrl: `urn:uuid:${pid}-beli-${day}`,
      resource: {
        resourceType: 'MedicationAdministration',
        id: `${pid}-beli-${day}`,
        status: 'completed',
        medicationCodeableConcept: { coding: [{ system: LOCAL_DRUG, code: 'BELI' }] },
        subject,
        effectiveDateTime: `${addDays(day0, day)}T10:00:00+01:00`,
        dosage: { route: IV, dose: { value: 10, unit: 'mg/kg', system: UCUM, code: 'mg/kg' } },
      },
      request: { method: 'POST', url: 'MedicationAdministration' },
    },
    {
      // The dose in mg needs the latest body weight.
      fullUrl: `urn:uuid:${pid}-wt-${day}`,
      resource: {
        resourceType: 'Observation',
        id: `${pid}-wt-${day}`,
        status: 'final',
        code: { coding: [{ system: LOCAL_LAB, code: 'WT' }] },
        subject,
        effectiveDateTime: `${addDays(day0, day)}T07:30:00+01:00`,
        valueQuantity: { value: 58 + patientIndex, unit: 'kg', system: UCUM, code: 'kg' },
      },
      request: { method: 'POST', url: 'Observation' },
    },
  ];
  for (let k = 0; out.length < entries; k++) {
    const [code, unit, lo, hi] = LOCAL_LABS[k % LOCAL_LABS.length] as (typeof LOCAL_LABS)[number];
    const id = `${pid}-v${visitIndex}-lab-${k}`;
    out.push({
      fullUrl: `urn:uuid:${id}`,
      resource: {
        resourceType: 'Observation',
        id,
        status: 'final',
        category: LAB_CATEGORY,
        code: { coding: [{ system: LOCAL_LAB, code }] },
        subject,
        effectiveDateTime: `${addDays(day0, day)}T08:${String(k % 60).padStart(2, '0')}:00+01:00`,
        valueQuantity: { value: Math.round((lo + random() * (hi - lo)) * 100) / 100, unit },
      },
      request: { method: 'POST', url: 'Observation' },
    });
  }
  return { resourceType: 'Bundle', id: `e2e-${patientIndex}-${visitIndex}`, type: 'transaction', entry: out };
}

const day = (offset: number): string => new Date(Date.UTC(2024, 5, 10) - offset * 86_400_000).toISOString().slice(0, 10);

/**
 * One screening candidate's record, as test/lambdas/screen/throughput.test.ts generates it (same
 * shape and mix; copied because a test file cannot be imported): demographics, 2-4 conditions,
 * 8-16 labs, serologies, SLEDAI totals, 2-5 medications, 0-3 encounters, 0-2 allergies, now and
 * then an investigator decision.
 * @param i - Patient number.
 * @param random - The PRNG.
 * @returns The pseudonym and resources.
 */
export function screeningRecord(i: number, random: Random): { id: string; resources: Resource[] } {
  const id = `pt-${i}`;
  const subject = { reference: `Patient/${id}` };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  let n = 0;
  const rid = (): string => `${id}-${++n}`;
  const resources: Resource[] = [{ resourceType: 'Patient', id, gender: 'female', birthDate: day(Math.floor(6000 + random() * 20000)) }];
  const sle = pick([
    { system: SCT, code: '55464009' },
    { system: ICD, code: 'M32.14' },
    { system: SCT, code: '200936003' },
  ]);
  if (random() > 0.05) {
    resources.push({ resourceType: 'Condition', id: rid(), subject, code: { coding: [sle] }, onsetDateTime: day(400 + Math.floor(random() * 3000)) });
  }
  const others = [
    { system: ICD, code: 'I10' },
    { system: ICD, code: 'E11.9' },
    { system: ICD, code: 'C50.911' },
    { system: ICD, code: 'F10.20' },
    { system: ICD, code: 'D84.821' },
    { system: SCT, code: '38341003' },
  ];
  for (let k = 0; k < 1 + Math.floor(random() * 3); k++) {
    resources.push({ resourceType: 'Condition', id: rid(), subject, code: { coding: [pick(others)] }, onsetDateTime: day(Math.floor(random() * 4000)) });
  }
  const labs: [string, string, number, number][] = [
    ['2465-3', 'mg/dL', 300, 1600],
    ['2458-8', 'mg/dL', 5, 400],
    ['2889-4', 'g/(24.h)', 0.05, 3],
    ['718-7', 'g/dL', 8, 15],
    ['777-3', '10*3/uL', 50, 400],
  ];
  for (let k = 0; k < 8 + Math.floor(random() * 9); k++) {
    const [code, unit, lo, hi] = pick(labs);
    resources.push({
      resourceType: 'Observation',
      id: rid(),
      status: 'final',
      subject,
      code: { coding: [{ system: LOINC, code }] },
      effectiveDateTime: day(Math.floor(random() * 700)),
      valueQuantity: { value: Math.round((lo + random() * (hi - lo)) * 10) / 10, unit, system: UCUM, code: unit },
    });
  }
  for (const code of ['56888-1', '5196-1', '16933-4', '16128-1']) {
    if (random() > 0.1) {
      resources.push({
        resourceType: 'Observation',
        id: rid(),
        status: 'final',
        subject,
        code: { coding: [{ system: LOINC, code }] },
        effectiveDateTime: day(Math.floor(random() * 60)),
        interpretation: [{ coding: [{ system: INTERP, code: random() > 0.03 ? 'NEG' : 'POS' }] }],
      });
    }
  }
  for (let k = 0; k < 1 + Math.floor(random() * 3); k++) {
    resources.push({
      resourceType: 'Observation',
      id: rid(),
      status: 'final',
      meta: { profile: [`${BASE}/StructureDefinition/sledai-2k-score`] },
      subject,
      code: { coding: [{ system: `${BASE}/CodeSystem/sledai-2k`, code: 'total' }] },
      effectiveDateTime: day(Math.floor(random() * 90)),
      valueInteger: Math.floor(random() * 20),
    });
  }
  const drugs = ['5521', '8640', '68149', '1256', '10831', '3002', '281'];
  for (let k = 0; k < 2 + Math.floor(random() * 4); k++) {
    resources.push({
      resourceType: 'MedicationStatement',
      id: rid(),
      status: pick(['active', 'completed'] as const),
      subject,
      medicationCodeableConcept: { coding: [{ system: RXNORM, code: pick(drugs) }] },
      effectivePeriod: { start: day(200 + Math.floor(random() * 2000)) },
      dosage: [{ route: random() > 0.9 ? IV : ORAL }],
    });
  }
  for (let k = 0; k < Math.floor(random() * 4); k++) {
    const start = Math.floor(random() * 400);
    resources.push({
      resourceType: 'Encounter',
      id: rid(),
      status: 'finished',
      class: { system: ACT, code: pick(['AMB', 'AMB', 'IMP']) },
      subject,
      period: { start: day(start + 3), end: day(start) },
      reasonCode: [{ coding: [pick([{ system: ICD, code: 'J18.9' }, sle])] }],
    });
  }
  if (random() > 0.7) {
    resources.push({
      resourceType: 'AllergyIntolerance',
      id: rid(),
      patient: subject,
      type: pick(['allergy', 'intolerance'] as const),
      code: { coding: [{ system: RXNORM, code: pick(['5521', '7980', '121191']) }] },
      reaction: [{ manifestation: [{ coding: [{ system: SCT, code: pick(['39579001', '271807003']) }] }] }],
    });
  }
  if (random() > 0.8) {
    resources.push({
      resourceType: 'Observation',
      id: rid(),
      status: 'final',
      subject,
      code: { coding: [{ system: STUDY, code: 'investigator-decision' }] },
      effectiveDateTime: day(1),
      component: ['incl-sle-diagnosis', 'excl-suicide-risk', 'excl-lab-abnormality', 'excl-intercurrent-illness'].map((code) => ({
        code: { coding: [{ system: STUDY, code }] },
        valueCodeableConcept: { coding: [{ system: STUDY, code: code.startsWith('incl') ? 'met' : 'not-met' }] },
      })),
    });
  }
  return { id, resources };
}

/** The eight assessment weeks of the schedule (registry record: weeks 0, 2, 4, 8, 12, 24, 36, 48). */
export const VISIT_WEEKS = [0, 2, 4, 8, 12, 24, 36, 48] as const;

/**
 * One subject's whole 48-week course (8 assessment visits) as the EHR would push it, through the
 * sample generator `studyCourseBundle`: descriptors, BILAG-2004, PGA and labs drawn at random, with
 * activity tending to fall over time as in a responder.
 * @param index - Subject number.
 * @param random - The PRNG.
 * @returns The transaction bundle.
 */
export function courseBundle(index: number, random: Random): Bundle {
  const grades = ['A', 'B', 'C', 'D', 'E'] as const;
  const responder = random() < 0.5;
  const visits: VisitRecord[] = VISIT_WEEKS.map((week, v) => {
    const activity = responder ? Math.max(0.05, 0.5 - v * 0.06) : 0.4;
    return {
      week,
      present: CLINICIAN_DESCRIPTORS.filter(() => random() < activity * 0.4),
      bilag: Object.fromEntries(BILAG_DOMAINS.map((d) => [d, grades[Math.min(4, Math.floor(random() * 5 + (responder ? v * 0.3 : 0)))] as string])),
      pga: Math.round(random() * 3 * activity * 20) / 10,
      labs: {
        c3: Math.round((0.5 + random() * 0.8) * 100) / 100,
        c4: Math.round((0.06 + random() * 0.2) * 100) / 100,
        dsdna: Math.round(20 + random() * 300),
        uprot24: Math.round(100 + random() * 1500),
        plt: Math.round(80 + random() * 250),
        wbc: Math.round((2.5 + random() * 6) * 10) / 10,
      },
    };
  });
  const day0 = addDays('2023-01-02', index * 3);
  return studyCourseBundle({ patientId: `course-${index}`, day0, visits });
}

/**
 * A simulated prediction cohort the size of the study's (72): three early markers, standard normal;
 * logit P(SRI-4 at week 48) = −0.4 + 1.4·m1 + 0.9·m2 (as test/lambdas/predict/stats/validation.test.ts).
 * @param n - Subjects.
 * @param seed - PRNG seed.
 * @returns The model data.
 */
export function predictionCohort(n = 72, seed = 20210521): ModelData {
  const random = mulberry32(seed);
  const beta = [-0.4, 1.4, 0.9, 0];
  const x = Array.from({ length: n }, () => [1, normalDraw(random), normalDraw(random), normalDraw(random)]);
  const y = x.map((row) => {
    const lp = row.reduce((s, v, j) => s + v * (beta[j] as number), 0);
    return random() < 1 / (1 + Math.exp(-lp)) ? 1 : 0;
  });
  return { columnNames: ['(Intercept)', 'm1', 'm2', 'm3'], x, y };
}
