import type { Resource, ResourceType } from '@medplum/fhirtypes';
import { indexFacts } from './store/index-keys.js';
import type { StoredResource, StudyStore } from './store/port.js';
import { SUBJECT_TYPES } from './study-types.js';

const PAGE = 1000;

/**
 * Every stored resource of one subject (its patient compartment): one read of the subject's
 * partition where the store keeps one (`loadSubject`), otherwise indexed queries by patient per type.
 * @param store - The study store.
 * @param patient - The pseudonym.
 * @param types - Which types to read.
 * @returns The resources, current versions only.
 */
export async function loadSubjectRecords(store: StudyStore, patient: string, types: readonly ResourceType[] = SUBJECT_TYPES): Promise<StoredResource[]> {
  if (store.loadSubject) {
    // The order the per-type searches give: by type as asked, then by clinical date and id (the patient index's sort key).
    const rank = new Map<string, number>(types.map((t, i) => [t, i]));
    const keyed = (await store.loadSubject(patient))
      .filter((r) => rank.has(r.resourceType))
      .map((r) => ({ r, rank: rank.get(r.resourceType) ?? 0, key: `${indexFacts(r).date ?? ''}#${r.id}` }));
    keyed.sort((a, b) => a.rank - b.rank || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return keyed.map((k) => k.r);
  }
  const pages = await Promise.all(types.map((resourceType) => allPages(store, resourceType, patient)));
  return pages.flat();
}

async function allPages(store: StudyStore, resourceType: ResourceType, patient?: string): Promise<StoredResource[]> {
  const out: StoredResource[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.search({ resourceType, ...(patient ? { patient } : {}), count: PAGE, ...(cursor ? { cursor } : {}) });
    out.push(...page.resources);
    cursor = page.next;
  } while (cursor);
  return out;
}

/**
 * Every Patient id in the store, page by page (the cohort of the model fit, the analysis dataset).
 * @param store - The study store.
 * @returns The pseudonyms, sorted.
 */
export async function allPatientIds(store: StudyStore): Promise<string[]> {
  return (await allPages(store, 'Patient')).map((r) => r.id).sort();
}

/**
 * Whether a resource claims one of the given profiles (by canonical URL).
 * @param resource - A resource.
 * @param profiles - Profile URLs.
 * @returns True when it does.
 */
export function hasProfile(resource: Resource, profiles: ReadonlySet<string>): boolean {
  return (resource.meta?.profile ?? []).some((p) => profiles.has(p));
}
