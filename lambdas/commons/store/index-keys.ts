import type { Resource } from '@medplum/fhirtypes';
import { InvalidQueryError } from './errors.js';
import type { DateRange, StoreQuery } from './port.js';

/**
 * Pure functions that derive index entries from a resource and turn a `StoreQuery` into key
 * ranges. No SDK here: the adapter writes and queries what these functions name.
 *
 * Every index entry is one item `{ pk, sk }`. Sort keys are `{instant}#{id}#{tx}` so that one
 * BETWEEN condition gives a date range, entries of two versions never collide (the transaction id
 * differs), and a reader can tell whether an entry belongs to the current version.
 */

/** A coding as the index sees it. */
export interface IndexCoding {
  readonly system?: string;
  readonly code: string;
}

/** What a resource is indexed by. Dates are normalised UTC instants (`YYYY-MM-DDTHH:mm:ss.sssZ`). */
export interface IndexFacts {
  readonly patient?: string;
  readonly codings: readonly IndexCoding[];
  readonly date?: string;
  readonly profiles: readonly string[];
  readonly lastUpdated?: string;
  /** The resource's `status` code, where the type has one (a code, not a CodeableConcept). */
  readonly status?: string;
  /** A Provenance's `target`s as `Type/id` (the version dropped): the reverse reference `_revinclude` follows. */
  readonly targets?: readonly string[];
}

/** One index item's key. */
export interface IndexEntry {
  readonly pk: string;
  readonly sk: string;
}

/** The first present path gives the clinical date (FHIR search parameter `date` of each type). */
const DATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Observation: ['effectiveDateTime', 'effectivePeriod.start', 'effectiveInstant', 'issued'],
  Condition: ['onsetDateTime', 'recordedDate'],
  MedicationAdministration: ['effectiveDateTime', 'effectivePeriod.start'],
  MedicationRequest: ['authoredOn'],
  MedicationStatement: ['effectiveDateTime', 'effectivePeriod.start', 'dateAsserted'],
  Encounter: ['period.start'],
  AllergyIntolerance: ['recordedDate', 'onsetDateTime'],
  ResearchSubject: ['period.start'],
  Provenance: ['recorded'],
  Communication: ['sent'],
  Task: ['authoredOn', 'lastModified'],
};

/** Elements whose codings are indexed; other types fall back to `code` when they have one. */
const CODE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Observation: ['code'],
  Condition: ['code'],
  AllergyIntolerance: ['code'],
  MedicationAdministration: ['medicationCodeableConcept'],
  MedicationRequest: ['medicationCodeableConcept'],
  MedicationStatement: ['medicationCodeableConcept'],
  Encounter: ['type', 'class'],
  // What kind of message (the recruitment alert): R4's Communication `category` search.
  Communication: ['category'],
  Patient: [],
};

/** Patient compartment references; `individual` is ResearchSubject's in R4, `for` is Task's. */
const PATIENT_PATHS = ['subject', 'patient', 'individual', 'for'] as const;

const PATIENT_REFERENCE = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]*)?$/;

/**
 * What a resource is indexed by.
 * @param resource - The resource (with `meta.lastUpdated` when stored).
 * @returns Patient, codings, clinical date, profiles and lastUpdated.
 */
export function indexFacts(resource: Resource): IndexFacts {
  const record = resource as unknown as Record<string, unknown>;
  const type = resource.resourceType;
  let patient: string | undefined;
  if (type === 'Patient') {
    patient = resource.id;
  } else {
    for (const path of PATIENT_PATHS) {
      const reference = (record[path] as { reference?: unknown } | undefined)?.reference;
      const match = typeof reference === 'string' ? PATIENT_REFERENCE.exec(reference) : null;
      if (match?.[1]) {
        patient = match[1];
        break;
      }
    }
  }

  const codings: IndexCoding[] = [];
  const seen = new Set<string>();
  for (const path of CODE_PATHS[type] ?? ['code']) {
    for (const coding of collectCodings(record[path])) {
      const key = `${coding.system ?? ''}|${coding.code}`;
      if (!seen.has(key)) {
        seen.add(key);
        codings.push(coding);
      }
    }
  }

  let date: string | undefined;
  for (const path of DATE_PATHS[type] ?? []) {
    const value = valueAt(record, path);
    const range = typeof value === 'string' ? instantRange(value) : undefined;
    if (range) {
      date = range.start;
      break;
    }
  }

  const profiles = [...new Set((resource.meta?.profile ?? []).filter((p) => typeof p === 'string' && p.length > 0))];
  const lastUpdated = resource.meta?.lastUpdated ? instantRange(resource.meta.lastUpdated)?.start : undefined;
  const status = typeof record.status === 'string' && record.status.length > 0 ? record.status : undefined;
  const targets = type === 'Provenance' ? provenanceTargets(record.target) : [];
  return { patient, codings, date, profiles, lastUpdated, ...(status === undefined ? {} : { status }), ...(targets.length > 0 ? { targets } : {}) };
}

const TARGET_REFERENCE = /^([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** The relative `Type/id` references of a Provenance's targets, each once. */
function provenanceTargets(value: unknown): string[] {
  const out = new Set<string>();
  for (const target of Array.isArray(value) ? value : []) {
    const reference = (target as { reference?: unknown } | null)?.reference;
    const match = typeof reference === 'string' ? TARGET_REFERENCE.exec(reference) : null;
    if (match?.[1]) out.add(match[1]);
  }
  return [...out];
}

function valueAt(record: Record<string, unknown>, path: string): unknown {
  let value: unknown = record;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Codings of a CodeableConcept, a Coding, or an array of either. */
function collectCodings(value: unknown): IndexCoding[] {
  if (Array.isArray(value)) return value.flatMap(collectCodings);
  if (value === null || typeof value !== 'object') return [];
  const object = value as { coding?: unknown; code?: unknown; system?: unknown };
  if (Array.isArray(object.coding)) return object.coding.flatMap(collectCodings);
  if (typeof object.code === 'string' && object.code.length > 0) {
    return [typeof object.system === 'string' && object.system.length > 0 ? { system: object.system, code: object.code } : { code: object.code }];
  }
  return [];
}

const DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * The instants a FHIR date, dateTime or instant covers: `2021-03` covers all of March.
 * Values without a time zone are read as UTC.
 * @param value - FHIR date/dateTime/instant.
 * @returns First and last millisecond as ISO instants, or undefined when not a valid date.
 */
export function instantRange(value: string): { start: string; end: string } | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  const month = mo ? Number(mo) : 1;
  const day = d ? Number(d) : 1;
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  const start = new Date(0);
  start.setUTCFullYear(year, month - 1, day);
  if (start.getUTCMonth() !== month - 1) return undefined;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  start.setUTCHours(h ? Number(h) : 0, mi ? Number(mi) : 0, s ? Number(s) : 0, ms);
  if (tz && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const offsetMinutes = Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6));
    start.setTime(start.getTime() - sign * offsetMinutes * 60_000);
  }
  const end = new Date(start.getTime());
  if (!mo) end.setUTCFullYear(year + 1, 0, 1);
  else if (!d) end.setUTCMonth(month, 1);
  else if (!h) end.setUTCDate(day + 1);
  else if (!s) end.setTime(end.getTime() + 60_000);
  else if (!frac) end.setTime(end.getTime() + 1_000);
  else end.setTime(end.getTime() + 1);
  end.setTime(end.getTime() - 1);
  const startIso = start.toISOString();
  if (startIso.length !== 24) return undefined;
  return { start: startIso, end: end.toISOString() };
}

const enc = encodeURIComponent;

/** Partition of the lastUpdated-ordered index of a type (every version has an entry). */
export const lastUpdatedPartition = (type: string): string => `IX#${type}#LU`;
/** Partition of the clinical-date index of a type. */
export const datePartition = (type: string): string => `IX#${type}#DT`;
/** Partition of a patient's compartment for a type. */
export const patientPartition = (type: string, patient: string): string => `IX#${type}#PT#${patient}`;
/** Partition of a coding; without a system it is the any-system partition of the code. */
export const codePartition = (type: string, coding: IndexCoding): string =>
  coding.system === undefined ? `IX#${type}#CA#${enc(coding.code)}` : `IX#${type}#CS#${enc(coding.system)}|${enc(coding.code)}`;
/** Partition of a `status` code: a key space of its own, so that a `code` search never finds a status. */
export const statusPartition = (type: string, status: string): string => `IX#${type}#ST#${enc(status)}`;
/** Partition of a Provenance target (`Type/id`). */
export const targetPartition = (type: string, target: string): string => `IX#${type}#TG#${enc(target)}`;
/** Partition of a profile. */
export const profilePartition = (type: string, profile: string): string => `IX#${type}#PR#${enc(profile)}`;

/**
 * Every index entry of one resource version.
 * @param type - Resource type.
 * @param id - Resource id.
 * @param tx - Id of the transaction that wrote the version.
 * @param facts - The version's index facts.
 * @returns The entries' keys; each names the version through `tx`.
 */
export function indexEntries(type: string, id: string, tx: string, facts: IndexFacts): IndexEntry[] {
  const dateSk = `${facts.date ?? ''}#${id}#${tx}`;
  const entries: IndexEntry[] = [];
  if (facts.lastUpdated) entries.push({ pk: lastUpdatedPartition(type), sk: `${facts.lastUpdated}#${id}#${tx}` });
  if (facts.date) entries.push({ pk: datePartition(type), sk: dateSk });
  if (facts.patient) entries.push({ pk: patientPartition(type, facts.patient), sk: dateSk });
  const partitions = new Set<string>();
  for (const coding of facts.codings) {
    partitions.add(codePartition(type, { code: coding.code }));
    if (coding.system !== undefined) partitions.add(codePartition(type, coding));
  }
  for (const profile of facts.profiles) partitions.add(profilePartition(type, profile));
  if (facts.status !== undefined) partitions.add(statusPartition(type, facts.status));
  for (const target of facts.targets ?? []) partitions.add(targetPartition(type, target));
  for (const pk of partitions) entries.push({ pk, sk: dateSk });
  return entries;
}

/** The resource id and transaction an index sort key names. */
export function parseIndexSk(sk: string): { id: string; tx: string } {
  const parts = sk.split('#');
  return { tx: parts[parts.length - 1] ?? '', id: parts[parts.length - 2] ?? '' };
}

/** Lowest and highest sort key strings: index sort keys are ASCII between them. */
const LOWEST = '!';
const HIGHEST = '~';

/**
 * Inclusive sort key bounds for a date range over `{instant}#{id}#{tx}` keys. A range with no lower
 * bound still starts at `0`, which leaves out entries without a date.
 * @param range - The range, or undefined for all entries.
 * @param after - Sort key of the last entry already returned (cursor), exclusive.
 * @returns Bounds for `sk BETWEEN :lo AND :hi`, or undefined when the range is empty.
 */
export function sortKeyBounds(range: DateRange | undefined, after?: string, descending = false): { lo: string; hi: string } | undefined {
  let lo = range ? '0' : LOWEST;
  let hi = HIGHEST;
  const bound = (value: string): { start: string; end: string } => {
    const r = instantRange(value);
    if (!r) throw new InvalidQueryError(`Not a FHIR date or instant: ${value}`);
    return r;
  };
  const raise = (candidate: string): void => {
    if (candidate > lo) lo = candidate;
  };
  const lower = (candidate: string): void => {
    if (candidate < hi) hi = candidate;
  };
  // '#' sorts below every id character and '$' right above '#': `X#` is the first key at instant X, `X$` the first after it.
  if (range?.ge !== undefined) raise(`${bound(range.ge).start}#`);
  if (range?.gt !== undefined) raise(`${bound(range.gt).end}$`);
  if (range?.le !== undefined) lower(`${bound(range.le).end}$`);
  if (range?.lt !== undefined) lower(`${bound(range.lt).start}#`);
  // No key has another key as a prefix (the tx id has a fixed length), so `after~` is above `after` and below every later key.
  if (after !== undefined && !descending) raise(`${after}${HIGHEST}`);
  // Descending, the cursor is an upper bound: the key with the cursor's last character one lower,
  // followed by `~`, is above every key before the cursor and below the cursor itself.
  if (after !== undefined && descending) lower(`${after.slice(0, -1)}${String.fromCharCode(after.charCodeAt(after.length - 1) - 1)}${HIGHEST}`);
  return lo <= hi ? { lo, hi } : undefined;
}

/**
 * Whether an instant lies in a range, with the same precision rules as `sortKeyBounds`.
 * @param instant - A normalised instant, or undefined (never in a range).
 * @param range - The range.
 * @returns True when every given bound holds.
 */
export function inRange(instant: string | undefined, range: DateRange): boolean {
  if (instant === undefined) return false;
  const r = (value: string): { start: string; end: string } => {
    const parsed = instantRange(value);
    if (!parsed) throw new InvalidQueryError(`Not a FHIR date or instant: ${value}`);
    return parsed;
  };
  if (range.ge !== undefined && !(instant >= r(range.ge).start)) return false;
  if (range.gt !== undefined && !(instant > r(range.gt).end)) return false;
  if (range.le !== undefined && !(instant <= r(range.le).end)) return false;
  if (range.lt !== undefined && !(instant < r(range.lt).start)) return false;
  return true;
}

/** How a search reads: by the listed ids, or by merging index partitions that share one sort order. */
export type SearchPlan =
  | { readonly kind: 'ids'; readonly ids: readonly string[] }
  | { readonly kind: 'index'; readonly name: string; readonly partitions: readonly string[]; readonly range?: DateRange };

/**
 * Picks the most selective driver for a query; the other filters are checked on each resource.
 * Order: ids, patient, targets, codes, profile, status, date, lastUpdated, then all of the type by lastUpdated.
 * @param query - The search.
 * @returns The plan.
 */
export function planSearch(query: StoreQuery): SearchPlan {
  const type = query.resourceType;
  if (query.ids) return { kind: 'ids', ids: [...new Set(query.ids)].sort() };
  if (query.patient !== undefined) {
    return { kind: 'index', name: 'patient', partitions: [patientPartition(type, query.patient)], range: query.date };
  }
  if (query.targets && query.targets.length > 0) {
    return { kind: 'index', name: 'target', partitions: [...new Set(query.targets.map((t) => targetPartition(type, t)))], range: query.date };
  }
  if (query.codes && query.codes.length > 0) {
    const partitions = [...new Set(query.codes.map((c) => codePartition(type, c)))];
    return { kind: 'index', name: 'code', partitions, range: query.date };
  }
  if (query.profile !== undefined) {
    return { kind: 'index', name: 'profile', partitions: [profilePartition(type, query.profile)], range: query.date };
  }
  if (query.statuses && query.statuses.length > 0) {
    const partitions = [...new Set(query.statuses.map((s) => statusPartition(type, s)))];
    return { kind: 'index', name: 'status', partitions, range: query.date };
  }
  if (query.date) return { kind: 'index', name: 'date', partitions: [datePartition(type)], range: query.date };
  return { kind: 'index', name: 'lastUpdated', partitions: [lastUpdatedPartition(type)], range: query.lastUpdated };
}

/**
 * The order a plan's hits come in: index plans other than `lastUpdated` read partitions keyed by the
 * clinical date (resources without one first); `lastUpdated` reads the type's lastUpdated partition;
 * `ids` goes by id. A `_sort` is honoured only when it is this order (either direction).
 * @param plan - The plan (`planSearch`).
 * @returns What the hits are ordered by.
 */
export function indexOrder(plan: SearchPlan): 'date' | 'lastUpdated' | 'id' {
  if (plan.kind === 'ids') return 'id';
  return plan.name === 'lastUpdated' ? 'lastUpdated' : 'date';
}

/**
 * Whether a resource satisfies every filter of a query (stale index entries are caught here).
 * @param resource - The current version.
 * @param query - The search.
 * @returns True when it matches.
 */
export function matchesQuery(resource: Resource, query: StoreQuery): boolean {
  if (resource.resourceType !== query.resourceType) return false;
  if (query.ids && !query.ids.includes(resource.id ?? '')) return false;
  const facts = indexFacts(resource);
  if (query.patient !== undefined && facts.patient !== query.patient) return false;
  for (const codes of [query.codes, ...(query.andCodes ?? [])]) {
    if (!codes || codes.length === 0) continue;
    const hit = codes.some((q) => facts.codings.some((c) => c.code === q.code && (q.system === undefined || c.system === q.system)));
    if (!hit) return false;
  }
  if (query.profile !== undefined && !facts.profiles.includes(query.profile)) return false;
  if (query.andProfiles?.some((p) => !facts.profiles.includes(p))) return false;
  if (query.targets && !query.targets.some((t) => facts.targets?.includes(t))) return false;
  if (query.statuses && !(facts.status !== undefined && query.statuses.includes(facts.status))) return false;
  if (query.date && !inRange(facts.date, query.date)) return false;
  if (query.lastUpdated && !inRange(facts.lastUpdated, query.lastUpdated)) return false;
  return true;
}
