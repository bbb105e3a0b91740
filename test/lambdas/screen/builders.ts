import type {
  AllergyIntolerance,
  CodeableConcept,
  Condition,
  Encounter,
  MedicationAdministration,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Patient,
  Quantity,
  Resource,
} from '@medplum/fhirtypes';
import { loadEligibilityCriteria } from '../../../lambdas/screen/core/criteria.js';
import { type CriterionResult, type ScreeningResult, screenPatient } from '../../../lambdas/screen/core/screen.js';

export const BASE = 'https://belimumab-sle.example.org/fhir';
export const STUDY = `${BASE}/CodeSystem/study-assessments`;
export const SCT = 'http://snomed.info/sct';
export const ICD = 'http://hl7.org/fhir/sid/icd-10-cm';
export const LOINC = 'http://loinc.org';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const UCUM = 'http://unitsofmeasure.org';
export const INTERP = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
export const ACT = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
export const IV = { coding: [{ system: SCT, code: '47625008' }] };
export const ORAL = { coding: [{ system: SCT, code: '26643006' }] };

export const PSEUDONYM = 'p-0001';
/** The screening date of every vignette unless said otherwise. */
export const AS_OF = new Date('2024-06-10T09:30:00Z');
export const criteria = loadEligibilityCriteria();

let counter = 0;
const nextId = (prefix: string): string => `${prefix}-${++counter}`;
const subject = { reference: `Patient/${PSEUDONYM}` };

/**
 * @param n - Days before the screening date (negative: after).
 * @param from - The reference date (`YYYY-MM-DD`), default the screening date.
 * @returns `YYYY-MM-DD`.
 */
export function daysBefore(n: number, from = '2024-06-10'): string {
  const d = new Date(`${from}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - n);
  return d.toISOString().slice(0, 10);
}

export const cc = (system: string, code: string, display?: string): CodeableConcept => ({ coding: [{ system, code, ...(display ? { display } : {}) }] });

export function patient(birthDate: string | null = '1990-01-15'): Patient {
  return { resourceType: 'Patient', id: PSEUDONYM, gender: 'female', ...(birthDate ? { birthDate } : {}) };
}

export interface ConditionOptions {
  onset?: string;
  abatement?: string;
  recorded?: string;
  clinicalStatus?: string;
  verification?: string;
}

export function condition(system: string, code: string, o: ConditionOptions = {}): Condition {
  return {
    resourceType: 'Condition',
    id: nextId('cond'),
    subject,
    code: cc(system, code),
    ...(o.clinicalStatus ? { clinicalStatus: cc('http://terminology.hl7.org/CodeSystem/condition-clinical', o.clinicalStatus) } : {}),
    ...(o.verification ? { verificationStatus: cc('http://terminology.hl7.org/CodeSystem/condition-ver-status', o.verification) } : {}),
    ...(o.onset ? { onsetDateTime: o.onset } : {}),
    ...(o.abatement ? { abatementDateTime: o.abatement } : {}),
    ...(o.recorded ? { recordedDate: o.recorded } : {}),
  };
}

export interface ObservationOptions {
  date?: string;
  quantity?: Quantity;
  integer?: number;
  concept?: CodeableConcept;
  interpretation?: string;
  string?: string;
  profile?: string;
  high?: number;
}

export function observation(system: string, code: string, o: ObservationOptions = {}): Observation {
  return {
    resourceType: 'Observation',
    id: nextId('obs'),
    status: 'final',
    subject,
    code: cc(system, code),
    ...(o.profile ? { meta: { profile: [o.profile] } } : {}),
    ...(o.date ? { effectiveDateTime: o.date } : {}),
    ...(o.quantity ? { valueQuantity: o.quantity } : {}),
    ...(o.integer !== undefined ? { valueInteger: o.integer } : {}),
    ...(o.concept ? { valueCodeableConcept: o.concept } : {}),
    ...(o.string ? { valueString: o.string } : {}),
    ...(o.interpretation ? { interpretation: [cc(INTERP, o.interpretation)] } : {}),
    ...(o.high !== undefined ? { referenceRange: [{ high: { value: o.high } }] } : {}),
  };
}

export const quantity = (value: number, code: string, comparator?: Quantity['comparator']): Quantity => ({
  value,
  unit: code,
  system: UCUM,
  code,
  ...(comparator ? { comparator } : {}),
});

export const sledai = (total: number, date: string, derived = true): Observation =>
  observation(`${BASE}/CodeSystem/sledai-2k`, 'total', { date, integer: total, ...(derived ? { profile: `${BASE}/StructureDefinition/sledai-2k-score` } : {}) });

export const lab = (loinc: string, value: number, unit: string, date = daysBefore(10), comparator?: Quantity['comparator']): Observation =>
  observation(LOINC, loinc, { date, quantity: quantity(value, unit, comparator) });

export const serology = (loinc: string, result: 'NEG' | 'POS' | 'IND', date = daysBefore(10)): Observation =>
  observation(LOINC, loinc, { date, interpretation: result });

export interface MedicationOptions {
  start?: string;
  end?: string;
  status?: string;
  route?: CodeableConcept;
  reason?: CodeableConcept;
  display?: string;
}

export function medicationStatement(rxnorm: string, o: MedicationOptions = {}): MedicationStatement {
  return {
    resourceType: 'MedicationStatement',
    id: nextId('ms'),
    status: (o.status ?? 'active') as MedicationStatement['status'],
    subject,
    medicationCodeableConcept: cc(RXNORM, rxnorm, o.display),
    ...(o.start || o.end ? { effectivePeriod: { ...(o.start ? { start: o.start } : {}), ...(o.end ? { end: o.end } : {}) } } : {}),
    ...(o.route ? { dosage: [{ route: o.route }] } : {}),
    ...(o.reason ? { reasonCode: [o.reason] } : {}),
  };
}

export function medicationRequest(rxnorm: string, o: MedicationOptions = {}): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id: nextId('mr'),
    status: (o.status ?? 'active') as MedicationRequest['status'],
    intent: 'order',
    subject,
    medicationCodeableConcept: cc(RXNORM, rxnorm, o.display),
    ...(o.start ? { authoredOn: o.start } : {}),
    ...(o.route ? { dosageInstruction: [{ route: o.route }] } : {}),
    ...(o.reason ? { reasonCode: [o.reason] } : {}),
  };
}

export function administration(rxnorm: string, o: MedicationOptions = {}): MedicationAdministration {
  return {
    resourceType: 'MedicationAdministration',
    id: nextId('ma'),
    status: (o.status ?? 'completed') as MedicationAdministration['status'],
    subject,
    medicationCodeableConcept: cc(RXNORM, rxnorm, o.display),
    ...(o.start ? { effectiveDateTime: o.start } : {}),
    ...(o.route ? { dosage: { route: o.route } } : {}),
    ...(o.reason ? { reasonCode: [o.reason] } : {}),
  };
}

export function encounter(o: { cls?: string; start: string; end?: string; reason?: CodeableConcept; reasonRef?: string }): Encounter {
  return {
    resourceType: 'Encounter',
    id: nextId('enc'),
    status: 'finished',
    class: { system: ACT, code: o.cls ?? 'IMP' },
    subject,
    period: { start: o.start, ...(o.end ? { end: o.end } : {}) },
    ...(o.reason ? { reasonCode: [o.reason] } : {}),
    ...(o.reasonRef ? { reasonReference: [{ reference: o.reasonRef }] } : {}),
  };
}

export function allergy(o: {
  code?: CodeableConcept;
  type?: 'allergy' | 'intolerance';
  manifestation?: CodeableConcept;
  category?: AllergyIntolerance['category'];
  criticality?: AllergyIntolerance['criticality'];
}): AllergyIntolerance {
  return {
    resourceType: 'AllergyIntolerance',
    id: nextId('ai'),
    patient: subject,
    ...(o.type ? { type: o.type } : {}),
    ...(o.category ? { category: o.category } : {}),
    ...(o.criticality ? { criticality: o.criticality } : {}),
    ...(o.code ? { code: o.code } : {}),
    ...(o.manifestation ? { reaction: [{ manifestation: [o.manifestation] }] } : {}),
  };
}

export function decision(date: string, decided: readonly (readonly [string, 'met' | 'not-met'])[]): Observation {
  return {
    resourceType: 'Observation',
    id: nextId('dec'),
    status: 'final',
    subject,
    code: cc(STUDY, 'investigator-decision'),
    effectiveDateTime: date,
    component: decided.map(([criterion, value]) => ({ code: cc(STUDY, criterion), valueCodeableConcept: cc(STUDY, value) })),
  };
}

/** Hydroxychloroquine since 2020 (antimalarial: prior therapy for the refractory rule). */
export const HCQ = '5521';

/**
 * A record that meets every coded criterion: adult, coded SLE, SLEDAI-2K 8 this week, on
 * hydroxychloroquine, normal IgG and IgA, negative HIV and hepatitis tests. Only the
 * investigator-judgement parts stay under review.
 * @returns The resources.
 */
export function baseline(): Resource[] {
  return [
    patient(),
    condition(SCT, '55464009', { onset: '2019-03-01', clinicalStatus: 'active' }),
    sledai(8, daysBefore(3)),
    medicationStatement(HCQ, { start: '2020-01-01', route: ORAL }),
    lab('2465-3', 1100, 'mg/dL'),
    lab('2458-8', 180, 'mg/dL'),
    serology('56888-1', 'NEG'),
    serology('5196-1', 'NEG'),
    serology('16933-4', 'NEG'),
    serology('16128-1', 'NEG'),
  ];
}

/** Every criterion the investigator settles for a baseline patient. */
export const INVESTIGATOR_PARTS = ['incl-sle-diagnosis', 'excl-suicide-risk', 'excl-lab-abnormality', 'excl-intercurrent-illness'] as const;

/**
 * @param resources - The patient's resources.
 * @param asOf - The screening date.
 * @returns The screening result.
 */
export function screen(resources: readonly Resource[], asOf: Date = AS_OF): ScreeningResult {
  return screenPatient({ base: BASE, patient: PSEUDONYM, resources, asOf }, criteria);
}

/**
 * @param resources - The patient's resources.
 * @param code - A criterion code.
 * @param asOf - The screening date.
 * @returns That criterion's result.
 */
export function criterion(resources: readonly Resource[], code: string, asOf: Date = AS_OF): CriterionResult {
  const found = screen(resources, asOf).criteria.find((c) => c.code === code);
  if (!found) {
    throw new Error(`No criterion ${code}`);
  }
  return found;
}

/**
 * @param resources - The patient's resources.
 * @param code - A criterion code.
 * @param asOf - The screening date.
 * @returns That criterion's state.
 */
export const stateOf = (resources: readonly Resource[], code: string, asOf: Date = AS_OF): string => criterion(resources, code, asOf).state;
