import type { Observation, Resource } from '@medplum/fhirtypes';
import { parseModel, type PredictionModel } from '../../../../lambdas/predict/core/model-spec.js';

export const base = 'https://belimumab-sle.example.org/fhir';
export const subject = 'S-TEST0001';
const DAY0 = '2024-07-01';

const dayOf = (visit: string): number => Number(visit.replace('week-', '')) * 7;
const dateOf = (visit: string): string => new Date(Date.parse(`${DAY0}T00:00:00Z`) + dayOf(visit) * 86_400_000).toISOString().slice(0, 10);
const visitExt = (visit: string): NonNullable<Observation['extension']> => [
  { url: `${base}/StructureDefinition/study-visit`, valueCoding: { system: `${base}/CodeSystem/study-visit`, code: visit } },
  { url: `${base}/StructureDefinition/study-day`, valueInteger: dayOf(visit) },
];

/** A stored lab Observation at a visit, in the canonical unit. */
export function lab(system: string, code: string, value: number, unit: string, visit: string, id = `${code}-${visit}`): Observation & { id: string } {
  return {
    resourceType: 'Observation',
    id,
    extension: visitExt(visit),
    status: 'final',
    code: { coding: [{ system, code }] },
    subject: { reference: `Patient/${subject}` },
    effectiveDateTime: `${dateOf(visit)}T09:00:00+08:00`,
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  };
}

/** A derived SLEDAI-2K total at a visit. */
export function sledai(total: number, visit: string): Observation & { id: string } {
  return {
    resourceType: 'Observation',
    id: `sledai-${visit}`,
    meta: { profile: [`${base}/StructureDefinition/sledai-2k-score`] },
    extension: visitExt(visit),
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '93015-5' }] },
    subject: { reference: `Patient/${subject}` },
    effectiveDateTime: dateOf(visit),
    valueInteger: total,
  };
}

export const cd19 = (value: number, visit: string): Observation & { id: string } => lab('http://loinc.org', '8117-4', value, '%', visit);
export const nsmb = (value: number, visit: string): Observation & { id: string } =>
  lab(`${base}/CodeSystem/b-cell-phenotypes`, 'non-switched-memory-b', value, '%', visit);
export const c3 = (value: number, visit: string): Observation & { id: string } => lab('http://loinc.org', '4485-9', value, 'mg/dL', visit);
export const dsdna = (value: number, visit: string): Observation & { id: string } => lab('http://loinc.org', '5130-0', value, '[IU]/mL', visit);

/** Every input of the shipped draft model, for one subject, up to week 4. */
export function completeRecords(): Resource[] {
  return [
    { resourceType: 'Patient', id: subject, gender: 'female', birthDate: '1990-01-15' },
    sledai(12, 'week-0'),
    sledai(8, 'week-4'),
    cd19(12, 'week-0'),
    cd19(6, 'week-4'),
    nsmb(8, 'week-0'),
    nsmb(10, 'week-4'),
    c3(70, 'week-0'),
    dsdna(150, 'week-0'),
  ];
}

/** A small valid model document (two features) as raw JSON, for tests that break one thing. */
export function smallModelRaw(): any {
  return {
    schemaVersion: 1,
    name: 'test-model',
    title: 'Test model',
    version: '1.0.0',
    status: 'draft',
    date: '2025-01-01',
    description: 'A test model.',
    caution: 'ILLUSTRATIVE AND UNCALIBRATED',
    outcome: {
      id: 'sri4_week48',
      label: 'SRI-4 at week 48',
      profile: 'sri4-response',
      code: { system: '{base}/CodeSystem/study-assessments', code: 'sri4' },
      visit: 'week-48',
      event: 'responder',
      nonEvent: 'non-responder',
    },
    timepoint: 'week-4',
    features: [
      {
        id: 'sledai_change_w4',
        label: 'SLEDAI-2K change',
        measure: { key: 'sledai', source: 'sledai-2k-total', unit: '{score}' },
        transform: 'change',
        visit: 'week-4',
        unit: '{score}',
      },
      {
        id: 'cd19_log_ratio_w4',
        label: 'CD19 log-ratio',
        measure: { key: 'cd19_pct', source: 'observation', codes: [{ system: 'http://loinc.org', code: '8117-4' }], unit: '%' },
        transform: 'log-ratio',
        visit: 'week-4',
        unit: '1',
      },
    ],
    model: {
      family: 'binomial',
      link: 'logit',
      method: 'expert',
      intercept: { estimate: 0.25, standardError: null },
      coefficients: [
        { feature: 'sledai_change_w4', estimate: -0.2, standardError: null },
        { feature: 'cd19_log_ratio_w4', estimate: -1.5, standardError: null },
      ],
    },
    missingData: { policy: 'not-evaluable' },
    interpretation: { threshold: 0.5, atOrAbove: 'likely-responder', below: 'unlikely-responder' },
    performance: null,
  };
}

/** The small model, validated. */
export function smallModel(): PredictionModel {
  return parseModel(smallModelRaw());
}
