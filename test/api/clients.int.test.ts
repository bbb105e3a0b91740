/**
 * Issue 15's "tests that must exist": three third-party FHIR clients against the local layer on
 * dynalite, each doing read, vread, search with paging (following `next`), `_include`, history and
 * `Patient/$everything`, their answers compared with what the store holds, and every Bundle they
 * get validated by the layer's own base validation. The clients are used as an app developer would
 * use them, with their own URL building and paging; only the bearer token is the layer's.
 */
import { MedplumClient } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { Client } from 'fhir-kit-client';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBase } from '../../lambdas/commons/fhir/validate-base.js';
import type { StudyStore } from '../../lambdas/commons/store/port.js';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

/**
 * fhirclient (SMART on FHIR's JavaScript client) in Node: `smart(req, res).client(state)` builds a
 * client from a known token, without the launch flow. Loaded untyped: its typings reference the DOM
 * lib (`/// <reference lib="dom" />`), which would change `fetch`'s types for the whole program.
 */
interface FhirClientRequestOptions {
  pageLimit?: number;
  onPage?: (page: unknown) => void;
}
interface FhirClient {
  request<T = unknown>(url: string | { url: string }, options?: FhirClientRequestOptions): Promise<T>;
}
const smart = createRequire(import.meta.url)('fhirclient') as (request: unknown, response: unknown) => {
  client(state: { serverUrl: string; tokenResponse: { access_token: string } }): FhirClient;
};

let app: TestApp;
let store: StudyStore;
let token: string;
let patient: string;
let observationIds: string[];

const bundleErrors = (bundle: Bundle) => validateBase(bundle as Resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
/** The clients type their answers with their own FHIR typings; the layer's are @medplum/fhirtypes. */
const asBundle = (value: unknown): Bundle => value as Bundle;
const keys = (resources: readonly Resource[]) => resources.map((r) => `${r.resourceType}/${r.id}`).sort();

/** The patient's Observations as the store holds them, read through the store port (not the API). */
async function storedObservations(): Promise<Resource[]> {
  const out: Resource[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.search({ resourceType: 'Observation', patient, count: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...page.resources);
    cursor = page.next;
  } while (cursor);
  return out;
}

/** The patient's compartment as the store holds it: the Patient and every resource of each compartment type. */
async function storedCompartment(): Promise<Resource[]> {
  const out: Resource[] = [(await store.read('Patient', patient))!];
  for (const type of ['Observation', 'Condition', 'Encounter', 'MedicationAdministration', 'MedicationRequest', 'MedicationStatement', 'AllergyIntolerance', 'ResearchSubject', 'Communication', 'Task'] as const) {
    const page = await store.search({ resourceType: type, patient, count: 1000 });
    expect(page.next).toBeUndefined();
    out.push(...page.resources);
  }
  return out;
}

beforeAll(async () => {
  app = await startTestApp();
  store = app.runtime.serve().store;
  token = await app.token('system/*.rs');
  const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'p-clients', day0: '2024-06-03' })) });
  expect(res.status).toBe(200);
  const locations: string[] = res.body.entry.map((e: any) => e.response.location).filter(Boolean);
  patient = locations.find((l) => l.startsWith('Patient/'))!.split('/')[1]!;
  observationIds = locations.filter((l) => l.startsWith('Observation/')).map((l) => l.split('/')[1]!);
  // Paging below asks for 3 a page: make sure there are several pages.
  expect(observationIds.length).toBeGreaterThan(6);
});

afterAll(async () => {
  await app.close();
});

describe('fhir-kit-client', () => {
  const client = () => new Client({ baseUrl: app.baseUrl, customHeaders: { Authorization: `Bearer ${token}` } });

  it('reads and vreads what the store holds', async () => {
    const stored = (await store.read('Patient', patient))!;
    const read = (await client().read({ resourceType: 'Patient', id: patient })) as Resource;
    expect(read).toEqual(stored);
    const vread = (await client().vread({ resourceType: 'Patient', id: patient, version: stored.meta.versionId })) as Resource;
    expect(vread).toEqual(stored);
  });

  it('pages a search with nextPage until the end, every page valid, all the store matches once', async () => {
    const c = client();
    let page = asBundle(await c.search({ resourceType: 'Observation', searchParams: { patient, _count: 3 } }));
    const seen: Resource[] = [];
    let pages = 0;
    for (;;) {
      expect(bundleErrors(page)).toEqual([]);
      pages++;
      seen.push(...(page.entry ?? []).map((e) => e.resource!));
      const next = await c.nextPage({ bundle: page as never });
      if (!next) break;
      page = asBundle(next);
    }
    expect(pages).toBeGreaterThan(2);
    expect(keys(seen)).toEqual(keys(await storedObservations()));
  });

  it('searches with _include, the subject included once', async () => {
    const bundle = asBundle(await client().search({ resourceType: 'Observation', searchParams: { patient, _include: 'Observation:subject', _count: 1000 } }));
    expect(bundleErrors(bundle)).toEqual([]);
    const included = (bundle.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => e.resource!);
    expect(included).toEqual([await store.read('Patient', patient)]);
  });

  it('reads history and $everything as the store holds them', async () => {
    const history = asBundle(await client().history({ resourceType: 'Observation', id: observationIds[0]! }));
    expect(bundleErrors(history)).toEqual([]);
    expect(history.entry!.map((e) => e.resource)).toEqual(await store.history('Observation', observationIds[0]!));
    const c = client();
    let page = asBundle(await c.operation({ name: '$everything', resourceType: 'Patient', id: patient, method: 'GET', input: { _count: 10 } }));
    const seen: Resource[] = [];
    for (;;) {
      expect(bundleErrors(page)).toEqual([]);
      seen.push(...(page.entry ?? []).map((e) => e.resource!));
      const next = await c.nextPage({ bundle: page as never });
      if (!next) break;
      page = asBundle(next);
    }
    expect(keys(seen)).toEqual(keys(await storedCompartment()));
  });
});

describe('fhirclient (SMART on FHIR JavaScript client)', () => {
  // The Node adapter wants a request and response only for the launch flow; a client from a known token does not use them.
  const client = () => smart({ url: '/', headers: {} }, {}).client({ serverUrl: app.baseUrl, tokenResponse: { access_token: token } });

  it('reads and vreads what the store holds', async () => {
    const stored = (await store.read('Patient', patient))!;
    expect(await client().request(`Patient/${patient}`)).toEqual(stored);
    expect(await client().request(`Patient/${patient}/_history/${stored.meta.versionId}`)).toEqual(stored);
  });

  it('follows next with pageLimit 0, every page valid, all the store matches once', async () => {
    const pages: Bundle[] = [];
    await client().request({ url: `Observation?patient=${patient}&_count=3` }, { pageLimit: 0, onPage: (page) => void pages.push(asBundle(page)) });
    expect(pages.length).toBeGreaterThan(2);
    for (const page of pages) expect(bundleErrors(page)).toEqual([]);
    expect(keys(pages.flatMap((p) => (p.entry ?? []).map((e) => e.resource!)))).toEqual(keys(await storedObservations()));
  });

  it('searches with _include, the subject included once', async () => {
    const bundle = await client().request<Bundle>(`Observation?patient=${patient}&_include=Observation:subject&_count=1000`);
    expect(bundleErrors(bundle)).toEqual([]);
    expect((bundle.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => e.resource)).toEqual([await store.read('Patient', patient)]);
  });

  it('reads history and pages $everything as the store holds them', async () => {
    const history = await client().request<Bundle>(`Observation/${observationIds[1]!}/_history`);
    expect(bundleErrors(history)).toEqual([]);
    expect(history.entry!.map((e) => e.resource)).toEqual(await store.history('Observation', observationIds[1]!));
    const pages: Bundle[] = [];
    await client().request(`Patient/${patient}/$everything?_count=10`, { pageLimit: 0, onPage: (page) => void pages.push(asBundle(page)) });
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) expect(bundleErrors(page)).toEqual([]);
    expect(keys(pages.flatMap((p) => (p.entry ?? []).map((e) => e.resource!)))).toEqual(keys(await storedCompartment()));
  });
});

describe('MedplumClient', () => {
  const client = () => {
    // The layer serves FHIR at `{origin}/fhir`; Medplum's default path is `fhir/R4/`.
    const url = new URL(app.baseUrl);
    const medplum = new MedplumClient({ baseUrl: `${url.origin}/`, fhirUrlPath: url.pathname.replace(/^\//, ''), cacheTime: 0, fetch: (input: any, init: any) => fetch(input, init) });
    medplum.setAccessToken(token);
    return medplum;
  };

  it('reads and vreads what the store holds', async () => {
    const stored = (await store.read('Patient', patient))!;
    expect(await client().readResource('Patient', patient)).toEqual(stored);
    expect(await client().readVersion('Patient', patient, stored.meta.versionId)).toEqual(stored);
  });

  it('pages a search with searchResourcePages, every page valid, all the store matches once', async () => {
    const seen: Resource[] = [];
    let pages = 0;
    for await (const page of client().searchResourcePages('Observation', { patient, _count: '3' })) {
      pages++;
      expect(bundleErrors(page.bundle as Bundle)).toEqual([]);
      seen.push(...page);
    }
    expect(pages).toBeGreaterThan(2);
    expect(keys(seen)).toEqual(keys(await storedObservations()));
  });

  it('searches with _include, the subject included once', async () => {
    const bundle = await client().search('Observation', { patient, _include: 'Observation:subject', _count: '1000' });
    expect(bundleErrors(bundle as Bundle)).toEqual([]);
    expect((bundle.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => e.resource)).toEqual([await store.read('Patient', patient)]);
  });

  it('reads history and $everything as the store holds them', async () => {
    const history = await client().readHistory('Observation', observationIds[2]!);
    expect(bundleErrors(history as Bundle)).toEqual([]);
    expect(history.entry!.map((e) => e.resource)).toEqual(await store.history('Observation', observationIds[2]!));
    // readPatientEverything reads one page; with the default `_count` (50) that is the whole compartment here.
    const everything = await client().readPatientEverything(patient);
    expect(bundleErrors(everything)).toEqual([]);
    const expected = await storedCompartment();
    expect(expected.length).toBeLessThanOrEqual(50);
    expect(everything.link?.some((l) => l.relation === 'next')).toBe(false);
    expect(keys((everything.entry ?? []).map((e) => e.resource!))).toEqual(keys(expected));
  });
});
