import type { ResourceType } from '@medplum/fhirtypes';

/**
 * Types the ingest maps from the EHR into study resources. ResearchSubject is the study's own
 * workflow (enrolment, withdrawal, completion) as the EHR or the coordinator records it; only this
 * study's is stored (matched by its NCT identifier).
 */
export const MAPPED_TYPES = [
  'Patient',
  'Observation',
  'Condition',
  'Encounter',
  'AllergyIntolerance',
  'MedicationAdministration',
  'MedicationRequest',
  'MedicationStatement',
  'ResearchSubject',
] as const satisfies readonly ResourceType[];

/** A subject's record: what screening, derivation and prediction read (the screen also writes the ResearchSubject). */
export const SUBJECT_TYPES = MAPPED_TYPES;

/** Types held in the study store and served with read, vread, history and search. */
export const STORE_TYPES = [...SUBJECT_TYPES, 'Provenance', 'Communication', 'AuditEvent', 'Task'] as const satisfies readonly ResourceType[];
