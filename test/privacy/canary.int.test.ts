/**
 * Issue 12: a limited data set that holds against any input. Real bundles (Synthea, the HL7 R4 examples,
 * Microsoft FHIR Server's test files, the local samples) get a unique canary in every string-typed element
 * of every resource, found by walking each type's base R4 definition (Medplum's), narrative, extensions
 * and contained resources included: the strings already there are replaced, and every string element the
 * definition allows on an object that is present is added. Everything that leaves the layer is then
 * searched for any canary: the responses, every stored item and version (the whole study table), every
 * alert (webhook), every log line and every export file. Found must be 0.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { tryGetDataType, type InternalTypeSchema } from '@medplum/core';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefinitions } from '../../lambdas/commons/fhir/definitions.js';
import { deterministicId } from '../../lambdas/commons/ids.js';
import { tableNames } from '../../lambdas/commons/store/tables.js';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { studyCourseBundle } from '../../local/samples/study-course.js';
import { main as exportMain } from '../../scripts/export.js';
import { SHARED_DATA, startTestApp, type TestApp } from '../support/local-app.js';

/** Any canary anywhere: the token every canary carries. */
const CANARY = /cnry\d{6}x/gi;
const SHAPES = [
  (t: string) => `Alma ${t} Reyes`,
  (t: string) => `MRN ${t}`,
  (t: string) => `+1 (555) 010-4477 ${t}`,
  (t: string) => `${t}@hospital-mail.example`,
  (t: string) => `17 ${t} Lane, Springfield`,
];
let counter = 0;
const next = (): string => {
  counter++;
  return SHAPES[counter % SHAPES.length]!(`cnry${String(counter).padStart(6, '0')}x`);
};

/** Planted per entry, so that only the accepted entries count. */
interface Planted {
  readonly count: number;
  readonly type: string;
}

const STRING_TYPES = new Set(['string', 'markdown']);
// Strings whose content the base validation constrains, or that name another element (a canary there
// makes the entry invalid and proves nothing).
const SKIP_KEYS = new Set(['id', 'reference', 'div']);

function elementsOf(schema: InternalTypeSchema): [string, { type: string; isArray: boolean }][] {
  return Object.entries(schema.elements).flatMap(([name, e]) =>
    name.endsWith('[x]') ? [] : [[name, { type: e.type[0]?.code ?? 'Element', isArray: !!e.isArray || e.max > 1 }] as [string, { type: string; isArray: boolean }]],
  );
}

/** Plants a canary in every string element of an object of a type, recursively; returns how many. */
function plant(obj: Record<string, unknown>, typeName: string): number {
  const schema = tryGetDataType(typeName);
  if (!schema) return 0;
  let n = 0;
  const elements = elementsOf(schema);
  for (const [key, { type, isArray }] of elements) {
    if (SKIP_KEYS.has(key)) continue;
    if (STRING_TYPES.has(type)) {
      // Replace what is there, add what the definition allows.
      const existing = obj[key];
      if (Array.isArray(existing)) {
        obj[key] = existing.map(() => next());
        n += existing.length;
      } else {
        obj[key] = isArray ? [next()] : next();
        n++;
      }
    }
  }
  // Choice strings already present (valueString and the like).
  for (const [name, e] of Object.entries(schema.elements)) {
    if (!name.endsWith('[x]')) continue;
    const key = `${name.slice(0, -3)}String`;
    if (e.type.some((t) => t.code === 'string') && typeof obj[key] === 'string') {
      obj[key] = next();
      n++;
    }
  }
  for (const [key, value] of Object.entries(obj)) {
    const type = elementTypeOf(schema, key);
    if (!type || STRING_TYPES.has(type)) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item !== 'object' || item === null) continue;
      const child = item as Record<string, unknown>;
      n += typeof child.resourceType === 'string' ? plantResource(child as unknown as Resource) : plant(child, type);
    }
  }
  // An extension of the hospital's own on every object, a string inside.
  if (elements.some(([k]) => k === 'extension') && typeName !== 'Extension') {
    obj.extension = [...((obj.extension as unknown[]) ?? []), { url: 'http://hospital.example/fhir/StructureDefinition/note', valueString: next() }];
    n++;
  }
  return n;
}

function elementTypeOf(schema: InternalTypeSchema, key: string): string | undefined {
  const direct = schema.elements[key];
  if (direct) return direct.type[0]?.code;
  for (const [name, e] of Object.entries(schema.elements)) {
    if (name.endsWith('[x]') && key.startsWith(name.slice(0, -3))) {
      const suffix = key.slice(name.length - 3);
      return e.type.find((t) => t.code.toLowerCase() === suffix.toLowerCase())?.code;
    }
  }
  return undefined;
}

function plantResource(resource: Resource): number {
  ensureDefinitions([resource.resourceType]);
  const r = resource as unknown as Record<string, unknown>;
  // Narrative: the XHTML div carries a canary too.
  r.text = { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${next()}</div>` };
  return 1 + plant(r, resource.resourceType);
}

function plantBundle(bundle: Bundle): Planted[] {
  // Entry by entry, so that one entry a canary made invalid does not take the others with it.
  if (bundle.type === 'transaction') bundle.type = 'batch';
  return (bundle.entry ?? []).map((e: BundleEntry) => (e.resource ? { count: plantResource(e.resource), type: e.resource.resourceType } : { count: 0, type: '' }));
}

const readJson = (path: string): any => JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
const hl7 = join(SHARED_DATA, 'hl7-fhir-r4-examples');
const ms = join(SHARED_DATA, 'microsoft-fhir-server', 'R4');
const ACCEPTED_TYPES = ['Patient', 'Observation', 'Condition', 'Encounter', 'AllergyIntolerance', 'MedicationAdministration', 'MedicationRequest', 'MedicationStatement'];

function asBatch(resources: Resource[], n: number): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'batch',
    entry: resources.map((resource, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(n * 1000 + i).padStart(12, '0')}`,
      resource,
      request: { method: 'POST', url: resource.resourceType },
    })),
  };
}

function inputs(): { name: string; bundle: Bundle }[] {
  const out: { name: string; bundle: Bundle }[] = [];
  for (const f of readdirSync(join(SHARED_DATA, 'synthea')).filter((x) => x.endsWith('.json'))) {
    out.push({ name: `synthea ${f}`, bundle: readJson(join(SHARED_DATA, 'synthea', f)) });
  }
  const singles = readdirSync(hl7)
    .filter((f) => ACCEPTED_TYPES.some((t) => f.startsWith(`${t}-`)))
    .map((f) => readJson(join(hl7, f)) as Resource);
  for (let i = 0; i < singles.length; i += 40) out.push({ name: `HL7 examples ${i}`, bundle: asBatch(singles.slice(i, i + 40), i) });
  // The same Synthea patients as a second hospital would send them: new canaries, other keyed ids.
  for (const f of readdirSync(join(SHARED_DATA, 'synthea')).filter((x) => x.endsWith('.json'))) {
    out.push({ name: `synthea ${f} (second source)`, bundle: { ...readJson(join(SHARED_DATA, 'synthea', f)), meta: { source: 'urn:canary:second-hospital' } } });
  }
  for (const f of ['Bundle-bundle-transaction.json', 'Bundle-bundle-request-medsallergies.json']) {
    out.push({ name: `HL7 ${f}`, bundle: readJson(join(hl7, f)) });
  }
  const msSingles = readdirSync(ms)
    .filter((f) => !f.startsWith('Bundle'))
    .map((f) => readJson(join(ms, f)) as Resource)
    .filter((r) => ACCEPTED_TYPES.includes(r.resourceType));
  out.push({ name: 'Microsoft FHIR Server R4 files', bundle: asBatch(msSingles, 900) });
  out.push({ name: 'sample lupus subject', bundle: sampleSubjectBundle({ patientId: 'canary-1', day0: '2024-06-03', bundleType: 'batch' }) });
  out.push({
    name: 'sample study course',
    bundle: studyCourseBundle({
      patientId: 'canary-2',
      day0: '2023-01-09',
      visits: [
        { week: 0, present: ['arthritis', 'rash'], pga: 1.5, labs: { c3: 0.6 } },
        { week: 4, present: ['rash'], pga: 1.0, labs: { c3: 0.7 } },
      ],
    } as never),
  });
  return out;
}

const captured: string[] = [];
const restore: (() => void)[] = [];
const alerts: string[] = [];
let webhook: Server;
let app: TestApp;

function captureOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    });
    restore.push(() => (stream.write = original));
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? filesUnder(join(dir, f)) : [join(dir, f)]));
}

beforeAll(async () => {
  webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      alerts.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', () => r()));
  const port = (webhook.address() as { port: number }).port;
  captureOutput();
  app = await startTestApp({
    logger: new Logger({ serviceName: 'canary', logLevel: 'DEBUG' }),
    env: { ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/alerts` },
  });
  // A fixed test key: the hash checks below need to know it is the one in DATA_DIR.
  writeFileSync(join(app.dataDir, 'source-key'), 'ab'.repeat(32), { mode: 0o600 });
}, 60_000);

afterAll(async () => {
  await app?.close();
  webhook?.close();
  restore.forEach((r) => r());
});

describe('Canaries in every string element never leave the layer (issue 12)', () => {
  it('finds none of tens of thousands of canaries in responses, stored versions, alerts, logs or the export', { timeout: 180_000 }, async () => {
    const responses: string[] = [];
    const byType = new Map<string, number>();
    let planted = 0;
    let accepted = 0;
    for (const { name, bundle } of inputs()) {
      const counts = plantBundle(bundle);
      const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(bundle) });
      responses.push(JSON.stringify(res.body));
      expect(res.status, `${name}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(200);
      (res.body.entry as any[]).forEach((e, i) => {
        const c = counts[i];
        if (process.env.CANARY_DEBUG && !/^20/.test(e.response.status)) console.log('REJECTED', c?.type, JSON.stringify(e.response.outcome).slice(0, 300));
        if (c && /^20[01]/.test(e.response.status)) accepted += c.count;
        if (c && /^20[01]/.test(e.response.status) && e.response.location) {
          planted += c.count;
          byType.set(c.type, (byType.get(c.type) ?? 0) + c.count);
        }
      });
    }
    await app.drainOutbox();
    await app.drainOutbox();

    // Every type served, read and searched (history included), as a study reader would.
    // AuditEvents take their own scope (wildcards do not reach them); a reader with it must see no canary either.
    const scopes = 'system/*.rs system/AuditEvent.rs';
    for (const type of [...ACCEPTED_TYPES, 'Provenance', 'ResearchSubject', 'Communication', 'AuditEvent', 'Task']) {
      const page = await app.fetchFhir(`/${type}?_count=1000`, { scopes });
      expect(page.status, type).toBe(200);
      responses.push(JSON.stringify(page.body));
      for (const e of (page.body.entry ?? []).slice(0, 20)) {
        responses.push(JSON.stringify((await app.fetchFhir(`/${type}/${e.resource.id}/_history`, { scopes })).body));
      }
    }
    // Every stored item: resources, all their versions, outbox, alerts, the commit records.
    const client = new DynamoDBClient({ endpoint: app.dynamoEndpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const stored: string[] = [];
    let startKey: any;
    do {
      const page = await client.send(new ScanCommand({ TableName: tableNames('local').study, ExclusiveStartKey: startKey }));
      stored.push(...(page.Items ?? []).map((i) => JSON.stringify(i)));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    client.destroy();

    const outDir = mkdtempSync(join(tmpdir(), 'canary-export-'));
    const exportErr: string[] = [];
    const code = await exportMain(['--base-url', app.baseUrl, '--token', await app.token('system/*.rs'), '--out', outDir], {
      out: (t) => captured.push(t),
      err: (t) => exportErr.push(t),
      env: process.env,
    });
    expect(code, exportErr.join('\n')).toBe(0);
    const exported = filesUnder(outDir).map((f) => readFileSync(f, 'utf8'));

    const sources: Record<string, string[]> = { responses, stored, alerts, logs: captured, exported };
    const found: Record<string, string[]> = {};
    for (const [where, texts] of Object.entries(sources)) found[where] = texts.flatMap((t) => t.match(CANARY) ?? []);
    const total = Object.values(found).reduce((a, b) => a + b.length, 0);
    if (process.env.CANARY_DEBUG) for (const [k, texts] of Object.entries(sources)) for (const t of texts) for (const m of t.matchAll(CANARY)) console.log('FOUND', k, t.slice(Math.max(0, m.index - 200), m.index + 40));
    console.log(`canaries planted ${counter} (in accepted entries ${accepted}, in stored entries ${planted}: ${[...byType].map(([t, n]) => `${t} ${n}`).join(', ')}); found ${total}`);

    // The run did something: items stored, an export written, every accepted type planted.
    expect(stored.length).toBeGreaterThan(500);
    expect(exported.length).toBeGreaterThan(1);
    // Accepted: answered 2xx (stored, or read and answered "not stored"); stored: written as a study resource.
    expect(accepted).toBeGreaterThan(20_000);
    expect(planted).toBeGreaterThan(5_000);
    // Every type the study stores that the public data has (none of it holds an AllergyIntolerance the study keeps).
    for (const type of ACCEPTED_TYPES.filter((t) => t !== 'AllergyIntolerance')) expect(byType.get(type) ?? 0, type).toBeGreaterThan(0);
    expect(Object.fromEntries(Object.entries(found).map(([k, v]) => [k, [...new Set(v)].slice(0, 5)]))).toEqual({ responses: [], stored: [], alerts: [], logs: [], exported: [] });
  });

  it('keys the source ids: stable across replays, different for another source system, not a plain hash', async () => {
    const bundle = sampleSubjectBundle({ patientId: 'canary-hash', day0: '2024-06-03', bundleType: 'batch' });
    const locations = async (b: Bundle): Promise<string[]> =>
      ((await app.fetchFhir('', { method: 'POST', body: JSON.stringify(b) })).body.entry as any[])
        .map((e) => e.response.location?.split('/_history')[0])
        .filter((l: string | undefined) => l && !l.startsWith('Patient/'));
    const first = await locations(bundle);
    const replay = await locations(structuredClone(bundle));
    const other = await locations({ ...structuredClone(bundle), meta: { source: 'urn:another-hospital' } });
    expect(first.length).toBeGreaterThan(5);
    expect(replay).toEqual(first);
    expect(other.filter((l) => first.includes(l))).toEqual([]);
    // Not the unkeyed SHA-256 a reader could recompute from a guessed hospital id.
    const obs = bundle.entry!.find((e) => e.resource?.resourceType === 'Observation')!.resource!;
    expect(first).not.toContain(`Observation/${deterministicId('urn:belimumab-sle:source:hospital-ehr', 'Observation', obs.id ?? '')}`);
    const stored = (await app.fetchFhir(`/${first[0]}`)).body;
    expect(JSON.stringify(stored)).not.toContain('canary-hash');
    expect(stored.identifier[0].value).toMatch(/^[0-9a-f]{64}$/);
  });
});
