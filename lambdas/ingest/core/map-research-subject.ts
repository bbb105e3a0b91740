import type { Identifier, Reference, ResearchStudy, ResearchSubject } from '@medplum/fhirtypes';
import { researchSubjectId, STUDY_NCT, STUDY_RESOURCE_ID } from '../../commons/study-ids.js';
import { hospitalPatientKey, type MapContext, type MapOutcome } from './map-resource.js';
import { BrokenReferenceError, type SourceKey } from './source.js';

/**
 * Maps the EHR's (or the coordinator's) ResearchSubject for this study to the study's
 * ResearchSubject, so that enrolment, withdrawal (D6) and completion arrive as data.
 *
 * It is this study's when `study` says so by the NCT number: a logical reference whose identifier
 * value is NCT04893161 (any system: the NCT number is unique by itself), a reference to a
 * ResearchStudy in the bundle (or contained) that carries that identifier, or the study's own
 * address in this layer (`ResearchStudy/nct04893161`, relative or under the canonical base). A
 * hospital-local ResearchStudy id that the bundle does not describe cannot be matched and is, like a
 * ResearchSubject of another study, answered as not stored.
 *
 * The result is keyed like the screen's (`researchSubjectId(pseudonym)`), so the study's status
 * lands on the resource the screen keeps, and carries only the pseudonym, status, period, study and
 * study Patient: no arms, consent, hospital identifiers or free text.
 * @param resource - The source ResearchSubject.
 * @param _key - Its source key (the id is the pseudonym's, not the source record's).
 * @param ctx - The mapping context.
 * @returns The study ResearchSubject, or why it is not used.
 */
export function mapResearchSubject(resource: ResearchSubject, _key: SourceKey, ctx: MapContext): MapOutcome {
  if (!isThisStudy(resource.study, resource, ctx)) {
    return { kind: 'unused', reason: `ResearchSubject is not for ${STUDY_NCT} (study not identified by its NCT number)` };
  }
  const profile = ctx.codes.profileFor('ResearchSubject');
  if (!profile) {
    return { kind: 'unused', reason: 'No study profile for ResearchSubject' };
  }
  const individual = ctx.source.resolve(resource.individual);
  const pseudonym = individual?.resourceType === 'Patient' ? ctx.pseudonyms.get(hospitalPatientKey(ctx.source.sourceSystem, individual)) : undefined;
  if (!pseudonym) {
    throw new BrokenReferenceError(`ResearchSubject.individual '${resource.individual?.reference ?? ''}' does not name a patient of the source system`);
  }
  const period = resource.period && {
    ...(resource.period.start ? { start: resource.period.start } : {}),
    ...(resource.period.end ? { end: resource.period.end } : {}),
  };
  const subject: ResearchSubject & { id: string } = {
    resourceType: 'ResearchSubject',
    id: researchSubjectId(pseudonym),
    meta: { source: ctx.source.sourceSystem, profile: [profile] },
    identifier: [{ system: `${ctx.conformance.base}/sid/study-subject`, value: pseudonym }],
    status: resource.status,
    ...(period && Object.keys(period).length > 0 ? { period } : {}),
    study: { reference: `ResearchStudy/${STUDY_RESOURCE_ID}` },
    individual: { reference: `Patient/${pseudonym}` },
  };
  return { kind: 'mapped', resource: subject, patient: pseudonym };
}

function isThisStudy(study: Reference | undefined, container: ResearchSubject, ctx: MapContext): boolean {
  if (!study) {
    return false;
  }
  if (hasNct(study.identifier ? [study.identifier] : undefined)) {
    return true;
  }
  const reference = study.reference;
  if (!reference) {
    return false;
  }
  const own = `ResearchStudy/${STUDY_RESOURCE_ID}`;
  if (reference === own || reference === `${ctx.conformance.base}/${own}`) {
    return true;
  }
  let described: ResearchStudy | undefined;
  try {
    const found = ctx.source.lookup(study, container);
    described = found?.resourceType === 'ResearchStudy' ? found : undefined;
  } catch {
    described = undefined;
  }
  return hasNct(described?.identifier);
}

function hasNct(identifiers: readonly Identifier[] | undefined): boolean {
  return (identifiers ?? []).some((i) => i.value?.trim().toUpperCase() === STUDY_NCT);
}
