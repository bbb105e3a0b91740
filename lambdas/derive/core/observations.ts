import type { CodeableConcept, Extension, Observation, Resource } from '@medplum/fhirtypes';
import { deterministicId } from '../../commons/ids.js';
import type { StudyUrls } from './fhir-access.js';
import type { DerivationRules } from './rules.js';

/** What every derived Observation of one subject shares. */
export interface DerivedContext {
  readonly urls: StudyUrls;
  /** The subject's pseudonym (`Patient/{subject}`). */
  readonly subject: string;
  readonly rules: DerivationRules;
}

/** The visit a derived Observation belongs to. */
export interface VisitRef {
  readonly key: string;
  readonly code: string;
  readonly date?: string;
  readonly studyDay?: number;
}

/** The extension that stores the SLEDAI-2K look-back window with every score (sledai-2k.md §1). */
export const LOOK_BACK_EXTENSION = 'look-back-window';
/** Where a descriptor's presence came from: the clinician's record or the lab rule. */
export const EVIDENCE_SOURCE_EXTENSION = 'sledai-2k-evidence-source';
/** The total the EHR sent for the same visit, kept as sent and compared. */
export const EHR_TOTAL_EXTENSION = 'ehr-reported-total';
/** Evidence that Observation.derivedFrom cannot hold (medication records, the ResearchSubject). */
export const EVIDENCE_EXTENSION = 'derivation-evidence';

const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

/**
 * The id of a derived Observation: a pure function of (subject, visit, kind), so recomputation
 * writes a new version of the same resource instead of a new resource.
 * @param subject - The subject pseudonym.
 * @param visitKey - The visit key (e.g. `week-24`).
 * @param kind - The derivation kind (e.g. `sledai-2k`, `sri4`, `lldas`).
 * @returns A FHIR id.
 */
export function derivedId(subject: string, visitKey: string, kind: string): string {
  return deterministicId('derived-observation', subject, visitKey, kind);
}

/**
 * The common part of a derived Observation: id, profile (when the data names one for the kind), the
 * study-visit and study-day extensions, subject, category, code and the visit date.
 * @param ctx - The subject context.
 * @param visit - The visit.
 * @param kind - The derivation kind.
 * @param code - The Observation code.
 * @returns The Observation without value.
 */
export function derivedHeader(ctx: DerivedContext, visit: VisitRef, kind: string, code: CodeableConcept): Observation {
  const profile = ctx.rules.response.profiles[kind];
  const extension: Extension[] = [
    { url: ctx.urls.visitExtension, valueCoding: { system: ctx.urls.visitSystem, code: visit.code } },
    ...(visit.studyDay === undefined ? [] : [{ url: ctx.urls.dayExtension, valueInteger: visit.studyDay }]),
  ];
  return {
    resourceType: 'Observation',
    id: derivedId(ctx.subject, visit.key, kind),
    ...(profile ? { meta: { profile: [ctx.urls.structureDefinition(profile)] } } : {}),
    extension,
    status: 'final',
    category: [{ coding: [{ system: OBSERVATION_CATEGORY, code: 'survey', display: 'Survey' }] }],
    code,
    subject: { reference: `Patient/${ctx.subject}` },
    ...(visit.date ? { effectiveDateTime: visit.date } : {}),
  };
}

/**
 * A coding in the study-assessments system as a CodeableConcept.
 * @param ctx - The subject context.
 * @param code - The code.
 * @param display - Optional display.
 * @returns The concept.
 */
export function assessmentConcept(ctx: DerivedContext, code: string, display?: string): CodeableConcept {
  return { coding: [{ system: ctx.urls.assessments, code, ...(display ? { display } : {}) }] };
}

/** Resource types that R4 allows in Observation.derivedFrom. */
const DERIVED_FROM_TYPES = new Set(['Observation', 'QuestionnaireResponse', 'DocumentReference', 'ImagingStudy', 'Media', 'MolecularSequence']);

type DerivedFromTarget = NonNullable<Observation['derivedFrom']>[number];

/**
 * Splits evidence into Observation.derivedFrom (the types R4 allows there) and repeated
 * `derivation-evidence` extensions (medication records, ResearchSubject), each unique and sorted so
 * the output does not depend on input order.
 * @param ctx - The subject context.
 * @param derived - Literal references to other derived Observations (e.g. the SLEDAI-2K scores used).
 * @param resources - Evidence resources (duplicates allowed; resources without id are skipped).
 * @returns derivedFrom and extension parts to spread into the Observation.
 */
export function evidenceParts(
  ctx: DerivedContext,
  derived: readonly string[],
  resources: readonly Resource[],
): { derivedFrom: DerivedFromTarget[]; extension: Extension[] } {
  const refs = [...new Set([...derived, ...resources.filter((r) => r.id).map((r) => `${r.resourceType}/${r.id as string}`)])];
  const inDerivedFrom = (ref: string): boolean => DERIVED_FROM_TYPES.has(ref.split('/')[0] ?? '');
  const ordered = [...derived.filter((r, i) => derived.indexOf(r) === i), ...refs.filter((r) => !derived.includes(r)).sort()];
  return {
    derivedFrom: ordered.filter(inDerivedFrom).map((reference) => ({ reference })),
    extension: ordered
      .filter((r) => !inDerivedFrom(r))
      .map((reference) => ({ url: ctx.urls.structureDefinition(EVIDENCE_EXTENSION), valueReference: { reference } })),
  };
}
