import { badRequest, notFound, OperationOutcomeError } from '@medplum/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Bundle, BundleEntry, OperationOutcome, Resource, ResourceType } from '@medplum/fhirtypes';
import { can, principalFromClaims, requireScope } from '../commons/auth/index.js';
import type { Conformance } from '../commons/conformance/index.js';
import { Deadline, DeadlineExceededError, withinDeadline } from '../commons/http/deadline.js';
import { formParameters, requireJsonAccepted, requireJsonBody } from '../commons/http/negotiation.js';
import { deadlineExceeded, errorLogFields, methodNotAllowed, noRoute, outcomeOf, uriTooLong } from '../commons/http/outcomes.js';
import { outcomeResponse, type HttpRequest, type HttpResponse } from '../commons/http/request.js';
import { limits as processLimits, type Limits } from '../commons/limits.js';
import type { StoredResource, StoreQuery, StudyStore } from '../commons/store/port.js';
import { capabilityStatement, CONFORMANCE_TYPES, STORE_TYPES } from './core/capability-statement.js';
import { searchConformance } from './core/conformance-search.js';
import { includedReferences, includesOf, revincludesProvenance, type Include } from './core/includes.js';
import { storeSearchParam } from './core/search-parameters.js';
import { matchesNothing, toStoreQuery } from './core/search-query.js';
import { smartConfiguration, type SmartSettings } from './core/smart-configuration.js';
import { applySubset, subsetOf, type Subset } from './core/subsetting.js';
import { validateOperation } from './core/validate-operation.js';
import { typeHistory } from './type-history.js';

/** The serve function's ports. */
export interface ServeDeps {
  readonly conformance: Conformance;
  readonly store: StudyStore;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Cost limits (default: from the environment, see lambdas/commons/limits.ts). */
  readonly limits?: Limits;
  /** The identity provider, for SMART discovery (absent: `.well-known/smart-configuration` answers 404). */
  readonly smart?: SmartSettings;
}

type Query = Readonly<Record<string, string | string[] | undefined>>;

/** A store that can count the matches of a query without loading them (an optional capability). */
interface CountingStore extends StudyStore {
  count(query: StoreQuery): Promise<number>;
}

function canCount(store: StudyStore): store is CountingStore {
  return typeof (store as Partial<CountingStore>).count === 'function';
}

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const storeTypes: ReadonlySet<string> = new Set(STORE_TYPES);
const conformanceTypes: ReadonlySet<string> = new Set(CONFORMANCE_TYPES);

/**
 * Read, vread, history and search over the study store and the conformance resources, and the
 * CapabilityStatement.
 * @param req - The request.
 * @param deps - Ports.
 * @returns A resource, a Bundle or an OperationOutcome.
 */
export async function handleServe(req: HttpRequest, deps: ServeDeps): Promise<HttpResponse> {
  const deadline = req.deadline ?? new Deadline(Number.POSITIVE_INFINITY);
  // A read commits nothing: when time runs out the caller gets its 503 at once.
  return withinDeadline(deadline, () => serveWithin(req, deps, deadline), () => outcomeResponse(deadlineExceeded));
}

async function serveWithin(req: HttpRequest, deps: ServeDeps, deadline: Deadline): Promise<HttpResponse> {
  const limits = deps.limits ?? processLimits();
  try {
    if (queryChars(req.query) > limits.MAX_QUERY_CHARS) {
      throw new OperationOutcomeError(uriTooLong(limits.MAX_QUERY_CHARS));
    }
    if (req.unrouted) {
      // API Gateway's `$default` route: an OperationOutcome where the gateway would answer `{"message": "Not Found"}`.
      throw new OperationOutcomeError(req.method === 'GET' || req.method === 'HEAD' ? noRoute() : methodNotAllowed(req.method, req.path));
    }
    const parts = req.path.split('/').filter((p) => p.length > 0);
    // JSON only: a client that asked for XML is told so before anything else (FHIR R4 http.html#mime-type).
    requireJsonAccepted(req.query, req.headers.accept);
    const search = parts.length === 2 && parts[1] === '_search';
    if (req.method === 'POST' && search) {
      // POST [type]/_search: the form body's parameters join the URL's (FHIR R4 search.html#Introduction).
      return await serveWithin({ ...req, method: 'GET', path: `/${parts[0]}`, query: mergeQuery(req.query, formParameters(req.headers['content-type'], req.body)) }, deps, deadline);
    }
    if (req.method === 'POST' && parts.length === 2 && parts[1] === '$validate') {
      return validate(parts[0]!, req, deps, limits);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new OperationOutcomeError(methodNotAllowed(req.method, req.path));
    }
    if (parts.length === 2 && parts[0] === '.well-known' && parts[1] === 'smart-configuration') {
      // Public like the CapabilityStatement: apps read it to learn where to get a token.
      if (!deps.smart) throw new OperationOutcomeError(smartNotConfigured);
      return { status: 200, body: smartConfiguration(deps.smart) as unknown as Resource, headers: { 'content-type': 'application/json; charset=utf-8' } };
    }
    if (parts.length === 1 && parts[0] === 'metadata') {
      // The CapabilityStatement is public, as FHIR clients read it before they authenticate.
      return { status: 200, body: capabilityStatement(deps.conformance, req.baseUrl, deps.now(), deps.smart ? { smart: deps.smart } : {}) };
    }
    if ((parts.length === 1 && parts[0] === '_history') || (parts.length === 2 && parts[1] === '_history')) {
      return await historyOfTypes(parts.length === 1 ? undefined : parts[0], req, deps, limits, deadline);
    }
    if (parts.length === 3 && parts[0] === 'Patient' && parts[2] === '$everything') {
      return await everything(parts[1]!, req, deps, limits, deadline);
    }
    const [type, id, history, versionId, ...rest] = parts;
    if (!type || rest.length > 0 || (history !== undefined && history !== '_history')) {
      throw new OperationOutcomeError(notFound);
    }
    if (!isServed(type)) {
      throw new OperationOutcomeError(badRequest(`Resource type '${type.slice(0, 64)}' is not served here`, 'type'));
    }
    requireScope(principalFromClaims(req.claims ?? {}), type, id === undefined ? 's' : 'r');
    if (id !== undefined && !ID.test(id)) {
      throw new OperationOutcomeError(badRequest('Invalid id', 'id'));
    }
    const subset = subsetOf(req.query);
    if (conformanceTypes.has(type)) {
      if (history !== undefined) {
        // Read from files, one version each: no history to serve (and the CapabilityStatement declares none).
        throw new OperationOutcomeError(notSupported(`${type} is served from the study's files without history`));
      }
      return serveConformance(type, id, req, deps, subset);
    }
    return await serveStore(type, id, history, versionId, req, deps, limits, deadline, subset);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      deps.logger.error('Serve failed', errorLogFields(err));
    }
    return outcomeResponse(outcomeOf(err));
  }
}

async function serveStore(
  type: ResourceType,
  id: string | undefined,
  history: string | undefined,
  versionId: string | undefined,
  req: HttpRequest,
  deps: ServeDeps,
  limits: Limits,
  deadline: Deadline,
  subset: Subset,
): Promise<HttpResponse> {
  if (id === undefined) {
    const totalMode = single(req.query._total);
    if (totalMode !== undefined && !['none', 'estimate', 'accurate'].includes(totalMode)) {
      throw new OperationOutcomeError(badRequest('_total must be none, estimate or accurate', '_total'));
    }
    if (req.query._summary === 'count') {
      return { status: 200, body: { resourceType: 'Bundle', type: 'searchset', total: await countMatches(type, req.query, deps, limits, deadline) } };
    }
    const query = toStoreQuery(type, req.query, limits.MAX_SEARCH_COUNT);
    const includes = includesOf(type, req.query._include);
    const provenance = revincludesProvenance(type, req.query._revinclude);
    const page = matchesNothing(query) ? { resources: [] } : await pageWithinBudget(query, deps.store, limits.MAX_RESPONSE_BYTES);
    const included = await includedResources(page.resources, includes, provenance, req, deps, limits, deadline);
    // `total` is all the matches, on every page (R4 Bundle.total): the page's own size only when the
    // page is the whole answer; `_total=none` skips the count of a longer answer.
    const whole = !page.next && !query.cursor;
    const total = whole ? page.resources.length : totalMode === 'none' ? undefined : await countMatches(type, req.query, deps, limits, deadline);
    return { status: 200, body: searchset({ ...page, total, subset, included }, req) };
  }
  if (history === undefined) {
    return found(await deps.store.read(type, id), req, subset);
  }
  if (versionId === undefined) {
    const versions = await deps.store.history(type, id);
    if (versions.length === 0) {
      throw new OperationOutcomeError(notFound);
    }
    return { status: 200, body: historyBundle(versions, req, subset) };
  }
  if (!ID.test(versionId)) {
    throw new OperationOutcomeError(badRequest('Invalid version id', 'vid'));
  }
  return found(await deps.store.vread(type, id, versionId), req, subset);
}

/**
 * The resources a page's `_include`s name, each read once, each type checked against the token's
 * scopes (an include must not reach what a read could not), and with `_revinclude=Provenance:target`
 * the Provenances of the matches (Provenance search scope). They share the page's byte budget: a page
 * whose includes do not fit is refused (413) rather than cut, as a cut include cannot be resumed.
 */
async function includedResources(
  page: readonly StoredResource[],
  includes: readonly Include[],
  provenance: boolean,
  req: HttpRequest,
  deps: ServeDeps,
  limits: Limits,
  deadline: Deadline,
): Promise<StoredResource[]> {
  if ((includes.length === 0 && !provenance) || page.length === 0) return [];
  const principal = principalFromClaims(req.claims ?? {});
  const refs = includedReferences(page, includes).filter(([type]) => storeTypes.has(type));
  for (const type of new Set(refs.map(([type]) => type))) requireScope(principal, type, 'r');
  const found = (await Promise.all(refs.map(([type, id]) => deps.store.read(type as ResourceType, id)))).filter((r): r is StoredResource => r !== undefined);
  if (provenance) {
    requireScope(principal, 'Provenance', 's');
    const seen = new Set([...page, ...found].map((r) => `${r.resourceType}/${r.id}`));
    for (const r of await provenanceOf(page, deps.store, limits, deadline)) {
      if (!seen.has(`Provenance/${r.id}`)) {
        seen.add(`Provenance/${r.id}`);
        found.push(r);
      }
    }
  }
  let bytes = BUNDLE_OVERHEAD_BYTES;
  for (const r of [...page, ...found]) bytes += Buffer.byteLength(JSON.stringify(r), 'utf8') + ENTRY_OVERHEAD_BYTES;
  if (bytes > limits.MAX_RESPONSE_BYTES) {
    throw new OperationOutcomeError({
      resourceType: 'OperationOutcome',
      id: 'too-costly-request',
      issue: [{ severity: 'error', code: 'too-costly', details: { text: 'The page and its _include and _revinclude resources exceed the response size; ask for a smaller _count' } }],
    });
  }
  return found;
}

/** Matches whose targets one store search reads at once (one index partition each, merged). */
const TARGETS_PER_SEARCH = 25;

/**
 * `_revinclude=Provenance:target`: the Provenances whose `target` names a match, from the store's
 * target index, every page of them (the byte budget of the answer bounds what is kept).
 */
async function provenanceOf(page: readonly StoredResource[], store: StudyStore, limits: Limits, deadline: Deadline): Promise<StoredResource[]> {
  const targets = page.map((r) => `${r.resourceType}/${r.id}`);
  const out: StoredResource[] = [];
  let bytes = 0;
  for (let i = 0; i < targets.length; i += TARGETS_PER_SEARCH) {
    let query: StoreQuery = { resourceType: 'Provenance', targets: targets.slice(i, i + TARGETS_PER_SEARCH), count: limits.MAX_SEARCH_COUNT };
    for (;;) {
      const found = await store.search(query);
      out.push(...found.resources);
      for (const r of found.resources) bytes += Buffer.byteLength(JSON.stringify(r), 'utf8');
      // Past the response size the answer is refused anyway (includedResources): stop reading.
      if (!found.next || bytes > limits.MAX_RESPONSE_BYTES) break;
      if (deadline.remaining() <= 0) throw new DeadlineExceededError();
      query = { ...query, cursor: found.next };
    }
    if (bytes > limits.MAX_RESPONSE_BYTES) break;
  }
  return out;
}

/** `POST [type]/$validate` on a study type: for a client that may create or read the type. Nothing stored. */
function validate(type: string, req: HttpRequest, deps: ServeDeps, limits: Limits): HttpResponse {
  if (!storeTypes.has(type)) {
    throw new OperationOutcomeError(badRequest(`$validate is offered on the study's stored types, not '${type.slice(0, 64)}'`, 'type'));
  }
  const principal = principalFromClaims(req.claims ?? {});
  try {
    requireScope(principal, type, 'c');
  } catch {
    requireScope(principal, type, 'r');
  }
  requireJsonBody(req.headers['content-type'], req.body ?? Buffer.alloc(0));
  return { status: 200, body: validateOperation(type, req.body, single(req.query.profile), deps.conformance, limits) };
}

/** The patient compartment as the store indexes it: every store type searchable by `patient` (not Provenance, AuditEvent). */
const COMPARTMENT: readonly ResourceType[] = STORE_TYPES.filter((t) => storeSearchParam(t, 'patient')?.role === 'patient');

/**
 * `GET Patient/{id}/$everything` (R4 patient-operation-everything): the Patient, then its compartment
 * type by type, paginated by `_count` with a cursor that names the type and the store's own cursor
 * in it. `total` counts every type's matches (and the Patient). Only `_count` is read: `start`, `end`,
 * `_since` and `_type` are refused rather than ignored.
 */
async function everything(id: string, req: HttpRequest, deps: ServeDeps, limits: Limits, deadline: Deadline): Promise<HttpResponse> {
  if (!ID.test(id)) throw new OperationOutcomeError(badRequest('Invalid id', 'id'));
  const principal = principalFromClaims(req.claims ?? {});
  requireScope(principal, 'Patient', 'r');
  for (const type of COMPARTMENT) requireScope(principal, type, 's');
  const unknown = Object.keys(req.query).find((k) => !['_count', '_cursor', '_format'].includes(k));
  if (unknown) throw new OperationOutcomeError(badRequest(`Parameter '${unknown.slice(0, 40)}' is not supported on $everything`, unknown));
  const count = toStoreQuery('Patient', { _count: single(req.query._count) ?? '50' }, limits.MAX_SEARCH_COUNT).count;
  const patient = await deps.store.read('Patient', id);
  if (!patient) throw new OperationOutcomeError(notFound);
  let cursor = readEverythingCursor(single(req.query._cursor));
  const resources: StoredResource[] = cursor ? [] : [patient];
  let next: string | undefined;
  while (cursor === undefined || cursor.t < COMPARTMENT.length) {
    cursor ??= { t: 0 };
    const want = count - resources.length;
    if (want <= 0) {
      next = JSON.stringify(cursor);
      break;
    }
    const query: StoreQuery = { resourceType: COMPARTMENT[cursor.t]!, patient: id, count: want, ...(cursor.c ? { cursor: cursor.c } : {}) };
    const page = await pageWithinBudget(query, deps.store, limits.MAX_RESPONSE_BYTES);
    resources.push(...page.resources);
    cursor = page.next ? { t: cursor.t, c: page.next } : { t: cursor.t + 1 };
    if (page.next && page.resources.length < want) {
      // The byte budget cut the page: the rest waits for the next one.
      next = JSON.stringify(cursor);
      break;
    }
  }
  let total = 1;
  for (const type of COMPARTMENT) total += await countMatches(type, { patient: id }, deps, limits, deadline);
  return {
    status: 200,
    body: searchset({ resources, next: next ? Buffer.from(next).toString('base64url') : undefined, total, subset: { kind: 'full' } }, req),
  };
}

function readEverythingCursor(raw: string | undefined): { t: number; c?: string } | undefined {
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { t?: unknown; c?: unknown };
    if (Number.isInteger(parsed.t) && (parsed.t as number) >= 0 && (parsed.t as number) <= COMPARTMENT.length && (parsed.c === undefined || typeof parsed.c === 'string')) {
      return { t: parsed.t as number, ...(typeof parsed.c === 'string' ? { c: parsed.c } : {}) };
    }
  } catch {
    // Answered below.
  }
  throw new OperationOutcomeError(badRequest('Invalid _cursor', '_cursor'));
}

/**
 * A history Bundle (R4 bdl-3, bdl-4: every entry has a request and a response). The ingest writes
 * every resource by PUT on its deterministic id, so the oldest version was a create (201) and each
 * later one an update (200); the store keeps no deletes.
 */
/** The most current resources one type- or system-level history page looks at before asking for `_since`. */
const MAX_HISTORY_RESOURCES = 5000;
const HISTORY_PARAMETERS = new Set(['_since', '_count', '_cursor', '_format', '_pretty', '_summary', '_elements']);

/**
 * `GET [type]/_history` and `GET /_history` (R4 http.html#history): every version of the type's (or
 * every stored type's the token may read) resources, newest first, `_since` and `_count`, paged by a
 * `next` link. See {@link typeHistory} for what it reads.
 */
async function historyOfTypes(type: string | undefined, req: HttpRequest, deps: ServeDeps, limits: Limits, deadline: Deadline): Promise<HttpResponse> {
  const principal = principalFromClaims(req.claims ?? {});
  let types: ResourceType[];
  if (type === undefined) {
    types = STORE_TYPES.filter((t) => can(principal.scopes, t, 'r'));
    if (types.length === 0) requireScope(principal, 'Patient', 'r');
  } else {
    if (!storeTypes.has(type)) {
      throw new OperationOutcomeError(conformanceTypes.has(type) ? notSupported(`${type} is served from the study's files without history`) : badRequest(`Resource type '${type.slice(0, 64)}' is not served here`, 'type'));
    }
    requireScope(principal, type, 'r');
    types = [type as ResourceType];
  }
  const unknown = Object.keys(req.query).find((k) => !HISTORY_PARAMETERS.has(k));
  if (unknown) throw new OperationOutcomeError(badRequest(`History parameter '${unknown.slice(0, 64)}' is not supported`, unknown.slice(0, 64)));
  const sinceText = single(req.query._since);
  const since = sinceText === undefined ? undefined : new Date(sinceText);
  if (since !== undefined && (Number.isNaN(since.getTime()) || !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(sinceText ?? ''))) {
    throw new OperationOutcomeError(badRequest('_since must be a FHIR instant', '_since'));
  }
  const count = Number(single(req.query._count) ?? '50');
  if (!Number.isInteger(count) || count < 1 || count > limits.MAX_SEARCH_COUNT) {
    throw new OperationOutcomeError(badRequest(`_count must be an integer from 1 to ${limits.MAX_SEARCH_COUNT}`, '_count'));
  }
  const before = single(req.query._cursor);
  const page = await typeHistory(types, { ...(since ? { since: since.toISOString() } : {}), count, ...(before ? { before } : {}) }, deps.store, MAX_HISTORY_RESOURCES, deadline);
  const bundle = historyBundle(page.versions, req, subsetOf(req.query));
  const { total: _pageSize, ...rest } = bundle;
  return {
    status: 200,
    body: { ...rest, link: [...(rest.link ?? []), ...(page.next ? [{ relation: 'next', url: `${req.baseUrl}${req.path}${queryString({ ...req.query, _cursor: page.next })}` }] : [])] },
  };
}

function historyBundle(versions: readonly StoredResource[], req: HttpRequest, subset: Subset): Bundle {
  const entry: BundleEntry[] = versions.map((r) => ({
    fullUrl: `${req.baseUrl}/${r.resourceType}/${r.id}`,
    resource: applySubset(r, subset),
    request: { method: 'PUT', url: `${r.resourceType}/${r.id}` },
    response: {
      // Versions are numbered from 1: the first is the create, every later one an update.
      status: r.meta.versionId === '1' ? '201 Created' : '200 OK',
      etag: `W/"${r.meta.versionId}"`,
      lastModified: r.meta.lastUpdated,
    },
  }));
  return { resourceType: 'Bundle', type: 'history', total: versions.length, link: [{ relation: 'self', url: selfUrl(req) }], entry };
}

/**
 * `_summary=count`: from the store's count when it has one (index entries only, no resource
 * loaded); otherwise page by page, at most MAX_SEARCH_COUNT resources a page, checking the deadline
 * between pages so that a count too large for the time answers 503, never a Lambda timeout.
 */
async function countMatches(type: ResourceType, params: Query, deps: ServeDeps, limits: Limits, deadline: Deadline): Promise<number> {
  const { _summary: _ignored, _count: _ignoredCount, _cursor: _ignoredCursor, ...rest } = params;
  let query = toStoreQuery(type, { ...rest, _count: String(limits.MAX_SEARCH_COUNT) }, limits.MAX_SEARCH_COUNT);
  if (matchesNothing(query)) return 0;
  if (canCount(deps.store)) {
    return deps.store.count(query);
  }
  let total = 0;
  for (;;) {
    const page = await deps.store.search(query);
    total += page.resources.length;
    if (!page.next) return total;
    if (deadline.remaining() <= 0) throw new DeadlineExceededError();
    query = { ...query, cursor: page.next };
  }
}

/** JSON bytes an entry adds to a searchset besides its resource (fullUrl, search mode, punctuation). */
const ENTRY_OVERHEAD_BYTES = 256;
/** The Bundle around the entries (links carry the query, which MAX_QUERY_CHARS bounds). */
const BUNDLE_OVERHEAD_BYTES = 4 * 4096 + 1024;

/**
 * One search page whose JSON stays within `budget` bytes: when the store's page is larger, the
 * same search is asked again for as many resources as fit, so that its `next` cursor resumes right
 * after the last one sent (the cursor is the store's own; serve cannot cut a page itself).
 * @param query - The store query.
 * @param store - The store.
 * @param budget - Bytes the response may carry (below Lambda's 6 MB).
 * @returns The page.
 */
async function pageWithinBudget(query: StoreQuery, store: StudyStore, budget: number): Promise<{ resources: readonly StoredResource[]; next?: string }> {
  const page = await store.search(query);
  let used = BUNDLE_OVERHEAD_BYTES;
  let fit = 0;
  for (const resource of page.resources) {
    used += Buffer.byteLength(JSON.stringify(resource), 'utf8') + ENTRY_OVERHEAD_BYTES;
    if (used > budget) break;
    fit++;
  }
  if (fit === page.resources.length) return page;
  return store.search({ ...query, count: Math.max(1, fit) });
}

function queryChars(query: Readonly<Record<string, string | string[] | undefined>>): number {
  let chars = 0;
  for (const [key, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) chars += key.length + v.length + 2;
  }
  return chars;
}

function serveConformance(type: ResourceType, id: string | undefined, req: HttpRequest, deps: ServeDeps, subset: Subset): HttpResponse {
  if (id !== undefined) {
    const resource = deps.conformance.get(type, id);
    if (!resource) {
      throw new OperationOutcomeError(notFound);
    }
    return { status: 200, body: applySubset(resource, subset) };
  }
  const resources = searchConformance(deps.conformance, type, req.query);
  if (req.query._summary === 'count') {
    return { status: 200, body: { resourceType: 'Bundle', type: 'searchset', total: resources.length } };
  }
  return { status: 200, body: searchset({ resources, total: resources.length, subset }, req) };
}

function isServed(type: string): type is ResourceType {
  return storeTypes.has(type) || conformanceTypes.has(type);
}

/**
 * A read or vread, with its validators (ETag, Last-Modified) and the conditional read of FHIR R4
 * http.html#cread: `If-None-Match` first (RFC 9110 13.2.2: it overrides `If-Modified-Since`), 304
 * when the client's copy is current.
 */
function found(resource: StoredResource | undefined, req: HttpRequest, subset: Subset): HttpResponse {
  if (!resource) {
    throw new OperationOutcomeError(notFound);
  }
  const headers = { etag: `W/"${resource.meta.versionId}"`, 'last-modified': new Date(resource.meta.lastUpdated).toUTCString() };
  if (notModified(resource, req.headers['if-none-match'], req.headers['if-modified-since'])) {
    return { status: 304, body: resource, headers };
  }
  return { status: 200, body: applySubset(resource, subset), headers };
}

function notModified(resource: StoredResource, ifNoneMatch: string | undefined, ifModifiedSince: string | undefined): boolean {
  if (ifNoneMatch !== undefined) {
    // Weak comparison (RFC 9110 8.8.3.2): `W/"2"` and `"2"` name the same version.
    const tags = ifNoneMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
    return tags.includes('*') || tags.includes(`"${resource.meta.versionId}"`);
  }
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    // HTTP dates have whole seconds: a change within the same second as the client's copy counts as none.
    return !Number.isNaN(since) && Math.floor(Date.parse(resource.meta.lastUpdated) / 1000) * 1000 <= since;
  }
  return false;
}

function searchset(
  {
    resources,
    next,
    total,
    subset,
    included = [],
  }: { resources: readonly Resource[]; next?: string | undefined; total?: number | undefined; subset: Subset; included?: readonly Resource[] },
  req: HttpRequest,
): Bundle {
  const entry: BundleEntry[] = [
    ...resources.map((r) => ({ fullUrl: `${req.baseUrl}/${r.resourceType}/${r.id as string}`, resource: applySubset(r, subset), search: { mode: 'match' as const } })),
    ...included.map((r) => ({ fullUrl: `${req.baseUrl}/${r.resourceType}/${r.id as string}`, resource: applySubset(r, subset), search: { mode: 'include' as const } })),
  ];
  const link = [{ relation: 'self', url: selfUrl(req) }];
  if (next) {
    link.push({ relation: 'next', url: `${req.baseUrl}${req.path}${queryString({ ...req.query, _cursor: next })}` });
  }
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(total === undefined ? {} : { total }),
    link,
    ...(entry.length > 0 ? { entry } : {}),
  };
}

function selfUrl(req: HttpRequest): string {
  return `${req.baseUrl}${req.path}${queryString(req.query)}`;
}

function mergeQuery(query: Query, form: readonly [string, string][]): Query {
  // No prototype, as in fromApiGateway: a parameter named `constructor` must not find an inherited member.
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  const add = (key: string, value: string): void => {
    const prior = out[key];
    out[key] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
  };
  for (const [key, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) add(key, v);
  }
  for (const [key, value] of form) add(key, value);
  return out;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

const smartNotConfigured: OperationOutcome = {
  resourceType: 'OperationOutcome',
  id: 'not-found',
  issue: [{ severity: 'error', code: 'not-found', details: { text: 'SMART discovery is not configured here (JWT_ISSUER and SMART_TOKEN_ENDPOINT)' } }],
};

function notSupported(text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-supported', details: { text } }] };
}

function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      params.append(key, v);
    }
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}
