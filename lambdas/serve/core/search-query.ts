import { badRequest, OperationOutcomeError, parseSearchRequest, type Filter } from '@medplum/core';
import type { ResourceType } from '@medplum/fhirtypes';
import { indexOrder, planSearch } from '../../commons/store/index-keys.js';
import type { DateRange, StoreQuery, StoreSort } from '../../commons/store/port.js';
import { sortKeys, storeSearchParam } from './search-parameters.js';

/** Page size when `_count` is absent, and the most a page may hold (MAX_SEARCH_COUNT overrides it). */
export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;

/** Parameters that shape the answer rather than filter it: read by serve, not by the store query. */
const IGNORED = new Set(['_format', '_pretty', '_summary', '_total', '_elements']);

/**
 * Parses a FHIR search on a study type into a store query. Unsupported parameters and modifiers are
 * refused (400) rather than ignored, so that a client never takes an unfiltered answer for a filtered one.
 * Repeated parameters are ANDed (FHIR R4 search.html#combining), a comma inside one value is OR. When
 * the repeats cannot both hold (two patients, disjoint `_id`s) the query has `ids: []`: see `matchesNothing`.
 * @param resourceType - The searched type.
 * @param query - The query parameters.
 * @param maxCount - The largest `_count` accepted.
 * @returns The store query.
 */
export function toStoreQuery(resourceType: ResourceType, query: Readonly<Record<string, string | string[] | undefined>>, maxCount = MAX_COUNT): StoreQuery {
  let request: ReturnType<typeof parseSearchRequest>;
  try {
    request = parseSearchRequest(resourceType, query as Record<string, string | string[]>);
  } catch (err) {
    // The parser throws plain Errors on input it cannot read (e.g. a parameter named `constructor`,
    // which it looks up among the type's search parameters and finds inherited): that is bad input.
    throw err instanceof OperationOutcomeError ? err : new OperationOutcomeError(badRequest('Search parameters cannot be read'));
  }
  const unsupported = [
    request.offset ? '_offset' : undefined,
    // `_include` itself is read by serve (includes.ts); `:iterate` would follow includes of includes.
    request.include?.some((i) => i.modifier) ? '_include:iterate' : undefined,
    // `_revinclude` itself is read by serve (includes.ts `revincludesProvenance`).
    request.revInclude?.some((i) => i.modifier) ? '_revinclude:iterate' : undefined,
  ].filter((p): p is string => !!p);
  if (unsupported.length > 0) {
    throw new OperationOutcomeError(badRequest(`Search result parameter ${unsupported.join(', ')} is not supported`, unsupported[0]));
  }
  const count = request.count ?? DEFAULT_COUNT;
  if (!Number.isInteger(count) || count < 1 || count > maxCount) {
    throw new OperationOutcomeError(badRequest(`_count must be an integer from 1 to ${maxCount}`, '_count'));
  }
  let out: { -readonly [K in keyof StoreQuery]: StoreQuery[K] } = { resourceType, count };
  if (request.cursor) {
    out.cursor = request.cursor;
  }
  for (const filter of request.filters ?? []) {
    out = { ...out, ...applyFilter(resourceType, filter, out) };
  }
  if (request.sortRules?.length) {
    out.sort = sortOf(resourceType, request.sortRules, out);
  }
  return out;
}

/**
 * `_sort` as the store can give it: one key, the type's date parameter (the clinical date) or
 * `_lastUpdated`, either direction, and only when the index the search reads is kept in that order
 * (`indexOrder`): the clinical date when a patient, code, status, `_profile` or date filter drives it,
 * lastUpdated when nothing but `_lastUpdated` does. Anything else is refused, never sorted in part.
 */
function sortOf(resourceType: string, rules: readonly { code: string; descending?: boolean }[], query: StoreQuery): StoreSort {
  if (rules.length > 1) {
    throw new OperationOutcomeError(badRequest('_sort takes one key here', '_sort'));
  }
  const { code, descending = false } = rules[0]!;
  const by = code === '_lastUpdated' ? 'lastUpdated' : storeSearchParam(resourceType, code)?.role === 'date' ? 'date' : undefined;
  if (by === undefined) {
    throw new OperationOutcomeError(badRequest(`_sort by '${code.slice(0, 40)}' is not supported on ${resourceType}: sort by ${sortKeys(resourceType).join(' or ')}`, '_sort'));
  }
  const order = matchesNothing(query) ? by : indexOrder(planSearch(query));
  if (order !== by) {
    const needs = by === 'date' ? 'a patient, code, status, _profile or date filter' : 'no filter other than _lastUpdated';
    throw new OperationOutcomeError(badRequest(`_sort=${code} needs ${needs} (the store's index order)`, '_sort'));
  }
  return { by, descending };
}

function applyFilter(resourceType: string, filter: Filter, sofar: StoreQuery): Partial<StoreQuery> {
  const { code, operator, value } = filter;
  if (IGNORED.has(code)) {
    return {};
  }
  if (code === '_id' && operator === 'eq') {
    const ids = split(value);
    return { ids: sofar.ids ? sofar.ids.filter((id) => ids.includes(id)) : ids };
  }
  if (code === '_profile' && operator === 'eq') {
    if (sofar.profile === undefined || sofar.profile === value) return { profile: value };
    return { andProfiles: [...(sofar.andProfiles ?? []), value] };
  }
  if (code === '_lastUpdated') {
    return { lastUpdated: narrow(sofar.lastUpdated, operator, value, code) };
  }
  const param = storeSearchParam(resourceType, code);
  if (param?.role === 'patient' && operator === 'eq') {
    const id = value.replace(/^Patient\//, '');
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) {
      throw new OperationOutcomeError(badRequest(`Invalid ${code} reference`, code));
    }
    // One compartment per resource: two different patients ANDed match nothing.
    return sofar.patient === undefined || sofar.patient === id ? { patient: id } : { ids: [] };
  }
  if (param?.role === 'code' && operator === 'eq') {
    const codes = split(value).map(token);
    return sofar.codes ? { andCodes: [...(sofar.andCodes ?? []), codes] } : { codes };
  }
  if (param?.role === 'status' && operator === 'eq') {
    // A status is a code of the type's required value set: `system|code` names the same code.
    const statuses = split(value).map((v) => token(v).code);
    if (sofar.statuses === undefined) return { statuses };
    // Repeated: both must hold of the one status, so the sets intersect (none in common matches nothing).
    const both = sofar.statuses.filter((s) => statuses.includes(s));
    return both.length > 0 ? { statuses: both } : { ids: [] };
  }
  if (param?.role === 'date') {
    return { date: narrow(sofar.date, operator, value, code) };
  }
  const what = operator === 'eq' ? `parameter '${code}'` : `'${code}' with modifier or prefix '${operator}'`;
  throw new OperationOutcomeError(badRequest(`Search ${what} is not supported on ${resourceType}`, code));
}

/**
 * Whether a query's ANDed parameters exclude every resource (see `toStoreQuery`).
 * @param query - The store query.
 * @returns True when nothing can match.
 */
export function matchesNothing(query: StoreQuery): boolean {
  return query.ids !== undefined && query.ids.length === 0;
}

function split(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter((v) => v.length > 0);
}

function token(value: string): { system?: string; code: string } {
  const bar = value.indexOf('|');
  if (bar < 0) {
    return { code: value };
  }
  const system = value.slice(0, bar);
  return { ...(system ? { system } : {}), code: value.slice(bar + 1) };
}

/**
 * Narrows a date range by one FHIR date filter. A date stands for the interval its precision spans
 * (`2015-03` is all of March), so `eq` means inside it, `gt` after it and `le` before its end.
 */
function narrow(range: DateRange | undefined, operator: string, value: string, code: string): DateRange {
  const [start, end] = interval(value, code);
  const next: DateRange = { ...range };
  const lower = (bound: string): DateRange => ({ ...next, ge: max(next.ge, bound) });
  const upper = (bound: string): DateRange => ({ ...next, lt: min(next.lt, bound) });
  switch (operator) {
    case 'eq':
      return { ...lower(start), lt: min(next.lt, end) };
    case 'ge':
      return lower(start);
    case 'gt':
    case 'sa':
      return lower(end);
    case 'le':
      return upper(end);
    case 'lt':
    case 'eb':
      return upper(start);
    default:
      throw new OperationOutcomeError(badRequest(`Date prefix '${operator}' is not supported`, code));
  }
}

const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** The instants [start, end) that a FHIR date or dateTime of some precision covers. */
function interval(value: string, code: string): [string, string] {
  const m = DATE.exec(value);
  if (!m) {
    throw new OperationOutcomeError(badRequest(`Invalid date '${value.slice(0, 40)}'`, code));
  }
  const [, y, mo, d, h, mi, s, tz] = m;
  const year = Number(y);
  const lastDay = mo === undefined ? 31 : new Date(Date.UTC(2000, Number(mo), 0)).getUTCDate();
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (year < 1000 || year > 9998 || (mo !== undefined && (Number(mo) < 1 || Number(mo) > 12)) || (d !== undefined && (Number(d) < 1 || Number(d) > lastDay || (mo === '02' && d === '29' && !leap)))) {
    throw new OperationOutcomeError(badRequest(`Invalid date '${value.slice(0, 40)}'`, code));
  }
  if (mo === undefined) {
    return [iso(Date.UTC(year, 0, 1)), iso(Date.UTC(year + 1, 0, 1))];
  }
  const month = Number(mo) - 1;
  if (d === undefined) {
    return [iso(Date.UTC(year, month, 1)), iso(Date.UTC(year, month + 1, 1))];
  }
  if (h === undefined) {
    const day = Date.UTC(year, month, Number(d));
    return [iso(day), iso(day + 86_400_000)];
  }
  const instant = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${tz ?? 'Z'}`);
  if (Number.isNaN(instant)) {
    throw new OperationOutcomeError(badRequest(`Invalid date '${value.slice(0, 40)}'`, code));
  }
  return [iso(instant), iso(instant + (s === undefined ? 60_000 : 1000))];
}

function iso(ms: number): string {
  if (Number.isNaN(ms)) {
    throw new OperationOutcomeError(badRequest('Invalid date', 'date'));
  }
  return new Date(ms).toISOString();
}

function max(a: string | undefined, b: string): string {
  return a === undefined || b > a ? b : a;
}

function min(a: string | undefined, b: string): string {
  return a === undefined || b < a ? b : a;
}
