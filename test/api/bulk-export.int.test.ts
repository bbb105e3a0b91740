/**
 * FHIR Bulk Data Access IG v2 export (hl7.org/fhir/uv/bulkdata/export.html) on the local layer over
 * dynalite: the kick-off, status, manifest and DELETE of the IG's asynchronous request pattern, run by
 * an IG-conformant client written apart from the server (test/support/bulk-client.ts) and by the
 * project's own client (`npm run export`); every file validated against base R4 and compared with the
 * store; cancel; and the memory an export of many patients takes (STRESS=1: 10,000 patients).
 */
import type { Resource } from '@medplum/fhirtypes';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBase } from '../../lambdas/commons/fhir/validate-base.js';
import type { StoredResource, StudyStore } from '../../lambdas/commons/store/port.js';
import { main as exportMain } from '../../scripts/export.js';
import { bulkExport, cancel, kickOff, poll, type BulkClientOptions } from '../support/bulk-client.js';
import { startTestApp, type TestApp } from '../support/local-app.js';
import { startDynaliteProcess, type DynaliteProcess } from '../support/dynalite-process.js';
import { seedStore } from '../support/seed-store.js';

const STRESS = process.env.STRESS === '1';
/**
 * Patients seeded; every third enrolled (a ResearchSubject on study), every sixth from the second a
 * candidate. The 1,000 case keeps `npm test` short (dynalite commits and reads a few hundred
 * resources a second on a shared machine); STRESS=1 (`npm run test:stress:bulk`) runs only the
 * memory case, over 10,000 patients with 4 Observations each (55,001 resources, about 55 MiB of
 * NDJSON): the behaviour cases run at 1,000 in `npm test` and would only take longer at 10,000.
 */
const PATIENTS = STRESS ? 10_000 : 1_000;
const OBSERVATIONS_PER_PATIENT = STRESS ? 4 : 1;
const ENROLLED = 'nct04893161-enrolled';
const SCREENED = 'nct04893161-eligibility';
const LOINC = 'http://loinc.org';

let app: TestApp;
let dynamo: DynaliteProcess;
let store: StudyStore;
let client: BulkClientOptions;
let seededAt = '';

/** A generated patient's record: the Patient, a ResearchSubject (every third on study), Observations with components. */
function patientRecord(i: number): (Resource & { id: string })[] {
  const id = `P-${String(i).padStart(5, '0')}`;
  const out: (Resource & { id: string })[] = [
    { resourceType: 'Patient', id, gender: i % 2 === 0 ? 'female' : 'male', birthDate: `19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10}` },
  ];
  if (i % 3 === 0 || i % 6 === 1) {
    out.push({
      resourceType: 'ResearchSubject',
      id: `RS-${id}`,
      status: i % 3 === 0 ? 'on-study' : 'candidate',
      study: { reference: 'ResearchStudy/nct04893161' },
      individual: { reference: `Patient/${id}` },
    });
  }
  for (let k = 0; k < OBSERVATIONS_PER_PATIENT; k++) {
    out.push({
      resourceType: 'Observation',
      id: `O-${id}-${k}`,
      status: 'final',
      code: { coding: [{ system: LOINC, code: k % 2 === 0 ? '777-3' : '718-7' }] },
      subject: { reference: `Patient/${id}` },
      effectiveDateTime: `2026-0${1 + (k % 9)}-1${k}`,
      valueQuantity: { value: 100 + i + k, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
      component: Array.from({ length: 6 }, (_, c) => ({
        code: { coding: [{ system: LOINC, code: `${1000 + c}-${c % 10}` }] },
        valueQuantity: { value: c * 1.5 + k, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
      })),
    });
  }
  return out;
}

/** Every current resource of a type in the store, by id. */
async function storeContents(type: Resource['resourceType']): Promise<Map<string, StoredResource>> {
  const out = new Map<string, StoredResource>();
  let cursor: string | undefined;
  do {
    const page = await store.search({ resourceType: type, count: 1000, ...(cursor ? { cursor } : {}) });
    for (const r of page.resources) out.set(r.id, r);
    cursor = page.next;
  } while (cursor);
  return out;
}

const patientOf = (r: Record<string, unknown>): string | undefined =>
  r.resourceType === 'Patient' ? (r.id as string) : ((r.subject ?? r.individual) as { reference?: string } | undefined)?.reference?.replace('Patient/', '');

beforeAll(async () => {
  // dynalite in a child process: what the memory cases measure is the layer's heap, not dynalite's data.
  dynamo = await startDynaliteProcess();
  app = await startTestApp({ consumers: [], dynamoEndpoint: dynamo.endpoint });
  store = app.runtime.serve().store;
  // Seeded through the store port in batched commits of ~1,000 resources, a few in flight, as the ingest commits them (no mapping: the export reads what is stored).
  const seed = await seedStore(store, { count: PATIENTS, record: patientRecord }, { chunk: 1000, concurrency: 3 });
  console.log(`seeded ${PATIENTS} patients: ${seed.resources} resources in ${seed.commits} commits, ${seed.seconds.toFixed(1)} s`);
  seededAt = new Date().toISOString();
  client = { baseUrl: app.baseUrl, token: await app.token('system/*.rs'), maxPollWaitMs: 200 };
}, 1_800_000);

afterAll(async () => {
  await app?.close();
  await dynamo?.stop();
}, 600_000);

describe.skipIf(STRESS)('Bulk Data export, IG-conformant client', () => {
  it('exports the enrolled subjects Group: every file valid R4, exactly the store content of the members, in bounded memory (IG Group export)', async () => {
    // Act, with a forced GC every 2 s: what is measured is what the export keeps alive, not garbage not yet collected.
    const memory = sampleMemory(2000);
    const result = await bulkExport({ ...client, timeoutMs: 1_500_000 }, `Group/${ENROLLED}/$export`, new URLSearchParams({ _type: 'Patient,Observation,ResearchSubject' }));
    const { peakHeap, peakRss } = memory.stop();
    const bytes = result.files.reduce((sum, f) => sum + f.resources.reduce((n, r) => n + JSON.stringify(r).length + 1, 0), 0);
    console.log(`bulk export of the enrolled Group (${PATIENTS} patients stored): ${result.files.length} files, ${(bytes / 2 ** 20).toFixed(2)} MiB; peak retained heap growth ${(peakHeap / 2 ** 20).toFixed(1)} MiB, RSS growth ${(peakRss / 2 ** 20).toFixed(1)} MiB`);
    // One store page (1,000 resources) and the member list are held, never the export: a fixed bound, whatever the data size.
    expect(peakHeap).toBeLessThan(48 * 2 ** 20);
    // Assess: the manifest (IG "Complete Status")
    expect(result.manifest.requiresAccessToken).toBe(true);
    expect(result.manifest.request).toBe(`${app.baseUrl}/Group/${ENROLLED}/$export?_type=Patient%2CObservation%2CResearchSubject`);
    expect(Date.parse(result.manifest.transactionTime)).toBeGreaterThanOrEqual(Date.parse(seededAt));
    expect(result.manifest.error).toEqual([]);
    const members = new Set(Array.from({ length: PATIENTS }, (_, i) => i).filter((i) => i % 3 === 0).map((i) => `P-${String(i).padStart(5, '0')}`));
    for (const type of ['Patient', 'Observation', 'ResearchSubject'] as const) {
      const exported = result.files.filter((f) => f.type === type).flatMap((f) => f.resources);
      const expected = [...(await storeContents(type)).values()].filter((r) => members.has(patientOf(r as unknown as Record<string, unknown>) ?? ''));
      expect(exported.length, type).toBe(expected.length);
      const byId = new Map(exported.map((r) => [r.id as string, r]));
      for (const r of expected) expect(byId.get(r.id), `${type}/${r.id}`).toEqual(r);
      // Base R4 validation (the layer's: @medplum/core's validator and the invariants it misses).
      for (const r of exported) expect(validateBase(r as unknown as Resource).filter((i) => i.severity === 'error' || i.severity === 'fatal'), `${type}/${String(r.id)}`).toEqual([]);
    }
    expect(result.files.filter((f) => f.type === 'Patient').flatMap((f) => f.resources)).toHaveLength(members.size);
  }, 600_000);

  it('exports Patient-level with _since and _typeFilter, system-level with every readable type (IG kick-off parameters)', async () => {
    // Arrange: one Observation changed after a point in time.
    const before = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const changed = { ...patientRecord(1)[2]!, status: 'amended' as const };
    await store.commit([changed as Resource & { id: string }], { atomic: true });
    // Act
    const since = await bulkExport(client, 'Patient/$export', new URLSearchParams({ _type: 'Observation,Patient', _since: before }));
    const filtered = await bulkExport(client, '$export', new URLSearchParams({ _type: 'Observation', _typeFilter: `Observation?code=${LOINC}|777-3&patient=P-00002` }));
    // Assess
    expect(since.files.flatMap((f) => f.resources).map((r) => r.id)).toEqual([changed.id]);
    const ids = filtered.files.flatMap((f) => f.resources).map((r) => r.id).sort();
    expect(ids).toEqual(['O-P-00002-0']);
  }, 300_000);

  it('refuses what it does not support (400), a type the token cannot read (403), and hides jobs of other clients (404)', async () => {
    const kick = async (path: string, token = client.token, prefer = true): Promise<number> =>
      (await fetch(`${app.baseUrl}/${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', ...(prefer ? { prefer: 'respond-async' } : {}) } })).status;
    // IG: Prefer: respond-async is required.
    expect(await kick('$export', client.token, false)).toBe(400);
    expect(await kick('$export?_outputFormat=application/xml')).toBe(400);
    expect(await kick('$export?_type=Banana')).toBe(400);
    expect(await kick('$export?patient=Patient/P-00001')).toBe(400);
    expect(await kick('$export?_elements=id')).toBe(400);
    expect(await kick('$export?_since=yesterday')).toBe(400);
    expect(await kick('$export?_typeFilter=Observation?banana=1')).toBe(400);
    expect(await kick('Group/unknown/$export')).toBe(404);
    expect(await kick('$export?_type=Patient', await app.token('system/Observation.rs'))).toBe(403);
    // A user/ scope is not a Backend Services client; AuditEvent needs its scope by name.
    expect(await kick('Patient/$export', await app.token('user/*.rs'))).toBe(403);
    expect(await kick('$export?_type=AuditEvent')).toBe(403);
    const status = await kickOff(client, 'Patient/$export', new URLSearchParams({ _type: 'Patient', _typeFilter: 'Patient?_id=P-00001' }));
    const other = await fetch(status, { headers: { authorization: `Bearer ${await app.token('system/*.rs')}` } });
    expect(other.status).not.toBe(404); // the same client (sub) sees its job
    const stranger = await fetch(status, { headers: { authorization: `Bearer ${await signAs('someone-else')}` } });
    expect(stranger.status).toBe(404);
    await app.bulkIdle();
    expect(await cancel(client, status)).toBe(202);
  }, 300_000);

  it('cancels a job: DELETE answers 202, the status URL then 404, the files are gone (IG "Delete a Bulk Data Request")', async () => {
    // Act
    const status = await kickOff(client, `Group/${SCREENED}/$export`);
    const deleted = await cancel(client, status);
    await app.bulkIdle();
    // Assess
    expect(deleted).toBe(202);
    const after = await fetch(status, { headers: { authorization: `Bearer ${client.token}` } });
    expect(after.status).toBe(404);
    const job = status.split('/').at(-1)!;
    expect(existsSync(join(app.dataDir, 'exports', job))).toBe(false);
    await expect(poll(client, status)).rejects.toMatchObject({ status: 404 });
  }, 300_000);
});

describe.skipIf(STRESS)('Bulk Data export, the project client (npm run export)', () => {
  it('writes the analysis dataset (_outputFormat=text/csv) and the NDJSON of the enrolled subjects', async () => {
    // Act
    const out = mkdtempSync(join(tmpdir(), 'bulk-export-'));
    const lines: string[] = [];
    const errors: string[] = [];
    const code = await exportMain(['--base-url', app.baseUrl, '--token', client.token, '--out', out, '--group', ENROLLED, '--max-poll-ms', '200'], { out: (t) => lines.push(t), err: (t) => errors.push(t), env: process.env });
    // Assess
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    const csv = readFileSync(join(out, 'analysis-dataset.csv'), 'utf8').trim().split('\n');
    const enrolled = Math.ceil(PATIENTS / 3);
    expect(csv).toHaveLength(enrolled + 1);
    expect(csv[0]).toContain('"sex","age_day0"');
    expect(readFileSync(join(out, 'data-dictionary.md'), 'utf8')).toContain('| sex |');
    expect(readdirSync(join(out, 'ndjson')).sort()).toEqual(['Observation.ndjson', 'Patient.ndjson', 'ResearchSubject.ndjson']);
    const patients = readFileSync(join(out, 'ndjson', 'Patient.ndjson'), 'utf8').trim().split('\n');
    expect(patients).toHaveLength(enrolled);
    expect(lines[0]).toContain(`Exported ${enrolled} subjects`);
  }, 600_000);
});

describe.runIf(STRESS)('Bulk Data export, memory at scale (STRESS=1)', () => {
  it(`exports ${PATIENTS} patients in bounded memory: the retained heap grows far less than the data exported (IG Group export, one page at a time)`, async () => {
    // Act, with a forced GC every 2 s: the retained heap is what the export keeps alive.
    const memory = sampleMemory(2000);
    const started = performance.now();
    const status = await kickOff(client, `Group/${SCREENED}/$export`);
    const { manifest } = await poll({ ...client, timeoutMs: 3_000_000 }, status);
    const seconds = (performance.now() - started) / 1000;
    const { peakHeap, peakRss, endHeap, baseRss } = memory.stop();
    // Assess: the files on disk are the data size; each holds the lines its manifest entry counts.
    const dir = join(app.dataDir, 'exports', status.split('/').at(-1)!);
    let bytes = 0;
    for (const file of manifest.output) {
      const text = readFileSync(join(dir, file.url.split('/').at(-1)!), 'utf8');
      bytes += Buffer.byteLength(text);
      expect(text.split('\n').length - 1, file.url).toBe(file.count);
    }
    const resources = manifest.output.reduce((sum, f) => sum + (f.count ?? 0), 0);
    const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
    console.log(
      `bulk export: ${PATIENTS} patients, ${resources} resources, ${mib(bytes)} MiB in ${manifest.output.length} files, ${seconds.toFixed(1)} s; ` +
        `retained heap growth peak ${mib(peakHeap)} MiB, after ${mib(endHeap)} MiB; RSS ${mib(baseRss)} MiB before, growth peak ${mib(peakRss)} MiB`,
    );
    const researchSubjects = Array.from({ length: PATIENTS }, (_, i) => i).filter((i) => i % 3 === 0 || i % 6 === 1).length;
    expect(resources).toBe(PATIENTS * (1 + OBSERVATIONS_PER_PATIENT) + researchSubjects);
    // One store page (1,000 resources) and its NDJSON are held, never the export: measured about 8 MiB for 55 MiB exported.
    expect(peakHeap).toBeLessThan(bytes / 4);
    expect(endHeap).toBeLessThan(bytes / 8);
    await cancel(client, status);
  }, 3_600_000);
});

/** Samples the retained heap (after a forced GC) and the RSS above their values now. */
function sampleMemory(everyMs: number): { stop(): { peakHeap: number; peakRss: number; endHeap: number; baseRss: number } } {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const baseHeap = process.memoryUsage().heapUsed;
  const baseRss = process.memoryUsage().rss;
  let peakHeap = 0;
  let peakRss = 0;
  const sample = (): void => {
    gc();
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed - baseHeap);
    peakRss = Math.max(peakRss, m.rss - baseRss);
  };
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peakHeap, peakRss, endHeap: process.memoryUsage().heapUsed - baseHeap, baseRss };
    },
  };
}

async function signAs(subject: string): Promise<string> {
  const { signLocalToken } = await import('../../local/keys.js');
  return signLocalToken(app.dataDir, 'system/*.rs', { subject });
}
