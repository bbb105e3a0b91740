/**
 * The cohort the model is fitted on and reported against: every subject's features at the model's
 * timepoint and its week-48 SRI-4 endpoint, read through a small port so the same code runs over the
 * study store (consumers, tests) and over the FHIR API of a running layer (the scripts).
 */
import type { Bundle, Observation, Resource, ResourceType } from '@medplum/fhirtypes';
import { resolveSystem, studyUrls, visitCodeOf } from '../../derive/core/fhir-access.js';
import type { StudyStore } from '../../commons/store/port.js';
import { allPatientIds, loadSubjectRecords } from '../../commons/subject-records.js';
import { SUBJECT_TYPES } from '../../commons/study-types.js';
import { assembleFeatures, type FeatureAssembly } from './features.js';
import type { PredictionModel } from './model-spec.js';

/** The types of a subject's study record read over REST (the store's patient compartment, as loadSubjectRecords reads it). */
export const COHORT_TYPES: readonly ResourceType[] = SUBJECT_TYPES;

/** Where subjects and their records are read from. */
export interface CohortSource {
  /** Every subject's pseudonym, sorted. */
  subjects(): Promise<string[]>;
  /** The subject's resources (current versions). */
  records(subject: string): Promise<Resource[]>;
}

/**
 * A cohort source over the study store port.
 * @param store - The store.
 * @returns The source.
 */
export function storeCohortSource(store: StudyStore): CohortSource {
  return {
    subjects: () => allPatientIds(store),
    records: (subject) => loadSubjectRecords(store, subject),
  };
}

/** How to reach a running layer's FHIR API. */
export interface FhirRestOptions {
  /** e.g. `http://127.0.0.1:8080/fhir`. */
  readonly baseUrl: string;
  /** A bearer token with `system/*.rs`. */
  readonly token: string;
  readonly fetch?: typeof fetch;
  readonly types?: readonly ResourceType[];
}

/**
 * A cohort source over the FHIR REST API (search with `_count=1000`, following `next` links).
 * @param options - URL, token and fetch.
 * @returns The source.
 */
export function fhirRestCohortSource(options: FhirRestOptions): CohortSource {
  const doFetch = options.fetch ?? fetch;
  const root = options.baseUrl.replace(/\/+$/, '');
  const all = async (path: string): Promise<Resource[]> => {
    const out: Resource[] = [];
    let url: string | undefined = `${root}/${path}`;
    while (url) {
      const res = await doFetch(url, { headers: { authorization: `Bearer ${options.token}`, accept: 'application/fhir+json' } });
      if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
      const bundle = (await res.json()) as Bundle;
      out.push(...(bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])));
      url = bundle.link?.find((l) => l.relation === 'next')?.url;
    }
    return out;
  };
  return {
    async subjects() {
      return (await all('Patient?_count=1000')).map((p) => p.id as string).sort();
    },
    async records(subject) {
      const types = options.types ?? COHORT_TYPES;
      const pages = await Promise.all(
        types.map((t) => all(t === 'Patient' ? `Patient?_id=${encodeURIComponent(subject)}` : `${t}?patient=${encodeURIComponent(subject)}&_count=1000`)),
      );
      return pages.flat();
    },
  };
}

/** The endpoint of one subject: 1 event, 0 non-event, null not evaluable, undefined not reached yet. */
export type Endpoint = 0 | 1 | null | undefined;

/**
 * The model's outcome for a subject (by default SRI-4 at week 48, the primary endpoint).
 * @param records - The subject's resources.
 * @param model - The model (its outcome).
 * @param base - Canonical base.
 * @returns 1, 0, null (not evaluable) or undefined (no result yet).
 */
export function endpointOf(records: readonly Resource[], model: PredictionModel, base: string): Endpoint {
  const urls = studyUrls(base);
  const profile = urls.structureDefinition(model.outcome.profile);
  const system = resolveSystem(model.outcome.code.system, urls);
  const found = records.find(
    (r): r is Observation =>
      r.resourceType === 'Observation' &&
      (r.meta?.profile ?? []).includes(profile) &&
      !!r.code.coding?.some((c) => c.system === system && c.code === model.outcome.code.code) &&
      visitCodeOf(r, urls) === model.outcome.visit &&
      r.status !== 'entered-in-error',
  );
  if (!found) return undefined;
  const code = found.valueCodeableConcept?.coding?.find((c) => c.system === urls.assessments)?.code;
  return code === model.outcome.event ? 1 : code === model.outcome.nonEvent ? 0 : null;
}

/** One subject of the cohort. */
export interface CohortSubject {
  readonly subject: string;
  readonly records: readonly Resource[];
  readonly features: FeatureAssembly;
  readonly endpoint: Endpoint;
}

/**
 * Reads the cohort: every subject's records, features and endpoint, sorted by pseudonym.
 * @param source - Where to read.
 * @param model - The model whose features and outcome are wanted.
 * @param options - Canonical base, time, and how many subjects to read at once.
 * @returns The subjects.
 */
export async function readCohort(
  source: CohortSource,
  model: PredictionModel,
  options: { readonly base: string; readonly asOf: Date; readonly concurrency?: number },
): Promise<CohortSubject[]> {
  const subjects = await source.subjects();
  const out: CohortSubject[] = new Array<CohortSubject>(subjects.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < subjects.length) {
      const i = next++;
      const subject = subjects[i] as string;
      const records = await source.records(subject);
      out[i] = {
        subject,
        records,
        features: assembleFeatures({ base: options.base, subject, resources: records, asOf: options.asOf }, model),
        endpoint: endpointOf(records, model, options.base),
      };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  return out;
}
