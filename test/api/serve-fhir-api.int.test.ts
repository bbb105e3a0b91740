/**
 * Issue 15 against the local layer on dynalite: SMART discovery without a token, the CapabilityStatement
 * and every Bundle valid under the layer's base validation, `total` on every page, conditional reads,
 * POST `_search` routed to serve, JSON-only negotiation on serve and ingest, and conditional
 * create/update refused rather than turned into plain writes.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBase } from '../../lambdas/commons/fhir/validate-base.js';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

const TOKEN_ENDPOINT = 'https://idp.example.org/oauth2/token';
let app: TestApp;
let patient: string;
let observations: string[];

const errors = (resource: Resource) => validateBase(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');

beforeAll(async () => {
  app = await startTestApp({ env: { JWT_ISSUER: 'https://idp.example.org/', SMART_TOKEN_ENDPOINT: TOKEN_ENDPOINT } });
  const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'p-api15', day0: '2024-06-03' })) });
  expect(res.status).toBe(200);
  const locations: string[] = res.body.entry.map((e: any) => e.response.location).filter(Boolean);
  patient = locations.find((l) => l.startsWith('Patient/'))!.split('/')[1]!;
  observations = locations.filter((l) => l.startsWith('Observation/'));
  expect(observations.length).toBeGreaterThan(4);
});

afterAll(async () => {
  await app.close();
});

describe('Discovery', () => {
  it('answers SMART discovery without a token, naming the configured token endpoint', async () => {
    const res = await fetch(`${app.baseUrl}/.well-known/smart-configuration`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ issuer: 'https://idp.example.org/', token_endpoint: TOKEN_ENDPOINT });
    expect(body.capabilities).toContain('client-confidential-asymmetric');
  });

  it('serves a CapabilityStatement that the layer base validation accepts', async () => {
    const { status, body } = await app.fetchFhir('/metadata', { token: null });
    expect(status).toBe(200);
    expect(errors(body)).toEqual([]);
  });
});

describe('Bundles', () => {
  it('gives the same total, all the matches, on every page, and each page validates', async () => {
    const all = (await app.fetchFhir(`/Observation?patient=${patient}&_count=1000`)).body as Bundle;
    const expected = all.entry!.length;
    let url: string | undefined = `${app.baseUrl}/Observation?patient=${patient}&_count=2`;
    const seen: string[] = [];
    while (url) {
      const page = (await app.fetchFhir(url.slice(app.baseUrl.length))).body as Bundle;
      expect(page.total).toBe(expected);
      expect(errors(page)).toEqual([]);
      seen.push(...page.entry!.map((e) => e.resource!.id!));
      url = page.link?.find((l) => l.relation === 'next')?.url;
    }
    expect(seen.sort()).toEqual(all.entry!.map((e) => e.resource!.id!).sort());
  });

  it('serves a history Bundle whose entries carry request and response, and that validates', async () => {
    const body = (await app.fetchFhir(`/${observations[0]!.split('/_history')[0]}/_history`)).body as Bundle;
    expect(body.type).toBe('history');
    expect(body.entry![0]).toMatchObject({ request: { method: 'PUT' }, response: { status: '201 Created', etag: expect.stringMatching(/^W\/"/) } });
    expect(errors(body)).toEqual([]);
  });

  it('searches by POST [type]/_search on serve, as by GET', async () => {
    const token = await app.token('system/*.rs');
    const res = await fetch(`${app.baseUrl}/Observation/_search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ patient, _count: '1000' }).toString(),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Bundle;
    const byGet = (await app.fetchFhir(`/Observation?patient=${patient}&_count=1000`)).body as Bundle;
    expect(body.entry!.map((e) => e.resource!.id).sort()).toEqual(byGet.entry!.map((e) => e.resource!.id).sort());
    expect(body.total).toBe(byGet.total);
    expect(body.total).toBeGreaterThanOrEqual(observations.length);
  });
});

describe('Search parameters and _include', () => {
  it('finds the recruitment alert Communications by category', async () => {
    const alerts = (await app.fetchFhir(`/Communication?patient=${patient}`)).body as Bundle;
    expect(alerts.total).toBeGreaterThan(0);
    const category = (alerts.entry![0]!.resource as any).category[0].coding[0];
    const byCategory = (await app.fetchFhir(`/Communication?category=${encodeURIComponent(`${category.system}|${category.code}`)}&patient=${patient}`)).body as Bundle;
    expect(byCategory.total).toBe(alerts.total);
    expect((await app.fetchFhir(`/Communication?category=${encodeURIComponent(`${category.system}|no-such-category`)}`)).body.total).toBe(0);
  });

  it.each(['Observation', 'Communication', 'Task'])('finds %s by status, alone (its own index) or with the patient, and never by code', async (type) => {
    const all = ((await app.fetchFhir(`/${type}?patient=${patient}&_count=1000`)).body as Bundle).entry?.map((e) => e.resource as Resource & { status: string }) ?? [];
    if (type !== 'Task') expect(all.length).toBeGreaterThan(0);
    const statuses = [...new Set(all.map((r) => r.status))];
    for (const status of statuses) {
      const expected = all.filter((r) => r.status === status).map((r) => r.id).sort();
      const withPatient = (await app.fetchFhir(`/${type}?status=${status}&patient=${patient}&_count=1000`)).body as Bundle;
      expect(withPatient.entry!.map((e) => e.resource!.id).sort()).toEqual(expected);
      const alone = (await app.fetchFhir(`/${type}?status=${status}&_count=1000`)).body as Bundle;
      expect(errors(alone)).toEqual([]);
      expect(alone.entry!.every((e) => (e.resource as any).status === status)).toBe(true);
      expect(alone.entry!.map((e) => e.resource!.id)).toEqual(expect.arrayContaining(expected));
      if (type !== 'Communication') expect((await app.fetchFhir(`/${type}?code=${status}`)).body.total).toBe(0);
    }
    const either = (await app.fetchFhir(`/${type}?status=${['cancelled', ...statuses].join(',')}&patient=${patient}&_count=1000`)).body as Bundle;
    expect(either.total).toBe(all.length);
    expect((await app.fetchFhir(`/${type}?status=entered-in-error&patient=${patient}`)).body.total).toBe(0);
  });

  it('includes the subject of the matches once, and the Bundle validates', async () => {
    const body = (await app.fetchFhir(`/Observation?patient=${patient}&_include=Observation:subject&_count=1000`)).body as Bundle;
    const included = body.entry!.filter((e) => e.search?.mode === 'include');
    expect(included.map((e) => `${e.resource!.resourceType}/${e.resource!.id}`)).toEqual([`Patient/${patient}`]);
    expect(errors(body)).toEqual([]);
  });
});

describe('_sort', () => {
  /** Every page of a search, following `next`; each page valid. */
  async function pages(path: string): Promise<Resource[]> {
    const out: Resource[] = [];
    let next: string | undefined = path;
    while (next) {
      const page = (await app.fetchFhir(next)).body as Bundle;
      expect(errors(page)).toEqual([]);
      out.push(...(page.entry ?? []).map((e) => e.resource!));
      next = page.link?.find((l) => l.relation === 'next')?.url?.slice(app.baseUrl.length);
    }
    return out;
  }
  const effective = (r: Resource) => Date.parse((r as any).effectiveDateTime ?? (r as any).effectivePeriod?.start ?? '');

  it('pages a patient by date descending and ascending, the one the reverse of the other', async () => {
    const descending = await pages(`/Observation?patient=${patient}&_sort=-date&_count=2`);
    expect(descending.length).toBeGreaterThan(4);
    const dated = descending.filter((r) => !Number.isNaN(effective(r)));
    expect(dated.map(effective)).toEqual(dated.map(effective).sort((a, b) => b - a));
    const ascending = await pages(`/Observation?patient=${patient}&_sort=date&_count=2`);
    expect(ascending.map((r) => r.id)).toEqual(descending.map((r) => r.id).reverse());
  });

  it('lists a type newest first by _lastUpdated, and refuses a sort the index does not keep', async () => {
    const newest = await pages('/Observation?_sort=-_lastUpdated&_count=5');
    const instants = newest.map((r) => Date.parse(r.meta!.lastUpdated!));
    expect(instants).toEqual([...instants].sort((a, b) => b - a));
    expect((await app.fetchFhir(`/Observation?patient=${patient}&_sort=-_lastUpdated`)).status).toBe(400);
    expect((await app.fetchFhir('/Observation?_sort=date')).status).toBe(400);
    expect((await app.fetchFhir(`/Observation?patient=${patient}&_sort=code`)).status).toBe(400);
  });
});

describe('_revinclude=Provenance:target', () => {
  it('adds to each page the Provenances that name its matches, once each, and the Bundle validates', async () => {
    const provenances = ((await app.fetchFhir('/Provenance?_count=1000')).body as Bundle).entry!.map((e) => e.resource as Resource & { target: { reference: string }[] });
    const targeting = (keys: Set<string>) =>
      provenances
        .filter((p) => p.target.some((t) => keys.has(t.reference.split('/_history')[0]!)))
        .map((p) => p.id)
        .sort();
    let path: string | undefined = `/Observation?patient=${patient}&_revinclude=Provenance:target&_count=3`;
    let pages = 0;
    // Derived Observations have no ingest Provenance: some pages include none.
    let withProvenance = 0;
    while (path) {
      const page = (await app.fetchFhir(path)).body as Bundle;
      expect(errors(page)).toEqual([]);
      const matches = new Set(page.entry!.filter((e) => e.search?.mode === 'match').map((e) => `Observation/${e.resource!.id}`));
      const included = page.entry!.filter((e) => e.search?.mode === 'include').map((e) => e.resource!);
      expect(included.every((r) => r.resourceType === 'Provenance')).toBe(true);
      expect(included.map((r) => r.id).sort()).toEqual(targeting(matches));
      withProvenance += included.length > 0 ? 1 : 0;
      pages++;
      path = page.link?.find((l) => l.relation === 'next')?.url?.slice(app.baseUrl.length);
    }
    expect(pages).toBeGreaterThan(1);
    expect(withProvenance).toBeGreaterThan(1);
    expect((await app.fetchFhir(`/Observation?patient=${patient}&_revinclude=Provenance:entity`)).status).toBe(400);
    expect((await app.fetchFhir(`/Observation?patient=${patient}&_revinclude=Provenance:target`, { scopes: 'system/Observation.rs' })).status).toBe(403);
  });
});

describe('$validate', () => {
  it('validates one resource through serve, storing nothing', async () => {
    const before = (await app.fetchFhir('/Observation?_summary=count')).body.total;
    const res = await app.fetchFhir('/Observation/$validate', { method: 'POST', body: JSON.stringify({ resourceType: 'Observation', status: 'nonsense', code: { text: 'x' } }) });
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue.some((i: any) => i.severity === 'error')).toBe(true);
    expect((await app.fetchFhir('/Observation?_summary=count')).body.total).toBe(before);
  });
});

describe('Patient/$everything', () => {
  it('pages through the Patient and its compartment, each page valid, the same as the searches by patient', async () => {
    const expected: string[] = [`Patient/${patient}`];
    for (const type of ['Observation', 'Condition', 'Encounter', 'MedicationAdministration', 'MedicationRequest', 'MedicationStatement', 'AllergyIntolerance', 'ResearchSubject', 'Communication', 'Task']) {
      const body = (await app.fetchFhir(`/${type}?patient=${patient}&_count=1000`)).body as Bundle;
      expected.push(...(body.entry ?? []).map((e) => `${type}/${e.resource!.id}`));
    }
    const seen: string[] = [];
    let path: string | undefined = `/Patient/${patient}/$everything?_count=7`;
    while (path) {
      const page = (await app.fetchFhir(path)).body as Bundle;
      expect(page.total).toBe(expected.length);
      expect(errors(page)).toEqual([]);
      seen.push(...(page.entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`));
      const next = page.link?.find((l) => l.relation === 'next')?.url;
      path = next?.slice(app.baseUrl.length);
    }
    expect(seen.sort()).toEqual(expected.sort());
  });
});

describe('Reads and formats', () => {
  it('answers 304 to If-None-Match with the current ETag, with no body', async () => {
    const path = `/${observations[0]!.split('/_history')[0]}`;
    const token = await app.token('system/*.rs');
    const first = await fetch(`${app.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^W\/"[^"]+"$/);
    expect(first.headers.get('last-modified')).toBeTruthy();
    const again = await fetch(`${app.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}`, 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it('answers 406 to XML asked for, and 415 to an XML body on ingest', async () => {
    expect((await app.fetchFhir(`/Patient/${patient}`, { headers: { accept: 'application/fhir+xml' } })).status).toBe(406);
    expect((await app.fetchFhir(`/Patient/${patient}?_format=xml`)).status).toBe(406);
    expect((await app.fetchFhir(`/Patient/${patient}?_format=json`)).status).toBe(200);
    const xml = '<Bundle xmlns="http://hl7.org/fhir"><type value="batch"/></Bundle>';
    const typed = await app.fetchFhir('', { method: 'POST', body: xml, headers: { 'content-type': 'application/fhir+xml' } });
    expect(typed.status).toBe(415);
    expect(typed.body.resourceType).toBe('OperationOutcome');
  });
});

describe('Conditional create and update', () => {
  it.each([
    ['ifNoneExist', { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:h|1' }],
    ['a search URL on PUT', { method: 'PUT', url: 'Patient?identifier=urn:h|1' }],
  ])('refuses %s with 400 and stores nothing of the transaction', async (_name, request) => {
    const bundle: any = sampleSubjectBundle({ patientId: `p-cond-${_name.length}`, day0: '2024-06-03' });
    bundle.entry[0].request = request;
    const before = (await app.fetchFhir('/Patient?_summary=count')).body.total;
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(bundle) });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('not supported');
    expect((await app.fetchFhir('/Patient?_summary=count')).body.total).toBe(before);
  });
});
