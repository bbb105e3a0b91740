import type { Resource } from '@medplum/fhirtypes';
import { dayOf, formatNumber, wordsOf } from '../study.js';

/** One piece of evidence as the worklist shows it: what, the value with its unit, and the date. */
export interface EvidenceView {
  readonly reference: string;
  readonly what: string;
  readonly value: string;
  readonly date: string;
}

/**
 * The value, unit and date of a record that decided a criterion.
 * @param reference - `Type/id`.
 * @param resource - The record, or undefined when the role may not read it.
 * @returns The view.
 */
export function evidenceView(reference: string, resource: Resource | undefined): EvidenceView {
  const type = reference.split('/')[0] ?? '';
  if (!resource) return { reference, what: type, value: 'not readable by your role', date: '—' };
  switch (resource.resourceType) {
    case 'Observation': {
      const q = resource.valueQuantity;
      const value = q
        ? `${q.comparator ?? ''}${formatNumber(q.value)} ${q.unit ?? q.code ?? ''}`.trim()
        : resource.valueInteger !== undefined
          ? String(resource.valueInteger)
          : resource.valueCodeableConcept
            ? wordsOf(resource.valueCodeableConcept)
            : (resource.valueString ?? (resource.valueBoolean !== undefined ? String(resource.valueBoolean) : '—'));
      return { reference, what: wordsOf(resource.code), value, date: dayOf(resource) ?? '—' };
    }
    case 'Condition':
      return { reference, what: 'Condition', value: wordsOf(resource.code), date: (resource.onsetDateTime ?? resource.recordedDate ?? '—').slice(0, 10) };
    case 'Patient':
      return { reference, what: 'Patient', value: resource.birthDate ? `born ${resource.birthDate}` : '—', date: resource.birthDate ?? '—' };
    case 'AllergyIntolerance':
      return { reference, what: 'Allergy or intolerance', value: wordsOf(resource.code), date: (resource.recordedDate ?? '—').slice(0, 10) };
    case 'MedicationStatement':
    case 'MedicationRequest':
    case 'MedicationAdministration': {
      const date =
        resource.resourceType === 'MedicationRequest'
          ? resource.authoredOn
          : resource.resourceType === 'MedicationStatement'
            ? (resource.effectivePeriod?.start ?? resource.effectiveDateTime ?? resource.dateAsserted)
            : (resource.effectiveDateTime ?? resource.effectivePeriod?.start);
      return { reference, what: resource.resourceType.replace('Medication', 'Medication '), value: wordsOf(resource.medicationCodeableConcept), date: (date ?? '—').slice(0, 10) };
    }
    case 'Encounter':
      return { reference, what: 'Encounter', value: wordsOf(resource.type?.[0]), date: (resource.period?.start ?? '—').slice(0, 10) };
    default:
      return { reference, what: resource.resourceType, value: '—', date: '—' };
  }
}
