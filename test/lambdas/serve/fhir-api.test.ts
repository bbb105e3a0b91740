/**
 * Issue 15: a FHIR API that strict clients accept. Valid R4 Bundles (history request/response,
 * `total` on every page), an honest CapabilityStatement (validated by the layer's base validation,
 * and every declared or known-undeclared search parameter and interaction called), SMART discovery,
 * JSON-only content negotiation, conditional reads, `_summary`/`_elements`, ANDed repeats and POST
 * `_search`. Over an in-memory store that filters with the store's own `matchesQuery`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Bundle, CapabilityStatement, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadConformance } from '../../../lambdas/commons/conformance/index.js';
import { validateBase } from '../../../lambdas/commons/fhir/validate-base.js';
import type { HttpRequest, HttpResponse } from '../../../lambdas/commons/http/request.js';
import { matchesQuery } from '../../../lambdas/commons/store/index-keys.js';
import type { SearchPage, StoredResource, StoreQuery, StudyStore } from '../../../lambdas/commons/store/port.js';
import { CONFORMANCE_TYPES, STORE_TYPES } from '../../../lambdas/serve/core/capability-statement.js';
import { storeSearchParam } from '../../../lambdas/serve/core/search-parameters.js';
import { SUBSETTED } from '../../../lambdas/serve/core/subsetting.js';
import { handleServe, type ServeDeps } from '../../../lambdas/serve/serve-request.js';

const BASE = 'https://api.example/fhir';
const conformance = loadConformance();

/** Every version of every resource, oldest first; `search` pages by index and filters with `matchesQuery`. */
function memoryStore(versions: StoredResource[]): StudyStore & { searches: StoreQuery[] } {
  const current = (): StoredResource[] => {
    const latest = new Map<string, StoredResource>();
    for (const v of versions) latest.set(`${v.resourceType}/${v.id}`, v);
    return [...latest.values()];
  };
  const searches: StoreQuery[] = [];
  return {
    searches,
    read: <T extends Resource>(type: string, id: string) => Promise.resolve(current().find((r) => r.resourceType === type && r.id === id) as StoredResource<T> | undefined),
    vread: <T extends Resource>(type: string, id: string, vid: string) =>
      Promise.resolve(versions.find((r) => r.resourceType === type && r.id === id && r.meta.versionId === vid) as StoredResource<T> | undefined),
    history: <T extends Resource>(type: string, id: string) =>
      Promise.resolve(versions.filter((r) => r.resourceType === type && r.id === id).reverse() as StoredResource<T>[]),
    search: (query: StoreQuery): Promise<SearchPage> => {
      searches.push(query);
      const all = current().filter((r) => matchesQuery(r, query));
      const from = query.cursor ? Number(query.cursor) : 0;
      const resources = all.slice(from, from + query.count);
      return Promise.resolve(from + resources.length < all.length ? { resources, next: String(from + resources.length) } : { resources });
    },
    commit: () => Promise.reject(new Error('read-only')),
    pendingEvents: () => Promise.resolve([]),
    ackEvent: () => Promise.resolve(),
    sweep: () => Promise.resolve(),
  };
}

const meta = (versionId: string, lastUpdated = '2026-01-0' + versionId + 'T10:00:00.000Z') => ({ versionId, lastUpdated });

const observation = (id: string, codes: string[], patient = 'p1', versionId = '1'): StoredResource => ({
  resourceType: 'Observation',
  id,
  meta: meta(versionId),
  status: 'final',
  code: { coding: codes.map((code) => ({ system: 'http://loinc.org', code })) },
  subject: { reference: `Patient/${patient}` },
  effectiveDateTime: '2024-06-03',
  valueQuantity: { value: 1, unit: 'g', system: 'http://unitsofmeasure.org', code: 'g' },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' },
});

function deps(store: StudyStore, extra: Partial<ServeDeps> = {}): ServeDeps {
  return { conformance, store, logger: new Logger({ logLevel: 'SILENT' }), now: () => new Date('2026-01-10T00:00:00Z'), ...extra };
}

function request(path: string, query: Record<string, string | string[]> = {}, more: Partial<HttpRequest> = {}): HttpRequest {
  return { method: 'GET', path, query, headers: {}, claims: { sub: 'c', scope: 'system/*.rs system/AuditEvent.rs' }, baseUrl: BASE, ...more };
}

const serve = (store: StudyStore, path: string, query: Record<string, string | string[]> = {}, more: Partial<HttpRequest> = {}, extra: Partial<ServeDeps> = {}): Promise<HttpResponse> =>
  handleServe(request(path, query, more), deps(store, extra));

const errors = (resource: Resource) => validateBase(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');

/** Paths of every empty array or object (R4 ele-1: no element without a value or children). */
function emptyPaths(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.length === 0 ? [path] : value.flatMap((v, i) => emptyPaths(v, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length === 0 ? [path] : entries.flatMap(([k, v]) => emptyPaths(v, `${path}.${k}`));
  }
  return [];
}

describe('Bundles', () => {
  it('gives every history entry a request and a response (bdl-3, bdl-4), oldest a create, and validates', async () => {
    const store = memoryStore([observation('o1', ['777-3'], 'p1', '1'), observation('o1', ['777-3'], 'p1', '2')]);
    const res = await serve(store, '/Observation/o1/_history');
    const bundle = res.body as Bundle;
    expect(bundle.entry?.map((e) => [e.request?.method, e.request?.url, e.response?.status, e.response?.etag])).toEqual([
      ['PUT', 'Observation/o1', '200 OK', 'W/"2"'],
      ['PUT', 'Observation/o1', '201 Created', 'W/"1"'],
    ]);
    expect(bundle.entry?.[0]?.response?.lastModified).toBe('2026-01-02T10:00:00.000Z');
    expect(errors(bundle)).toEqual([]);
  });

  it('puts the count of all matches in total on every page, and none with _total=none', async () => {
    const store = memoryStore(Array.from({ length: 5 }, (_, i) => observation(`o${i}`, ['777-3'])));
    const first = (await serve(store, '/Observation', { _count: '2' })).body as Bundle;
    expect(first.total).toBe(5);
    const next = new URL(first.link!.find((l) => l.relation === 'next')!.url);
    const second = (await serve(store, '/Observation', Object.fromEntries(next.searchParams))).body as Bundle;
    expect(second.entry).toHaveLength(2);
    expect(second.total).toBe(5);
    expect(errors(first)).toEqual([]);
    expect(((await serve(store, '/Observation', { _count: '2', _total: 'none' })).body as Bundle).total).toBeUndefined();
    expect((await serve(store, '/Observation', { _total: 'sometimes' })).status).toBe(400);
  });

  it('answers an empty search with total 0 and no empty entry array', async () => {
    const body = (await serve(memoryStore([]), '/Observation', { code: '1-1' })).body as Bundle;
    expect(body.total).toBe(0);
    expect(body.entry).toBeUndefined();
    expect(errors(body)).toEqual([]);
  });

  it('serves type- and system-level history newest first, with _since, _count and next links (R4 http.html#history)', async () => {
    const store = memoryStore([observation('o1', ['777-3']), observation('o2', ['777-3'])]);
    for (const path of ['/Observation/_history', '/_history']) {
      const res = await serve(store, path);
      expect(res.status, path).toBe(200);
      const body = res.body as Bundle;
      expect(body.type).toBe('history');
      expect(errors(body)).toEqual([]);
      expect(body.entry?.map((e) => e.resource?.id).sort()).toEqual(['o1', 'o2']);
      expect(body.entry?.every((e) => e.request?.method === 'PUT' && e.response?.status === '201 Created')).toBe(true);
      const stamps = body.entry?.map((e) => e.response?.lastModified ?? '') ?? [];
      expect([...stamps].sort().reverse()).toEqual(stamps);
    }
    const first = (await serve(store, '/Observation/_history', { _count: '1' })).body as Bundle;
    expect(first.entry).toHaveLength(1);
    const next = first.link?.find((l) => l.relation === 'next')?.url ?? '';
    const cursor = new URL(next).searchParams.get('_cursor') ?? '';
    const second = (await serve(store, '/Observation/_history', { _count: '1', _cursor: cursor })).body as Bundle;
    expect(second.entry).toHaveLength(1);
    expect(second.entry?.[0]?.resource?.id).not.toBe(first.entry?.[0]?.resource?.id);
    expect(second.link?.some((l) => l.relation === 'next')).toBe(false);
    const future = (await serve(store, '/Observation/_history', { _since: '2999-01-01T00:00:00Z' })).body as Bundle;
    expect(future.entry ?? []).toEqual([]);
    for (const bad of [{ _since: 'yesterday' }, { _count: '0' }, { code: 'x' }] as Record<string, string>[]) {
      expect((await serve(store, '/Observation/_history', bad)).status, JSON.stringify(bad)).toBe(400);
    }
  });
});

describe('CapabilityStatement', () => {
  const statement = async (extra: Partial<ServeDeps> = {}) => (await serve(memoryStore([]), '/metadata', {}, { claims: {} }, extra)).body as CapabilityStatement;

  it('passes the layer base validation and has no empty array or object', async () => {
    const cs = await statement();
    expect(errors(cs)).toEqual([]);
    expect(emptyPaths(cs)).toEqual([]);
  });

  it('declares the identity and settle operations and, when configured, the SMART oauth URIs', async () => {
    const cs = await statement({ smart: { issuer: 'https://idp.example/', tokenEndpoint: 'https://idp.example/token' } });
    const rest = cs.rest![0]!;
    expect(rest.resource!.find((r) => r.type === 'Patient')!.operation!.map((o) => o.name)).toEqual(['everything', 'hospital-identity', 'validate']);
    expect(rest.resource!.find((r) => r.type === 'Task')!.operation!.map((o) => o.name)).toEqual(['settle', 'validate']);
    expect(JSON.stringify(rest.security)).toContain('https://idp.example/token');
    expect(errors(cs)).toEqual([]);
  });

  /** A value of each search parameter type that parses. */
  const SAMPLE: Record<string, string> = { reference: 'Patient/p1', token: 'http://loinc.org|777-3', date: 'ge2024-01-01', uri: 'http://x.example/p', string: 'abc' };
  /** Parameters clients send that the layer may or may not answer: each must be answered exactly when declared. */
  const KNOWN = ['patient', 'subject', 'individual', 'code', 'date', 'status', 'category', 'identifier', 'url', 'name', 'focus', 'target', 'onset-date', 'recorded-date', 'authored-on', 'sent', 'recorded'];
  const RESULT_PARAMS = { _sort: 'code', _revinclude: 'Provenance:entity', _contained: 'true', _offset: '10', '_include:iterate': 'Observation:derived-from' };

  it('declares exactly the search parameters and interactions each type answers', async () => {
    const cs = await statement();
    const stored: StoredResource[] = [...STORE_TYPES].map((type) => ({ resourceType: type, id: 'x1', meta: meta('1') }) as StoredResource);
    const store = memoryStore(stored);
    const mismatches: string[] = [];
    // Subscription is answered by the subscriptions function, not serve; test/api/subscriptions.int.test.ts checks its declaration.
    for (const resource of cs.rest![0]!.resource!.filter((r) => r.type !== 'Subscription')) {
      const type = resource.type;
      const declared = new Map((resource.searchParam ?? []).map((p) => [p.name, p.type]));
      const names = new Set([...declared.keys(), ...KNOWN]);
      for (const name of names) {
        const kind = declared.get(name) ?? (name.includes('date') || ['sent', 'recorded', 'date'].includes(name) ? 'date' : 'token');
        const res = await serve(store, `/${type}`, { [name]: SAMPLE[kind]! });
        if ((res.status === 200) !== declared.has(name)) mismatches.push(`${type}?${name} → ${res.status} (declared: ${declared.has(name)})`);
      }
      for (const [name, value] of Object.entries(RESULT_PARAMS)) {
        const res = await serve(store, `/${type}`, { [name]: value });
        if (res.status !== 400) mismatches.push(`${type}?${name} → ${res.status} (not declared)`);
      }
      // `_sort`: the keys the type's documentation names answer (date-ordered with a date filter, lastUpdated
      // with no filter); a sort the index does not keep is refused.
      const sorts = /_sort: ([^(]*)\(/.exec(resource.documentation ?? '')?.[1]?.match(/-?[\w-]+/g)?.filter((k) => k !== 'or') ?? [];
      if (STORE_TYPES.includes(type as never)) expect(sorts, type).toContain('-_lastUpdated');
      for (const key of sorts) {
        const byDate = !key.endsWith('_lastUpdated');
        const res = await serve(store, `/${type}`, byDate ? { _sort: key, [key.replace(/^-/, '')]: 'ge2000-01-01' } : { _sort: key });
        if (res.status !== 200) mismatches.push(`${type}?_sort=${key} → ${res.status} (declared)`);
        if (byDate && (await serve(store, `/${type}`, { _sort: key })).status !== 400) mismatches.push(`${type}?_sort=${key} unfiltered not refused`);
      }
      if (STORE_TYPES.includes(type as never) && storeSearchParam(type, 'patient')) {
        const res = await serve(store, `/${type}`, { _sort: '_lastUpdated', patient: 'p1' });
        if (res.status !== 400) mismatches.push(`${type}?_sort=_lastUpdated&patient → ${res.status} (not in index order)`);
      }
      const includes = new Set(resource.searchInclude ?? []);
      for (const include of new Set([...includes, `${type}:patient`, `${type}:subject`, `${type}:focus`, `${type}:derived-from`, `${type}:nothing`, 'Patient:link'])) {
        const res = await serve(store, `/${type}`, { _include: include });
        if ((res.status === 200) !== includes.has(include)) mismatches.push(`${type}?_include=${include} → ${res.status} (declared: ${includes.has(include)})`);
      }
      const revincludes = new Set(resource.searchRevInclude ?? []);
      for (const revinclude of new Set([...revincludes, 'Provenance:target', 'Provenance:entity', 'Observation:derived-from', 'Task:focus'])) {
        const res = await serve(store, `/${type}`, { _revinclude: revinclude });
        if ((res.status === 200) !== revincludes.has(revinclude)) mismatches.push(`${type}?_revinclude=${revinclude} → ${res.status} (declared: ${revincludes.has(revinclude)})`);
      }
      const interactions = new Set((resource.interaction ?? []).map((i) => i.code));
      const id = CONFORMANCE_TYPES.includes(type as never) ? conformance.resources.find((r) => r.resourceType === type)?.id : 'x1';
      const calls: [string, string, string][] = [
        ['read', 'GET', `/${type}/${id}`],
        ['vread', 'GET', `/${type}/${id}/_history/1`],
        ['history-instance', 'GET', `/${type}/${id}/_history`],
        ['history-type', 'GET', `/${type}/_history`],
        ['search-type', 'GET', `/${type}`],
        ['create', 'POST', `/${type}`],
        ['update', 'PUT', `/${type}/${id}`],
        ['delete', 'DELETE', `/${type}/${id}`],
      ];
      for (const [code, method, path] of calls) {
        if (id === undefined) continue;
        const res = await serve(store, path, {}, { method });
        if ((res.status === 200) !== interactions.has(code as never)) mismatches.push(`${code} ${method} ${path} → ${res.status} (declared: ${interactions.has(code as never)})`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});

describe('SMART discovery', () => {
  it('answers 404 with an outcome until an identity provider is configured', async () => {
    const res = await serve(memoryStore([]), '/.well-known/smart-configuration', {}, { claims: {} });
    expect(res.status).toBe(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  it('names the issuer, token endpoint, backend-services capability and the scopes of each route', async () => {
    const smart = { issuer: 'https://idp.example/', tokenEndpoint: 'https://idp.example/oauth2/token' };
    const res = await serve(memoryStore([]), '/.well-known/smart-configuration', {}, { claims: {} }, { smart });
    expect(res.status).toBe(200);
    expect(res.headers?.['content-type']).toMatch(/^application\/json/);
    const body = res.body as unknown as Record<string, unknown>;
    expect(body).toMatchObject({ issuer: smart.issuer, token_endpoint: smart.tokenEndpoint, grant_types_supported: ['client_credentials'] });
    expect(body.capabilities).toContain('client-confidential-asymmetric');
    expect(body.capabilities).not.toContain('launch-standalone');
    expect(body.scopes_supported).toEqual(expect.arrayContaining(['system/*.rs', 'system/Observation.rs', 'system/*.cud', 'recruitment/identity.read', 'system/Task.u']));
    expect(body.code_challenge_methods_supported).toBeUndefined();
    const withAuthorize = await serve(memoryStore([]), '/.well-known/smart-configuration', {}, {}, { smart: { ...smart, authorizationEndpoint: 'https://idp.example/authorize' } });
    expect(withAuthorize.body).toMatchObject({ authorization_endpoint: 'https://idp.example/authorize', code_challenge_methods_supported: ['S256'] });
  });
});

describe('Content negotiation', () => {
  const store = memoryStore([observation('o1', ['777-3'])]);

  it('answers 406 to an Accept or _format that excludes JSON', async () => {
    for (const [query, accept] of [
      [{}, 'application/fhir+xml'],
      [{ _format: 'xml' }, undefined],
      [{ _format: 'application/fhir+xml' }, 'application/fhir+json'],
      [{}, 'application/fhir+json;q=0, application/xml'],
    ] as const) {
      const res = await serve(store, '/Observation/o1', { ...query }, { headers: accept ? { accept } : {} });
      expect(res.status, `${JSON.stringify(query)} ${accept}`).toBe(406);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
    expect((await serve(store, '/metadata', { _format: 'xml' }, { claims: {} })).status).toBe(406);
  });

  it('accepts JSON however it is asked for', async () => {
    for (const [query, accept] of [
      [{ _format: 'json' }, undefined],
      [{ _format: 'application/fhir+json' }, undefined],
      [{}, 'application/json'],
      [{}, 'application/fhir+json; fhirVersion=4.0'],
      [{}, 'text/html, */*;q=0.8'],
      [{ _format: 'json' }, 'application/fhir+xml'],
    ] as const) {
      expect((await serve(store, '/Observation/o1', { ...query }, { headers: accept ? { accept } : {} })).status, `${JSON.stringify(query)} ${accept}`).toBe(200);
    }
  });

  it('answers 415 to a search body that is not a form', async () => {
    const res = await serve(store, '/Observation/_search', {}, { method: 'POST', headers: { 'content-type': 'application/fhir+xml' }, body: Buffer.from('<x/>') });
    expect(res.status).toBe(415);
  });
});

describe('Reads', () => {
  const store = memoryStore([observation('o1', ['777-3'], 'p1', '1'), observation('o1', ['777-3'], 'p1', '2')]);

  it('sends ETag and Last-Modified on read and vread', async () => {
    const read = await serve(store, '/Observation/o1');
    expect(read.headers).toMatchObject({ etag: 'W/"2"', 'last-modified': 'Fri, 02 Jan 2026 10:00:00 GMT' });
    const vread = await serve(store, '/Observation/o1/_history/1');
    expect(vread.headers).toMatchObject({ etag: 'W/"1"' });
  });

  it('answers 304 to If-None-Match on the current version and to If-Modified-Since not before it', async () => {
    expect((await serve(store, '/Observation/o1', {}, { headers: { 'if-none-match': 'W/"2"' } })).status).toBe(304);
    expect((await serve(store, '/Observation/o1', {}, { headers: { 'if-none-match': '"2"' } })).status).toBe(304);
    expect((await serve(store, '/Observation/o1', {}, { headers: { 'if-none-match': 'W/"1"' } })).status).toBe(200);
    expect((await serve(store, '/Observation/o1', {}, { headers: { 'if-modified-since': 'Fri, 02 Jan 2026 10:00:00 GMT' } })).status).toBe(304);
    expect((await serve(store, '/Observation/o1', {}, { headers: { 'if-modified-since': 'Fri, 02 Jan 2026 09:59:59 GMT' } })).status).toBe(200);
    // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    expect((await serve(store, '/Observation/o1', {}, { headers: { 'if-none-match': 'W/"1"', 'if-modified-since': 'Sat, 03 Jan 2026 00:00:00 GMT' } })).status).toBe(200);
  });

  it('subsets with _summary and _elements, tagging SUBSETTED, on reads and searches', async () => {
    const summary = (await serve(store, '/Observation/o1', { _summary: 'true' })).body as Record<string, any>;
    expect(summary.code).toBeDefined();
    expect(summary.subject).toBeDefined();
    expect(summary.text).toBeUndefined();
    expect(summary.meta.tag).toContainEqual(SUBSETTED);
    const data = (await serve(store, '/Observation/o1', { _summary: 'data' })).body as Record<string, any>;
    expect(data.text).toBeUndefined();
    expect(data.valueQuantity).toBeDefined();
    const text = (await serve(store, '/Observation/o1', { _summary: 'text' })).body as Record<string, any>;
    expect(text.text).toBeDefined();
    expect(text.valueQuantity).toBeUndefined();
    // status and code are mandatory in Observation: they stay.
    const elements = (await serve(store, '/Observation', { _elements: 'subject,value' })).body as Bundle;
    const only = elements.entry![0]!.resource as Record<string, any>;
    expect(Object.keys(only).sort()).toEqual(['code', 'id', 'meta', 'resourceType', 'status', 'subject', 'valueQuantity']);
    expect(only.meta.tag).toContainEqual(SUBSETTED);
    const whole = (await serve(store, '/Observation/o1', { _summary: 'false' })).body as Record<string, any>;
    expect(whole.meta.tag).toBeUndefined();
    expect((await serve(store, '/Observation/o1', { _elements: 'subject', _summary: 'true' })).status).toBe(400);
    expect(errors(summary as Resource)).toEqual([]);
  });
});

describe('Searches', () => {
  const store = memoryStore([observation('both', ['777-3', '6690-2']), observation('one', ['777-3']), observation('other', ['777-3'], 'p2')]);
  const ids = (res: HttpResponse) => ((res.body as Bundle).entry ?? []).map((e) => e.resource!.id).sort();

  it('ANDs repeated parameters and ORs a comma', async () => {
    expect(ids(await serve(store, '/Observation', { code: ['http://loinc.org|777-3', 'http://loinc.org|6690-2'] }))).toEqual(['both']);
    expect(ids(await serve(store, '/Observation', { code: 'http://loinc.org|6690-2,http://loinc.org|777-3' }))).toEqual(['both', 'one', 'other']);
    expect(ids(await serve(store, '/Observation', { patient: ['p1', 'p2'] }))).toEqual([]);
    expect(ids(await serve(store, '/Observation', { _id: ['both,one', 'one,other'] }))).toEqual(['one']);
    expect(ids(await serve(store, '/Observation', { patient: ['p1', 'Patient/p1'] }))).toEqual(['both', 'one']);
  });

  it('_include adds each referenced resource once, as include entries, checking the token may read it', async () => {
    const patient: StoredResource = { resourceType: 'Patient', id: 'p1', meta: meta('1') };
    const score = observation('score', ['sledai'], 'p1');
    const derived = { ...observation('d1', ['777-3']), derivedFrom: [{ reference: 'Observation/score' }, { reference: 'Observation/gone' }] } as StoredResource;
    const withRefs = memoryStore([patient, score, derived]);
    const res = await serve(withRefs, '/Observation', { _id: 'd1', _include: ['Observation:subject', 'Observation:derived-from'] });
    const bundle = res.body as Bundle;
    expect(bundle.entry!.map((e) => [e.resource!.resourceType, e.resource!.id, e.search!.mode])).toEqual([
      ['Observation', 'd1', 'match'],
      ['Patient', 'p1', 'include'],
      ['Observation', 'score', 'include'],
    ]);
    expect(bundle.total).toBe(1);
    expect(errors(bundle)).toEqual([]);
    const typed = await serve(withRefs, '/Observation', { _id: 'd1', _include: 'Observation:derived-from:Patient' });
    expect((typed.body as Bundle).entry).toHaveLength(1);
    const narrow = await handleServe(request('/Observation', { _id: 'd1', _include: 'Observation:subject' }, { claims: { sub: 'c', scope: 'system/Observation.rs' } }), deps(withRefs));
    expect(narrow.status).toBe(403);
  });

  it('answers Patient/$everything with the Patient and its compartment, page by page, none lost or repeated', async () => {
    const patient: StoredResource = { resourceType: 'Patient', id: 'p1', meta: meta('1') };
    const others = [
      ...Array.from({ length: 5 }, (_, i) => observation(`o${i}`, ['777-3'])),
      { resourceType: 'Condition', id: 'c1', meta: meta('1'), subject: { reference: 'Patient/p1' }, code: { text: 'x' } } as StoredResource,
      { resourceType: 'Task', id: 't1', meta: meta('1'), status: 'requested', intent: 'order', for: { reference: 'Patient/p1' } } as StoredResource,
      observation('elsewhere', ['777-3'], 'p2'),
    ];
    const store = memoryStore([patient, ...others]);
    const seen: string[] = [];
    let query: Record<string, string> = { _count: '3' };
    for (let pages = 0; pages < 10; pages++) {
      const res = await serve(store, '/Patient/p1/$everything', query);
      expect(res.status).toBe(200);
      const bundle = res.body as Bundle;
      expect(bundle.total).toBe(8);
      expect(errors(bundle)).toEqual([]);
      seen.push(...(bundle.entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`));
      const next = bundle.link!.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      query = Object.fromEntries(new URL(next).searchParams);
    }
    expect(seen[0]).toBe('Patient/p1');
    expect(seen.sort()).toEqual(['Condition/c1', 'Observation/o0', 'Observation/o1', 'Observation/o2', 'Observation/o3', 'Observation/o4', 'Patient/p1', 'Task/t1']);
    expect((await serve(store, '/Patient/p1/$everything', { _since: '2020' })).status).toBe(400);
    expect((await serve(store, '/Patient/nobody/$everything')).status).toBe(404);
  });

  it('searches by POST [type]/_search with a form body, joined to the URL parameters', async () => {
    const res = await serve(store, '/Observation/_search', { patient: 'p1' }, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from('code=http%3A%2F%2Floinc.org%7C6690-2') });
    expect(res.status).toBe(200);
    expect(ids(res)).toEqual(['both']);
    const self = (res.body as Bundle).link![0]!.url;
    expect(self.startsWith(`${BASE}/Observation?`)).toBe(true);
    const noScope = await handleServe(request('/Observation/_search', {}, { method: 'POST', claims: { sub: 'c', scope: 'system/Patient.rs' } }), deps(store));
    expect(noScope.status).toBe(403);
  });
});

describe('$validate', () => {
  const post = (path: string, body: unknown, query: Record<string, string> = {}, scope = 'system/Observation.c') =>
    handleServe(
      request(path, query, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: Buffer.from(JSON.stringify(body)), claims: { sub: 'c', scope } }),
      deps(memoryStore([])),
    );
  const valid = { resourceType: 'Observation', status: 'final', code: { text: 'x' } };

  it('answers All OK for a valid resource and the base issues of an invalid one, storing nothing', async () => {
    const ok = await post('/Observation/$validate', valid);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'information' }] });
    const bad = await post('/Observation/$validate', { resourceType: 'Observation', status: 'nonsense' });
    expect(bad.status).toBe(200);
    expect((bad.body as any).issue.filter((i: any) => i.severity === 'error').length).toBeGreaterThan(0);
    const wrapped = await post('/Observation/$validate', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: valid }] });
    expect(wrapped.body).toMatchObject({ issue: [{ severity: 'information' }] });
  });

  it('validates against a study profile when asked, and refuses an unknown one or another type', async () => {
    const profile = conformance.resources.find((r: any) => r.resourceType === 'StructureDefinition' && r.type === 'Observation' && r.derivation === 'constraint') as any;
    const res = await post('/Observation/$validate', valid, { profile: profile.url });
    expect((res.body as any).issue.some((i: any) => i.severity === 'error')).toBe(true);
    expect((await post('/Observation/$validate', valid, { profile: 'https://elsewhere.example/p' })).status).toBe(400);
    expect((await post('/Observation/$validate', { resourceType: 'Patient' })).status).toBe(400);
    expect((await post('/Observation/$validate', valid, {}, 'system/Patient.cruds')).status).toBe(403);
  });
});
