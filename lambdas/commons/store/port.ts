import type { Resource, ResourceType } from '@medplum/fhirtypes';

/** How a write changed the store. */
export type WriteStatus = 'created' | 'updated' | 'unchanged';

/** One stored resource as the store answers it: `meta.versionId` and `meta.lastUpdated` are set. */
export type StoredResource<T extends Resource = Resource> = T & { id: string; meta: { versionId: string; lastUpdated: string } };

/** Result of one write: the resource as stored, or the reason the store refused or failed it. */
export type WriteResult =
  | { status: WriteStatus; resource: StoredResource }
  | { status: 'error'; error: Error };

/**
 * A "study data changed" event, written to the outbox in the same commit as the data it describes,
 * so it cannot be lost between commit and publish.
 */
export interface StudyDataChanged {
  /** Deterministic: the same commit and patient give the same id, so consumers can de-duplicate. */
  readonly eventId: string;
  /** The study subject's pseudonymous Patient id. */
  readonly patient: string;
  /** Resource types whose data changed for that patient (for example `Observation`, `MedicationAdministration`). */
  readonly kinds: readonly string[];
  readonly occurredAt: string;
  /**
   * Who made the change: `source` (hospital data, imports, review decisions) or `derived` (the
   * pipeline's own results: scores, screening, predictions). The subject step runs on `source`
   * events only, so a derived result never sends the subject round again; subscribers hear both.
   * Absent means `source`.
   */
  readonly origin?: 'source' | 'derived';
  /** `Type/id` of each resource the commit created or changed, when the writer knows them (notifications name them). */
  readonly changed?: readonly string[];
}

/** A date or instant range; bounds are ISO 8601 strings compared as instants. Inclusive unless `gt`/`lt`. */
export interface DateRange {
  readonly ge?: string;
  readonly gt?: string;
  readonly le?: string;
  readonly lt?: string;
}

/** A search the store answers with indexed queries (never a table scan). All given filters are ANDed. */
export interface StoreQuery {
  readonly resourceType: ResourceType;
  readonly ids?: readonly string[];
  /** Pseudonymous Patient id: the resource's patient compartment (subject/patient reference). */
  readonly patient?: string;
  /** Any of these codings (OR); `system` omitted matches any system. */
  readonly codes?: readonly { readonly system?: string; readonly code: string }[];
  /** Canonical URL in `meta.profile`. */
  readonly profile?: string;
  /** Provenance only: any of these `Type/id` among its `target`s (OR); `_revinclude=Provenance:target`. */
  readonly targets?: readonly string[];
  /** Any of these `status` codes (OR): the resource's own `status` element, a code. */
  readonly statuses?: readonly string[];
  /** Further code sets, each of which a match must also hit (repeated `code` parameters are ANDed); checked per resource. */
  readonly andCodes?: readonly (readonly { readonly system?: string; readonly code: string }[])[];
  /** Further canonical URLs a match must also claim (repeated `_profile`); checked per resource. */
  readonly andProfiles?: readonly string[];
  /** Clinical date of the resource (effective, onset, period start, authoredOn...). */
  readonly date?: DateRange;
  readonly lastUpdated?: DateRange;
  /**
   * The order of the answer, when the caller asks for one (`_sort`): by the clinical date or by
   * lastUpdated, either way. The store answers it only from an index kept in that order (see
   * `indexOrder` in index-keys.ts) and refuses it otherwise; absent, the index's own order, ascending.
   */
  readonly sort?: StoreSort;
  readonly count: number;
  /** Opaque cursor from a previous page's `next`. */
  readonly cursor?: string;
}

/** A sort the store can give: its indexes are ordered by clinical date or by lastUpdated. */
export interface StoreSort {
  readonly by: 'date' | 'lastUpdated';
  readonly descending: boolean;
}

export interface SearchPage {
  readonly resources: StoredResource[];
  /** Present when more results may follow. */
  readonly next?: string;
}

export interface CommitOptions {
  /** `true` for a FHIR transaction: every write lands or none does. `false` for a batch: each write stands alone. */
  readonly atomic: boolean;
  /** Outbox events committed together with the writes (with an atomic commit: only if it commits). */
  readonly events?: readonly StudyDataChanged[];
}

/**
 * The study store. Resources carry their own `id`; the store assigns `meta.versionId` and
 * `meta.lastUpdated`, and keeps every version. A write whose content equals the current version
 * (ignoring `meta.versionId` and `meta.lastUpdated`) makes no new version.
 */
export interface StudyStore {
  commit(resources: readonly (Resource & { id: string })[], options: CommitOptions): Promise<WriteResult[]>;
  read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<StoredResource<T> | undefined>;
  vread<T extends Resource>(resourceType: T['resourceType'], id: string, versionId: string): Promise<StoredResource<T> | undefined>;
  /** Every committed version, newest first. */
  history<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<StoredResource<T>[]>;
  search(query: StoreQuery): Promise<SearchPage>;
  /**
   * The number of resources `search` would return over all its pages (`count` and `cursor` ignored),
   * from the index where it can be, without loading every match (`_summary=count`). Optional: a
   * store without it is counted page by page.
   */
  count?(query: StoreQuery): Promise<number>;
  /**
   * The current versions of every resource in a subject's patient compartment (the Patient
   * included), in no particular order, without resources of uncommitted transactions. Optional: a
   * store without it is read type by type through `search` (see `loadSubjectRecords`).
   */
  loadSubject?(patient: string): Promise<StoredResource[]>;
  /** Outbox events not yet acknowledged, oldest first. */
  pendingEvents(limit: number): Promise<StudyDataChanged[]>;
  ackEvent(eventId: string): Promise<void>;
  /** Finishes committed transactions a crash left half-applied and removes those that never committed. */
  sweep(): Promise<unknown>;
}

/** The link from hospital identity to study pseudonym; kept in its own table, read by the recruitment role alone. */
export interface IdentityStore {
  /** The pseudonym for a hospital patient key, created on first sight; concurrent callers get the same one. */
  pseudonymFor(hospitalKey: string): Promise<string>;
  /** The hospital key behind a pseudonym. */
  resolve(pseudonym: string): Promise<string | undefined>;
}
