import type { Resource } from '@medplum/fhirtypes';

// Valid study resources, one or more per profile. Codes and rules cite shared/reference/*.md.
export const BASE = 'https://belimumab-sle.example.org/fhir';
export const LOINC = 'http://loinc.org';
export const UCUM = 'http://unitsofmeasure.org';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const SNOMED = 'http://snomed.info/sct';
export const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
export const cs = (id: string): string => `${BASE}/CodeSystem/${id}`;
export const profileUrl = (id: string): string => `${BASE}/StructureDefinition/${id}`;

const provenance = { meta: { source: 'urn:hospital:lis#msg-0001' }, identifier: [{ system: 'urn:hospital:lis', value: 'rec-0001' }] };
const subject = { subject: { reference: 'Patient/subj-001' } };
const visit = (code: string): Record<string, unknown> => ({ url: profileUrl('study-visit'), valueCoding: { system: cs('study-visit'), code } });
const day = (n: number): Record<string, unknown> => ({ url: profileUrl('study-day'), valueInteger: n });
const quantity = (value: number, code: string): Record<string, unknown> => ({ value, unit: code, system: UCUM, code });
const concept = (system: string, code: string): Record<string, unknown> => ({ coding: [{ system, code }] });

const observation = (code: Record<string, unknown>, value: Record<string, unknown>, extra: Record<string, unknown> = {}): Resource =>
  ({ resourceType: 'Observation', ...provenance, status: 'final', code, ...subject, effectiveDateTime: '2024-06-15T09:30:00+08:00', ...value, ...extra }) as unknown as Resource;

/** Valid samples by profile id (a profile may have several, e.g. each kind of disease-activity value). */
export const VALID: Record<string, Resource[]> = {
  // sledai-2k.md §4: platelets 777-3 in 10*3/uL, after conversion from 10*9/L (kept in original-quantity).
  'study-lab-observation': [
    observation(concept(LOINC, '777-3'), { valueQuantity: quantity(85, '10*3/uL') }, {
      extension: [visit('week-2'), day(14), { url: profileUrl('original-quantity'), valueQuantity: { value: 85, unit: '10^9/L' } }],
    }),
    // eligibility-codes.md E-12: HBsAg presence as a coded result.
    observation(concept(LOINC, '5196-1'), { valueCodeableConcept: concept(SNOMED, '260385009') }),
    observation(concept(LOINC, '13945-1'), { valueString: '5-10' }),
    observation(concept(cs('study-lab'), 'baff'), { valueQuantity: quantity(1.2, 'ng/mL') }),
  ],
  'study-bcell-observation': [
    observation(concept(cs('b-cell-phenotypes'), 'non-switched-memory-b'), { valueQuantity: quantity(8.5, '%') }),
    observation(concept(LOINC, '8116-6'), { valueQuantity: quantity(120, '/uL') }),
  ],
  // sledai-2k.md §2 descriptors (boolean) and total (integer); response-indices.md §4 (BILAG) and §5 (PGA).
  'study-disease-activity-observation': [
    observation(concept(cs('sledai-2k'), 'arthritis'), { valueBoolean: true }),
    observation(concept(cs('sledai-2k'), 'total'), { valueInteger: 12 }),
    observation(concept(cs('bilag-2004'), 'renal'), { valueCodeableConcept: concept(cs('bilag-2004'), 'B') }),
    observation(concept(cs('study-assessments'), 'pga'), { valueQuantity: quantity(1.25, '{score}') }),
    observation(concept(cs('study-assessments'), 'incl-sle-diagnosis'), { valueCodeableConcept: concept(cs('study-assessments'), 'met') }),
  ],
  'study-vital-sign-observation': [
    observation(concept(LOINC, '8310-5'), { valueQuantity: quantity(38.4, 'Cel') }),
    observation(concept(LOINC, '29463-7'), { valueQuantity: quantity(58, 'kg') }),
  ],
  'study-medication-administration': [
    {
      resourceType: 'MedicationAdministration',
      ...provenance,
      extension: [visit('week-0'), day(0), { url: profileUrl('belimumab-dose-per-kg'), valueQuantity: quantity(10, 'mg/kg') }],
      status: 'completed',
      medicationCodeableConcept: concept(RXNORM, '1092437'),
      ...subject,
      effectivePeriod: { start: '2024-06-01T09:00:00+08:00', end: '2024-06-01T10:00:00+08:00' },
      dosage: { route: concept(SNOMED, '47625008'), dose: quantity(580, 'mg') },
    } as unknown as Resource,
  ],
  'study-medication-request': [
    { resourceType: 'MedicationRequest', ...provenance, status: 'active', intent: 'order', medicationCodeableConcept: { coding: [{ system: RXNORM, code: '312615' }, { system: RXNORM, code: '8640' }] }, ...subject, authoredOn: '2023-01-10' } as unknown as Resource,
  ],
  'study-medication-statement': [
    { resourceType: 'MedicationStatement', ...provenance, status: 'active', medicationCodeableConcept: concept(RXNORM, '5521'), ...subject, effectiveDateTime: '2023-05-01' } as unknown as Resource,
  ],
  'study-condition': [
    { resourceType: 'Condition', ...provenance, code: concept(SNOMED, '55464009'), ...subject, onsetDateTime: '2019-03-01' } as unknown as Resource,
    { resourceType: 'Condition', ...provenance, code: concept(ICD10, 'C50.911'), ...subject, onsetDateTime: '2021-03-01' } as unknown as Resource,
  ],
  'study-allergy-intolerance': [
    { resourceType: 'AllergyIntolerance', ...provenance, clinicalStatus: concept('http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', 'active'), type: 'intolerance', code: concept(RXNORM, '5521'), patient: { reference: 'Patient/subj-001' } } as unknown as Resource,
  ],
  'study-encounter': [
    { resourceType: 'Encounter', ...provenance, status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }, ...subject, period: { start: '2024-05-01', end: '2024-05-05' } } as unknown as Resource,
  ],
  'study-patient': [
    { resourceType: 'Patient', meta: { source: 'urn:study:pseudonymiser' }, identifier: [{ system: `${BASE}/sid/study-subject`, value: 'subj-001' }], gender: 'female', birthDate: '1990-04' } as unknown as Resource,
  ],
  'study-research-subject': [
    {
      resourceType: 'ResearchSubject',
      meta: { source: 'urn:belimumab-sle:source:hospital-ehr' },
      identifier: [{ system: `${BASE}/sid/study-subject`, value: 'subj-001' }],
      status: 'withdrawn',
      period: { start: '2024-05-01', end: '2024-11-20' },
      study: { reference: 'ResearchStudy/nct04893161' },
      individual: { reference: 'Patient/subj-001' },
    } as unknown as Resource,
  ],
  'sledai-2k-score': [
    observation(concept(cs('sledai-2k'), 'total'), { valueInteger: 8 }, {
      meta: undefined,
      identifier: undefined,
      extension: [visit('week-0')],
      effectiveDateTime: undefined,
      effectivePeriod: { start: '2024-05-03', end: '2024-06-01' },
      hasMember: [{ reference: 'Observation/arthritis-1' }],
    }),
  ],
  'sri4-response': [
    observation(concept(cs('study-assessments'), 'sri4'), { valueCodeableConcept: concept(cs('study-assessments'), 'responder') }, {
      meta: undefined,
      identifier: undefined,
      extension: [visit('week-48')],
      component: [{ code: concept(cs('study-assessments'), 'sledai-2k-reduction'), valueInteger: 6 }],
    }),
  ],
  'response-prediction': [
    observation(concept(cs('study-assessments'), 'response-prediction'), { valueCodeableConcept: concept(cs('study-assessments'), 'likely-responder') }, {
      meta: undefined,
      identifier: undefined,
      extension: [visit('week-12')],
      method: { text: 'logistic-regression v1' },
      component: [{ code: concept(cs('study-assessments'), 'response-probability'), valueQuantity: quantity(0.72, '1') }],
    }),
  ],
  'response-prediction-not-evaluable': [
    observation(concept(cs('study-assessments'), 'response-prediction'), { dataAbsentReason: concept('http://terminology.hl7.org/CodeSystem/data-absent-reason', 'not-performed') }, {
      meta: undefined,
      identifier: undefined,
      extension: [visit('week-12')],
      method: { text: 'logistic-regression v1' },
      component: [
        { code: concept(cs('study-assessments'), 'response-probability'), dataAbsentReason: concept('http://terminology.hl7.org/CodeSystem/data-absent-reason', 'not-applicable') },
      ],
    }),
  ],
  'eligibility-screening': [
    observation(concept(cs('study-assessments'), 'eligibility-screening'), { valueCodeableConcept: concept(cs('study-assessments'), 'candidate') }, {
      meta: undefined,
      identifier: undefined,
      extension: [visit('screening')],
      component: [
        { code: concept(cs('study-assessments'), 'incl-age'), valueCodeableConcept: concept(cs('study-assessments'), 'met') },
        { code: concept(cs('study-assessments'), 'incl-sle-diagnosis'), valueCodeableConcept: concept(cs('study-assessments'), 'review') },
      ],
    }),
  ],
};

/** Drops keys whose value is undefined (the samples use `undefined` to remove a default). */
export function clean<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
