import { badRequest, notFound, OperationOutcomeError } from '@medplum/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import { principalFromClaims, requireScope } from '../commons/auth/index.js';
import type { Conformance } from '../commons/conformance/index.js';
import { Deadline, DeadlineExceededError, withinDeadline } from '../commons/http/deadline.js';
import { deadlineExceeded, errorLogFields, methodNotAllowed, noRoute, outcomeOf, uriTooLong } from '../commons/http/outcomes.js';
import { outcomeResponse, type HttpRequest, type HttpResponse } from '../commons/http/request.js';
import { limits as processLimits, type Limits } from '../commons/limits.js';
import type { StoredResource, StoreQuery, StudyStore } from '../commons/store/port.js';
import { capabilityStatement, CONFORMANCE_TYPES, STORE_TYPES } from './core/capability-statement.js';
import { searchConformance } from './core/conformance-search.js';
import { toStoreQuery } from './core/search-query.js';

/** The serve function's ports. */
export interface ServeDeps {
  readonly conformance: Conformance;
  readonly store: StudyStore;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Cost limits (default: from the environment, see lambdas/commons/limits.ts). */
  readonly limits?: Limits;
}

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
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new OperationOutcomeError(methodNotAllowed(req.method, req.path));
    }
    if (parts.length === 1 && parts[0] === 'metadata') {
      // The CapabilityStatement is public, as FHIR clients read it before they authenticate.
      return { status: 200, body: capabilityStatement(deps.conformance, req.baseUrl, deps.now()) };
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
    if (conformanceTypes.has(type)) {
      return serveConformance(type, id, req, deps);
    }
    return await serveStore(type, id, history, versionId, req, deps, limits, deadline);
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
): Promise<HttpResponse> {
  if (id === undefined) {
    if (req.query._summary === 'count') {
      return { status: 200, body: { resourceType: 'Bundle', type: 'searchset', total: await countMatches(type, req, deps, limits, deadline) } };
    }
    const query = toStoreQuery(type, req.query, limits.MAX_SEARCH_COUNT);
    return { status: 200, body: searchset(await pageWithinBudget(query, deps.store, limits.MAX_RESPONSE_BYTES), req) };
  }
  if (history === undefined) {
    return found(await deps.store.read(type, id));
  }
  if (versionId === undefined) {
    const versions = await deps.store.history(type, id);
    if (versions.length === 0) {
      throw new OperationOutcomeError(notFound);
    }
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'history',
      total: versions.length,
      entry: versions.map((r) => ({ fullUrl: `${req.baseUrl}/${type}/${r.id}`, resource: r })),
    };
    return { status: 200, body: bundle };
  }
  if (!ID.test(versionId)) {
    throw new OperationOutcomeError(badRequest('Invalid version id', 'vid'));
  }
  return found(await deps.store.vread(type, id, versionId));
}

/**
 * `_summary=count`: from the store's count when it has one (index entries only, no resource
 * loaded); otherwise page by page, at most MAX_SEARCH_COUNT resources a page, checking the deadline
 * between pages so that a count too large for the time answers 503, never a Lambda timeout.
 */
async function countMatches(type: ResourceType, req: HttpRequest, deps: ServeDeps, limits: Limits, deadline: Deadline): Promise<number> {
  const { _summary: _ignored, _count: _ignoredCount, ...rest } = req.query;
  let query = toStoreQuery(type, { ...rest, _count: String(limits.MAX_SEARCH_COUNT) }, limits.MAX_SEARCH_COUNT);
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

function serveConformance(type: ResourceType, id: string | undefined, req: HttpRequest, deps: ServeDeps): HttpResponse {
  if (id !== undefined) {
    const resource = deps.conformance.get(type, id);
    if (!resource) {
      throw new OperationOutcomeError(notFound);
    }
    return { status: 200, body: resource };
  }
  return { status: 200, body: searchset({ resources: searchConformance(deps.conformance, type, req.query) }, req) };
}

function isServed(type: string): type is ResourceType {
  return storeTypes.has(type) || conformanceTypes.has(type);
}

function found(resource: StoredResource | undefined): HttpResponse {
  if (!resource) {
    throw new OperationOutcomeError(notFound);
  }
  return {
    status: 200,
    body: resource,
    headers: { etag: `W/"${resource.meta.versionId}"`, 'last-modified': new Date(resource.meta.lastUpdated).toUTCString() },
  };
}

function searchset({ resources, next }: { resources: readonly Resource[]; next?: string | undefined }, req: HttpRequest): Bundle {
  const self = `${req.baseUrl}${req.path}${queryString(req.query)}`;
  const link = [{ relation: 'self', url: self }];
  if (next) {
    link.push({ relation: 'next', url: `${req.baseUrl}${req.path}${queryString({ ...req.query, _cursor: next })}` });
  }
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(next ? {} : { total: resources.length }),
    link,
    entry: resources.map((r) => ({ fullUrl: `${req.baseUrl}/${r.resourceType}/${r.id as string}`, resource: r, search: { mode: 'match' } })),
  };
}

function queryString(query: Readonly<Record<string, string | string[] | undefined>>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      params.append(key, v);
    }
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}
