import type { ResourceType } from '@medplum/fhirtypes';

/** Types the ingest maps from the EHR into study resources. */
export const MAPPED_TYPES = [
  'Patient',
  'Observation',
  'Condition',
  'Encounter',
  'AllergyIntolerance',
  'MedicationAdministration',
  'MedicationRequest',
  'MedicationStatement',
] as const satisfies readonly ResourceType[];

/** A subject's record: what screening, derivation and prediction read. */
export const SUBJECT_TYPES = [...MAPPED_TYPES, 'ResearchSubject'] as const satisfies readonly ResourceType[];

/** Types held in the study store and served with read, vread, history and search. */
export const STORE_TYPES = [...SUBJECT_TYPES, 'Provenance', 'Communication', 'AuditEvent'] as const satisfies readonly ResourceType[];
