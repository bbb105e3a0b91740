import { badRequest, notFound, OperationOutcomeError } from '@medplum/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import { principalFromClaims, requireScope } from '../commons/auth/index.js';
import type { Conformance } from '../commons/conformance/index.js';
import { errorLogFields, methodNotAllowed, outcomeOf } from '../commons/http/outcomes.js';
import { outcomeResponse, type HttpRequest, type HttpResponse } from '../commons/http/request.js';
import type { StoredResource, StudyStore } from '../commons/store/port.js';
import { capabilityStatement, CONFORMANCE_TYPES, STORE_TYPES } from './core/capability-statement.js';
import { searchConformance } from './core/conformance-search.js';
import { MAX_COUNT, toStoreQuery } from './core/search-query.js';

/** The serve function's ports. */
export interface ServeDeps {
  readonly conformance: Conformance;
  readonly store: StudyStore;
  readonly logger: Logger;
  readonly now: () => Date;
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
  try {
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
    return await serveStore(type, id, history, versionId, req, deps);
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
): Promise<HttpResponse> {
  if (id === undefined) {
    if (req.query._summary === 'count') {
      return { status: 200, body: { resourceType: 'Bundle', type: 'searchset', total: await countMatches(type, req, deps) } };
    }
    const query = toStoreQuery(type, req.query);
    const page = await deps.store.search(query);
    return { status: 200, body: searchset(page.resources, req, page.next) };
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

/** `_summary=count`: the number of matches, counted page by page (the study's record counts are small). */
async function countMatches(type: ResourceType, req: HttpRequest, deps: ServeDeps): Promise<number> {
  const { _summary: _ignored, ...rest } = req.query;
  let query = toStoreQuery(type, { ...rest, _count: String(MAX_COUNT) });
  let total = 0;
  for (;;) {
    const page = await deps.store.search(query);
    total += page.resources.length;
    if (!page.next) return total;
    query = { ...query, cursor: page.next };
  }
}

function serveConformance(type: ResourceType, id: string | undefined, req: HttpRequest, deps: ServeDeps): HttpResponse {
  if (id !== undefined) {
    const resource = deps.conformance.get(type, id);
    if (!resource) {
      throw new OperationOutcomeError(notFound);
    }
    return { status: 200, body: resource };
  }
  return { status: 200, body: searchset(searchConformance(deps.conformance, type, req.query), req) };
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

function searchset(resources: readonly Resource[], req: HttpRequest, next?: string): Bundle {
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
