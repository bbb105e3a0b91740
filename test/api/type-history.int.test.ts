import type { Bundle } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBase } from '../../lambdas/commons/fhir/validate-base.js';
import { LOCAL_LAB } from '../../local/samples/lupus-subject.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

// Issue 15: GET [type]/_history and GET /_history with _since and _count, newest first, paginated (R4 http.html#history).

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app.close();
});

function lab(platelets: number): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'batch',
    entry: [
      { fullUrl: 'urn:uuid:th-p', resource: { resourceType: 'Patient', id: 'th-p', gender: 'female', birthDate: '1990-01-01' }, request: { method: 'PUT', url: 'Patient/th-p' } },
      {
        fullUrl: 'urn:uuid:th-o',
        resource: {
          resourceType: 'Observation',
          id: 'th-o',
          status: 'final',
          code: { coding: [{ system: LOCAL_LAB, code: 'PLT' }] },
          subject: { reference: 'urn:uuid:th-p' },
          effectiveDateTime: '2024-05-01T09:00:00Z',
          valueQuantity: { value: platelets, unit: '10*9/L' },
        },
        request: { method: 'POST', url: 'Observation' },
      },
    ],
  };
}

describe('type- and system-level history on dynalite', () => {
  it('lists every version of the type newest first, honours _since and pages with next', async () => {
    await app.fetchFhir('', { method: 'POST', body: JSON.stringify(lab(210)) });
    await new Promise((r) => setTimeout(r, 20));
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const second = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(lab(95)) });
    const id = (second.body.entry[1].response.location as string).split('/')[1];

    const all = (await app.fetchFhir('/Observation/_history?_count=100')).body as Bundle;
    expect(all.type).toBe('history');
    expect(validateBase(all).filter((i) => i.severity === 'error')).toEqual([]);
    const mine = (all.entry ?? []).filter((e) => e.resource?.id === id);
    expect(mine.map((e) => e.resource?.meta?.versionId)).toEqual(['2', '1']);
    expect(mine.map((e) => e.response?.status)).toEqual(['200 OK', '201 Created']);
    const stamps = (all.entry ?? []).map((e) => e.response?.lastModified ?? '');
    expect([...stamps].sort().reverse()).toEqual(stamps);

    const since = (await app.fetchFhir(`/Observation/_history?_since=${encodeURIComponent(between)}`)).body as Bundle;
    expect((since.entry ?? []).filter((e) => e.resource?.id === id).map((e) => e.resource?.meta?.versionId)).toEqual(['2']);

    // Paged one version at a time, the pages together are the whole history, each version once.
    const seen: string[] = [];
    let path: string | undefined = '/Observation/_history?_count=1';
    while (path) {
      const page = (await app.fetchFhir(path)).body as Bundle;
      seen.push(...(page.entry ?? []).map((e) => `${e.resource?.id}/${e.resource?.meta?.versionId}`));
      const next = page.link?.find((l) => l.relation === 'next')?.url;
      path = next ? next.slice(next.indexOf('/fhir') + '/fhir'.length) : undefined;
    }
    expect(seen).toEqual((all.entry ?? []).map((e) => `${e.resource?.id}/${e.resource?.meta?.versionId}`));

    const system = (await app.fetchFhir('/_history?_count=1000')).body as Bundle;
    const types = new Set((system.entry ?? []).map((e) => e.resource?.resourceType));
    expect(types.has('Observation') && types.has('Patient') && types.has('Provenance')).toBe(true);
  });

  it('keeps to the token: a type it may not read is 403, and system history leaves out what it may not read', async () => {
    expect((await app.fetchFhir('/Observation/_history', { scopes: 'system/Patient.rs' })).status).toBe(403);
    const system = (await app.fetchFhir('/_history?_count=1000', { scopes: 'system/Patient.rs' })).body as Bundle;
    expect(new Set((system.entry ?? []).map((e) => e.resource?.resourceType))).toEqual(new Set(['Patient']));
  });
});
