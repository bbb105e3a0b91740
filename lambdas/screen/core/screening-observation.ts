import type { Extension, Observation, ObservationComponent, ResearchSubject } from '@medplum/fhirtypes';
import { deterministicId } from '../../commons/ids.js';
import { researchSubjectId } from '../../commons/study-ids.js';
import type { OverallState, ScreeningResult } from './screen.js';

export { researchSubjectId };

/** The code of the screening Observation in the study-assessments CodeSystem. */
export const ELIGIBILITY_SCREENING = 'eligibility-screening';

/** Extension on a screening component: one reference per resource that decided the criterion. */
export const EVIDENCE_EXTENSION = 'eligibility-evidence';

/** Extension on a screening component: the reason text (rule wording only, no patient data). */
export const REASON_EXTENSION = 'eligibility-reason';

/**
 * The id of the patient's screening Observation: one per patient, so a re-screen is a new version.
 * @param pseudonym - The study Patient id.
 * @returns The Observation id.
 */
export function screeningObservationId(pseudonym: string): string {
  return deterministicId('Observation', ELIGIBILITY_SCREENING, pseudonym);
}

/**
 * The R4 ResearchSubject.status for an overall screening state.
 * @param overall - The overall state.
 * @returns `eligible`, `potential-candidate` or `ineligible`.
 */
export function researchSubjectStatus(overall: OverallState): Extract<ResearchSubject['status'], 'eligible' | 'potential-candidate' | 'ineligible'> {
  switch (overall) {
    case 'eligible':
      return 'eligible';
    case 'candidate':
      return 'potential-candidate';
    case 'ineligible':
      return 'ineligible';
  }
}

/**
 * The `eligibility-screening` Observation of a screening result: value = overall state, one
 * component per criterion (value = its state, extensions = its evidence and reason), focus = the
 * patient's ResearchSubject, effective = the screening day, study visit = `screening`. Deterministic: the same result gives the
 * same resource.
 * @param result - The screening result.
 * @param base - The study's canonical base.
 * @returns The Observation.
 */
export function toScreeningObservation(result: ScreeningResult, base: string): Observation & { id: string } {
  const system = `${base}/CodeSystem/study-assessments`;
  const coding = (code: string): Observation['code'] => ({ coding: [{ system, code }] });
  const component = result.criteria.map((c): ObservationComponent => {
    const extension: Extension[] = [
      ...c.evidence.map((reference) => ({ url: `${base}/StructureDefinition/${EVIDENCE_EXTENSION}`, valueReference: { reference } })),
      { url: `${base}/StructureDefinition/${REASON_EXTENSION}`, valueString: c.reason },
    ];
    return { extension, code: coding(c.code), valueCodeableConcept: coding(c.state) };
  });
  return {
    resourceType: 'Observation',
    id: screeningObservationId(result.patient),
    meta: { profile: [`${base}/StructureDefinition/eligibility-screening`] },
    extension: [{ url: `${base}/StructureDefinition/study-visit`, valueCoding: { system: `${base}/CodeSystem/study-visit`, code: 'screening' } }],
    status: 'final',
    code: coding(ELIGIBILITY_SCREENING),
    subject: { reference: `Patient/${result.patient}` },
    focus: [{ reference: `ResearchSubject/${researchSubjectId(result.patient)}` }],
    effectiveDateTime: result.asOf,
    valueCodeableConcept: coding(result.overall),
    component,
  };
}
