/**
 * Reads bounded (issue 14): pages cut by a byte budget below Lambda's 6 MB response limit with a
 * `next` link that resumes after the last resource sent; `_count` capped; `_summary=count` from the
 * store's count when it has one; over-long query strings and unrouted paths answered with outcomes.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { Conformance } from '../../../lambdas/commons/conformance/index.js';
import type { HttpRequest } from '../../../lambdas/commons/http/request.js';
import { DEFAULT_LIMITS } from '../../../lambdas/commons/limits.js';
import type { SearchPage, StoredResource, StoreQuery, StudyStore } from '../../../lambdas/commons/store/port.js';
import { handleServe } from '../../../lambdas/serve/serve-request.js';

/** A store of `n` Observations of about `bytes` each, paged by a cursor that is the next index. */
function fakeStore(n: number, bytes: number, withCount = false) {
  const all: StoredResource<Observation>[] = Array.from({ length: n }, (_, i) => ({
    resourceType: 'Observation',
    id: `o${i}`,
    status: 'final',
    code: { text: 'x'.repeat(bytes) },
    meta: { versionId: '1', lastUpdated: '2026-01-01T00:00:00Z' },
  }));
  const searches: StoreQuery[] = [];
  const store = {
    search: (query: StoreQuery): Promise<SearchPage> => {
      searches.push(query);
      const from = query.cursor ? Number(query.cursor) : 0;
      const resources = all.slice(from, from + query.count);
      const end = from + resources.length;
      return Promise.resolve(end < all.length ? { resources, next: String(end) } : { resources });
    },
    ...(withCount ? { count: (_query: StoreQuery) => Promise.resolve(n) } : {}),
  };
  return { store: store as unknown as StudyStore, searches };
}

const request = (query: Record<string, string>, path = '/Observation'): HttpRequest => ({
  method: 'GET',
  path,
  query,
  headers: {},
  claims: { sub: 'c', scope: 'system/*.rs' },
  baseUrl: 'https://api.example/fhir',
});

const deps = (store: StudyStore, limits = DEFAULT_LIMITS) => ({
  conformance: {} as Conformance,
  store,
  logger: new Logger({ logLevel: 'SILENT' }),
  now: () => new Date('2026-01-01T00:00:00Z'),
  limits,
});

describe('Function: handleServe (bounds)', () => {
  it('cuts a page at the byte budget and links the rest, so that no resource is lost or repeated', async () => {
    const { store } = fakeStore(40, 10_000);
    const limits = { ...DEFAULT_LIMITS, MAX_RESPONSE_BYTES: 100_000 };
    const seen: string[] = [];
    let query: Record<string, string> = { _count: '40' };
    for (let pages = 0; pages < 20; pages++) {
      const res = await handleServe(request(query), deps(store, limits));
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(JSON.stringify(res.body))).toBeLessThanOrEqual(limits.MAX_RESPONSE_BYTES);
      const body = res.body as { entry?: { resource: { id: string } }[]; link: { relation: string; url: string }[] };
      seen.push(...(body.entry ?? []).map((e) => e.resource.id));
      const next = body.link.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      query = Object.fromEntries(new URL(next).searchParams);
    }
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => `o${i}`));
  });

  it('keeps a page that fits whole in one store query', async () => {
    const { store, searches } = fakeStore(10, 100);
    await handleServe(request({ _count: '10' }), deps(store));
    expect(searches).toHaveLength(1);
  });

  it('refuses a _count above MAX_SEARCH_COUNT, naming the maximum', async () => {
    const { store } = fakeStore(1, 10);
    const res = await handleServe(request({ _count: String(DEFAULT_LIMITS.MAX_SEARCH_COUNT + 1) }), deps(store));
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain(`from 1 to ${DEFAULT_LIMITS.MAX_SEARCH_COUNT}`);
  });

  it('answers _summary=count from the store count without loading a resource when the store can count', async () => {
    const { store, searches } = fakeStore(3_261, 10, true);
    const res = await handleServe(request({ _summary: 'count' }), deps(store));
    expect(res.body).toEqual({ resourceType: 'Bundle', type: 'searchset', total: 3_261 });
    expect(searches).toHaveLength(0);
  });

  it('counts page by page when the store cannot count', async () => {
    const { store, searches } = fakeStore(2_500, 10);
    const res = await handleServe(request({ _summary: 'count' }), deps(store));
    expect(res.body).toMatchObject({ total: 2_500 });
    expect(searches).toHaveLength(3);
  });

  it('refuses a query string longer than MAX_QUERY_CHARS with 414 before parsing it', async () => {
    const { store, searches } = fakeStore(1, 10);
    const res = await handleServe(request({ code: '7'.repeat(DEFAULT_LIMITS.MAX_QUERY_CHARS) }), deps(store));
    expect(res.status).toBe(414);
    expect(searches).toHaveLength(0);
  });

  it('answers an unrouted path with a 404 OperationOutcome, and another method with 405', async () => {
    const { store } = fakeStore(1, 10);
    const get = await handleServe({ ...request({}, '/nowhere'), unrouted: true }, deps(store));
    expect(get.status).toBe(404);
    expect(get.body.resourceType).toBe('OperationOutcome');
    const del = await handleServe({ ...request({}, '/Observation/o1'), method: 'DELETE', unrouted: true }, deps(store));
    expect(del.status).toBe(405);
  });
});
