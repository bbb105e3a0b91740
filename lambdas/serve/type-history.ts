import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { ResourceType } from '@medplum/fhirtypes';
import { DeadlineExceededError, type Deadline } from '../commons/http/deadline.js';
import type { StoredResource, StudyStore } from '../commons/store/port.js';

/** The parameters of a type- or system-level history (FHIR R4 http.html#history). */
export interface HistoryQuery {
  /** Only versions last updated at or after this instant. */
  readonly since?: string;
  /** Page size. */
  readonly count: number;
  /** Cursor: versions strictly older than this position (`{lastUpdated}|{Type}/{id}/{versionId}`). */
  readonly before?: string;
}

/** The versions of one history page, newest first, and the cursor of the next page. */
export interface HistoryPage {
  readonly versions: StoredResource[];
  readonly next?: string;
}

/**
 * The versions of every resource of some types, newest first (R4: "oldest versions last"), built from
 * what the store already keeps: the current versions updated since `_since` (its lastUpdated index),
 * then each one's history. A resource whose current version is older than `_since` has no version
 * after it, so nothing is missed. The work is bounded: past `maxResources` current resources the
 * client is asked to narrow with `_since` (400) instead of the layer reading without end; the deadline
 * is checked between store calls.
 * @param types - The types (one for `[type]/_history`, every stored type for `/_history`).
 * @param query - `_since`, `_count`, the cursor.
 * @param store - The study store.
 * @param maxResources - The most current resources one page may look at.
 * @param deadline - The request's deadline.
 * @returns The page.
 */
export async function typeHistory(
  types: readonly ResourceType[],
  query: HistoryQuery,
  store: StudyStore,
  maxResources: number,
  deadline: Deadline,
): Promise<HistoryPage> {
  const current: StoredResource[] = [];
  for (const resourceType of types) {
    let cursor: string | undefined;
    do {
      const page = await store.search({ resourceType, count: 1000, ...(query.since ? { lastUpdated: { ge: query.since } } : {}), ...(cursor ? { cursor } : {}) });
      current.push(...page.resources);
      if (current.length > maxResources) {
        throw new OperationOutcomeError(badRequest(`More than ${maxResources} resources changed in this history: narrow it with _since`, '_since'));
      }
      if (deadline.remaining() <= 0) throw new DeadlineExceededError();
      cursor = page.next;
    } while (cursor);
  }
  const versions: StoredResource[] = [];
  for (const resource of current) {
    // A first version is its own whole history: no read for it.
    const all = resource.meta.versionId === '1' ? [resource] : await store.history(resource.resourceType, resource.id);
    versions.push(...all.filter((v) => (query.since === undefined || v.meta.lastUpdated >= query.since) && (query.before === undefined || positionOf(v) < query.before)));
    if (deadline.remaining() <= 0) throw new DeadlineExceededError();
  }
  versions.sort((a, b) => (positionOf(a) < positionOf(b) ? 1 : positionOf(a) > positionOf(b) ? -1 : 0));
  const page = versions.slice(0, query.count);
  const last = page.at(-1);
  return { versions: page, ...(versions.length > query.count && last ? { next: positionOf(last) } : {}) };
}

/** A version's place in the order of a history: its instant, then its identity, so ties order the same way every time. */
function positionOf(version: StoredResource): string {
  return `${version.meta.lastUpdated}|${version.resourceType}/${version.id}/${version.meta.versionId}`;
}
