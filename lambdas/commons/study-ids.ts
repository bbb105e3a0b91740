import { deterministicId } from './ids.js';

/** The study's registry identifier: ResearchSubjects of other studies are not this study's data. */
export const STUDY_NCT = 'NCT04893161';

/** The id of the study's ResearchStudy (fhir-profiles/ResearchStudy/nct04893161.json). */
export const STUDY_RESOURCE_ID = 'nct04893161';

/**
 * The id of the patient's ResearchSubject in this study: a pure function of the pseudonym, so that
 * every writer (the screen, the ingest of the EHR's ResearchSubject) derives the same one and the
 * study's own status and the screen's land on one resource.
 * @param pseudonym - The study Patient id.
 * @returns The ResearchSubject id.
 */
export function researchSubjectId(pseudonym: string): string {
  return deterministicId('ResearchSubject', STUDY_NCT, pseudonym);
}
