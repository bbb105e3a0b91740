import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadEligibilityCriteria } from '../../../lambdas/screen/core/criteria.js';
import { type OverallState, screenPatient } from '../../../lambdas/screen/core/screen.js';
import { toScreeningObservation } from '../../../lambdas/screen/core/screening-observation.js';
import { ACT, BASE, ICD, INTERP, IV, LOINC, ORAL, RXNORM, SCT, STUDY, UCUM } from './builders.js';

/** Deterministic PRNG (mulberry32), so the population is the same on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const day = (offset: number): string => new Date(Date.UTC(2024, 5, 10) - offset * 86_400_000).toISOString().slice(0, 10);

/**
 * A typical record: demographics, 2-4 conditions, 8-16 labs, SLEDAI totals, 2-5 medications, 0-3
 * encounters, 0-2 allergies, now and then an investigator decision.
 */
function patientRecord(i: number, random: () => number): { id: string; resources: Resource[] } {
  const id = `pt-${i}`;
  const subject = { reference: `Patient/${id}` };
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
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

describe('Throughput', () => {
  it('screens a generated population of 10,000 patients and prints patients per second', () => {
    const criteria = loadEligibilityCriteria();
    const random = prng(20240610);
    const population = Array.from({ length: 10_000 }, (_, i) => patientRecord(i, random));
    const asOf = new Date('2024-06-10T08:00:00Z');
    const resourceCount = population.reduce((sum, p) => sum + p.resources.length, 0);
    // Warm-up (JIT, per-base compilation) outside the timed loop.
    for (const p of population.slice(0, 200)) {
      screenPatient({ base: BASE, patient: p.id, resources: p.resources, asOf }, criteria);
    }
    const counts: Record<OverallState, number> = { eligible: 0, candidate: 0, ineligible: 0 };
    const start = performance.now();
    for (const p of population) {
      const result = screenPatient({ base: BASE, patient: p.id, resources: p.resources, asOf }, criteria);
      toScreeningObservation(result, BASE);
      counts[result.overall]++;
    }
    const seconds = (performance.now() - start) / 1000;
    console.log(
      `screened ${population.length} patients (${resourceCount} resources, ${(resourceCount / population.length).toFixed(1)} per patient) ` +
        `in ${seconds.toFixed(2)} s: ${Math.round(population.length / seconds)} patients/s on one core; ${JSON.stringify(counts)}`,
    );
    expect(counts.eligible + counts.candidate + counts.ineligible).toBe(10_000);
  });
});
