/**
 * Bulk import (the SMART Bulk Data Import proposal's manifest over the FHIR Bulk Data async pattern)
 * on the local layer over dynalite: ../shared/data/synthea/bulk10 imported through `POST /fhir/$import`
 * stores exactly what posting the same records as FHIR transaction Bundles stores (R4 http.html#transaction),
 * a replay changes nothing, and the manifest can only name files inside the import folder.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyStore } from '../../lambdas/commons/store/port.js';
import { STORE_TYPES } from '../../lambdas/commons/study-types.js';
import { SHARED_DATA, startTestApp, type TestApp } from '../support/local-app.js';

const IMPORT_DIR = join(SHARED_DATA, 'synthea');
const BULK10 = join(IMPORT_DIR, 'bulk10');
const FILES = ['Patient.000.ndjson', 'Condition.000.ndjson', 'MedicationRequest.000.ndjson'];
const SOURCE = 'urn:belimumab-sle:source:bulk10-test';

let app: TestApp;
let store: StudyStore;
let token: string;

const manifest = (): Record<string, unknown> => ({
  inputFormat: 'application/fhir+ndjson',
  inputSource: SOURCE,
  input: FILES.map((f) => ({ type: f.split('.')[0], url: pathToFileURL(join(BULK10, f)).href })),
});

async function kick(body: unknown, scopes = 'system/*.cruds', prefer = true): Promise<Response> {
  return fetch(`${app.baseUrl}/$import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await app.token(scopes)}`, 'content-type': 'application/json', ...(prefer ? { prefer: 'respond-async' } : {}) },
    body: JSON.stringify(body),
  });
}

/** Runs an import to its end and returns the status answer. */
async function importBulk10(): Promise<{ inputs: { url: string; read: number; accepted: number; failed: number; status: string }[] }> {
  const res = await kick(manifest());
  expect(res.status).toBe(202);
  const status = res.headers.get('content-location')!;
  await app.bulkIdle();
  const done = await fetch(status, { headers: { authorization: `Bearer ${token}` } });
  expect(done.status).toBe(200);
  const body = (await done.json()) as { extension: { inputs: { url: string; read: number; accepted: number; failed: number; status: string }[] } };
  return { inputs: body.extension.inputs };
}

/** Every stored resource's current version, by Type/id. */
async function snapshot(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const type of STORE_TYPES.filter((t) => t !== 'AuditEvent')) {
    let cursor: string | undefined;
    do {
      const page = await store.search({ resourceType: type, count: 1000, ...(cursor ? { cursor } : {}) });
      for (const r of page.resources) out.set(`${type}/${r.id}`, JSON.stringify({ ...r, meta: { ...r.meta, lastUpdated: undefined } }));
      cursor = page.next;
    } while (cursor);
  }
  return out;
}

beforeAll(async () => {
  app = await startTestApp({ consumers: [], env: { IMPORT_DIR } });
  store = app.runtime.serve().store;
  token = await app.token('system/*.cruds');
}, 120_000);

afterAll(async () => {
  await app?.close();
}, 120_000);

describe('Bulk import', () => {
  it('imports bulk10 as posting its records as transaction Bundles would, and a replay changes nothing', async () => {
    // Act: import
    const first = await importBulk10();
    const imported = await snapshot();
    // Assess: every line read and answered, something stored
    for (const [i, f] of FILES.entries()) {
      const lines = readFileSync(join(BULK10, f), 'utf8').split('\n').filter((l) => l.trim()).length;
      expect(first.inputs[i]).toMatchObject({ read: lines });
      expect(first.inputs[i]!.accepted + first.inputs[i]!.failed).toBe(lines);
    }
    const byType = [...imported.keys()].reduce<Record<string, number>>((acc, k) => ({ ...acc, [k.split('/')[0]!]: (acc[k.split('/')[0]!] ?? 0) + 1 }), {});
    console.log(`bulk10 import: ${JSON.stringify(first.inputs.map((i) => ({ file: i.url.split('/').at(-1), read: i.read, accepted: i.accepted, failed: i.failed })))}; stored ${JSON.stringify(byType)}`);
    expect(byType.Condition ?? 0).toBeGreaterThan(0);
    expect([...imported.keys()].filter((k) => k.startsWith('Patient/'))).toHaveLength(readFileSync(join(BULK10, 'Patient.000.ndjson'), 'utf8').trim().split('\n').length);

    // Act: the same records as one transaction Bundle per patient through POST /fhir
    const byPatient = new Map<string, Resource[]>();
    for (const f of FILES) {
      for (const line of readFileSync(join(BULK10, f), 'utf8').split('\n').filter((l) => l.trim())) {
        const r = JSON.parse(line) as Resource & { subject?: { reference?: string }; patient?: { reference?: string } };
        const patient = r.resourceType === 'Patient' ? r.id! : (r.subject ?? r.patient)?.reference?.replace(/^Patient\//, '') ?? '';
        byPatient.set(patient, [...(byPatient.get(patient) ?? []), r]);
      }
    }
    for (const resources of byPatient.values()) {
      for (let i = 0; i < resources.length; i += 500) {
        const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', meta: { source: SOURCE }, entry: resources.slice(i, i + 500).map((resource) => ({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id!}` } })) };
        const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(bundle), token });
        expect([200, 400, 422]).toContain(res.status);
      }
    }
    const posted = await snapshot();
    // Act: replay the import
    const replay = await importBulk10();
    const replayed = await snapshot();

    // Assess: the bundles stored nothing the import had not (same resources, same versions), the replay neither.
    // (Each bundle adds its own Provenance: one per accepted bundle, so those differ by design.)
    const data = (m: Map<string, string>): string[] => [...m.keys()].filter((k) => !k.startsWith('Provenance/')).sort();
    expect(data(posted)).toEqual(data(imported));
    for (const [key, value] of imported) if (!key.startsWith('Provenance/')) expect(posted.get(key), key).toBe(value);
    for (const [key, value] of posted) expect(replayed.get(key), key).toBe(value);
    expect(replay.inputs.map((i) => i.read)).toEqual(first.inputs.map((i) => i.read));
  }, 900_000);

  it('reads only file: URLs inside the import folder, needs Prefer: respond-async and create scope on each type', async () => {
    const outside = { input: [{ type: 'Patient', url: pathToFileURL('/etc/passwd').href }] };
    const climbing = { input: [{ type: 'Patient', url: `${pathToFileURL(IMPORT_DIR).href}/../synthea/../../data/synthea/bulk10/../../../../etc/hostname` }] };
    const http = { input: [{ type: 'Patient', url: 'https://example.org/Patient.ndjson' }] };
    expect((await kick(outside)).status).toBe(400);
    expect((await kick(climbing)).status).toBe(400);
    expect((await kick(http)).status).toBe(400);
    expect((await kick({ nothing: true })).status).toBe(400);
    expect((await kick(manifest(), 'system/*.cruds', false)).status).toBe(400);
    expect((await kick(manifest(), 'system/*.rs')).status).toBe(403);
  });
});
