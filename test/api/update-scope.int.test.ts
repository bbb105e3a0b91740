import type { Bundle } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_LAB } from '../../local/samples/lupus-subject.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

// Issue 14 ("a create-only scope can update"): ids are a pure function of the source record, so resending a
// changed record is an update of the stored one; a token that may only create must not make it.

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app.close();
});

function labBundle(type: 'batch' | 'transaction', platelets: number): Bundle {
  return {
    resourceType: 'Bundle',
    type,
    entry: [
      { fullUrl: 'urn:uuid:upd-p', resource: { resourceType: 'Patient', id: 'upd-p', gender: 'female', birthDate: '1990-01-01' }, request: { method: 'PUT', url: 'Patient/upd-p' } },
      {
        fullUrl: 'urn:uuid:upd-o',
        resource: {
          resourceType: 'Observation',
          id: 'upd-o',
          status: 'final',
          code: { coding: [{ system: LOCAL_LAB, code: 'PLT' }] },
          subject: { reference: 'urn:uuid:upd-p' },
          effectiveDateTime: '2024-05-01T09:00:00Z',
          valueQuantity: { value: platelets, unit: '10*9/L' },
        },
        request: { method: 'POST', url: 'Observation' },
      },
    ],
  };
}

const CREATE_ONLY = 'system/Patient.c system/Observation.c';

describe('a token that may create but not update', () => {
  it('adds new records and resends unchanged ones, but cannot change a stored record', async () => {
    const first = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(labBundle('batch', 210)), scopes: CREATE_ONLY });
    expect(first.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '201 Created']);

    const replay = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(labBundle('batch', 210)), scopes: CREATE_ONLY });
    expect(replay.body.entry.map((e: any) => e.response.status)).toEqual(['200 OK', '200 OK']);

    const changed = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(labBundle('batch', 95)), scopes: CREATE_ONLY });
    expect(changed.body.entry.map((e: any) => e.response.status)).toEqual(['200 OK', '403 Forbidden']);

    const atomic = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(labBundle('transaction', 95)), scopes: CREATE_ONLY });
    expect(atomic.status).toBe(403);

    const location = first.body.entry[1].response.location as string;
    const stored = await app.fetchFhir(`/${location.split('/_history')[0]}`);
    expect(stored.body.valueQuantity.value).toBe(210);
    expect(stored.body.meta.versionId).toBe('1');
  });

  it('lets a token with update change the record', async () => {
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(labBundle('batch', 95)), scopes: 'system/Patient.cu system/Observation.cu' });
    expect(res.body.entry.map((e: any) => e.response.status)).toEqual(['200 OK', '200 OK']);
    const location = res.body.entry[1].response.location as string;
    expect((await app.fetchFhir(`/${location.split('/_history')[0]}`)).body.valueQuantity.value).toBe(95);
  });
});
