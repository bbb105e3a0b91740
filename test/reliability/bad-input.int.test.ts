/**
 * Bad input against every route: a corpus of malformed bodies (hand-written and Microsoft FHIR
 * Server's malformed test files) and property-based fuzzing with fast-check. Every case must be
 * answered below 500, with an OperationOutcome when refused, and the store must hold afterwards
 * exactly what it held before (plus the AuditEvents the identity route writes by design).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOLVE_ROUTE } from '../../lambdas/identity/resolve-request.js';
import { CONFORMANCE_TYPES, STORE_TYPES } from '../../lambdas/serve/core/capability-statement.js';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { SHARED_DATA, startTestApp, type TestApp } from '../support/local-app.js';
import { acceptedLocations, FC_SEED, labBundle, pool, printSummary, sized, snapshotDiff, snapshotStore, type StoreSnapshot } from './support.js';

/** One request of the suite. */
interface Case {
  readonly label: string;
  readonly method: string;
  readonly path: string;
  readonly body?: string | Buffer;
  readonly scopes?: string;
  /** `reject`: must be a 4xx OperationOutcome. `any`: anything below 500 (a GET may well find something). */
  readonly expect: 'reject' | 'any';
}

const FUZZ_CASES = sized(1_500, 12_000);
const CONCURRENCY = 8;

let app: TestApp;
let before: StoreSnapshot;
let seedPseudonym = '';
const stats = { cases: 0, auditedCases: 0, corpus: 0, fuzz: 0, status5xx: 0, rejected4xx: 0, ok2xx: 0, acceptedEntries: 0, audits: 0 };
const failures: string[] = [];
const accepted = new Set<string>();

beforeAll(async () => {
  app = await startTestApp({ consumers: [] });
  // Something to find, so that reads and searches go past "not found".
  const seeded = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'seed-1', day0: '2024-06-03' })) });
  expect(seeded.status).toBe(200);
  seedPseudonym = seeded.body.entry[0].response.location.split('/')[1];
  expect((await app.fetchFhir('', { method: 'POST', body: JSON.stringify(labBundle('seed-2', 3)) })).status).toBe(200);
  before = await snapshotStore(app, { withAudit: true });
});

afterAll(async () => {
  printSummary('bad input', {
    cases: stats.cases,
    corpus: stats.corpus,
    fuzzed: stats.fuzz,
    seed: FC_SEED,
    '4xx': stats.rejected4xx,
    '2xx': stats.ok2xx,
    '5xx': stats.status5xx,
    acceptedEntries: stats.acceptedEntries,
    auditEvents: stats.audits,
  });
  await app?.close();
});

/** Sends one case and checks the per-request invariants; returns a failure text or undefined. */
async function run(c: Case): Promise<string | undefined> {
  stats.cases++;
  const res = await app.fetchFhir(c.path, {
    method: c.method,
    ...(c.body === undefined ? {} : { body: c.body }),
    scopes: c.scopes ?? 'system/*.cruds recruitment/identity.read',
  });
  const url = new URL(`${app.baseUrl}${c.path}`);
  // Issue 17: every request under /fhir is audited but the two public discovery documents (docs/audit.md).
  const isFhir = url.pathname === '/fhir' || url.pathname.startsWith('/fhir/');
  if (isFhir && !['/fhir/metadata', '/fhir/.well-known/smart-configuration'].includes(url.pathname)) stats.auditedCases++;
  // The identity route audits every look-up it is allowed to make, found or not.
  if (c.method === 'GET' && RESOLVE_ROUTE.test(url.pathname.replace(/^\/fhir/, '')) && (c.scopes ?? 'recruitment/identity.read').includes('recruitment/identity.read')) stats.audits++;
  if (res.status >= 500) {
    stats.status5xx++;
    return `${c.label}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
  }
  if (res.status >= 400) {
    stats.rejected4xx++;
    if (res.body?.resourceType !== 'OperationOutcome') return `${c.label}: ${res.status} without an OperationOutcome`;
    return undefined;
  }
  stats.ok2xx++;
  for (const location of acceptedLocations(res.body)) {
    accepted.add(location);
    stats.acceptedEntries++;
  }
  if (c.expect === 'reject') return `${c.label}: accepted with ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
  if (typeof res.body?.resourceType !== 'string') return `${c.label}: 200 without a resource`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

const tx = (): any => labBundle('corpus-p', 3);
const mutated = (label: string, change: (b: any) => void, path = ''): Case => {
  const b = tx();
  change(b);
  return { label, method: 'POST', path, body: JSON.stringify(b), expect: 'reject' };
};
const raw = (label: string, body: string | Buffer, path = ''): Case => ({ label, method: 'POST', path, body, expect: 'reject' });
const obs = (b: any): any => b.entry[1].resource;
const text = JSON.stringify(labBundle('corpus-p', 3));

const CORPUS: Case[] = [
  // invalid JSON
  raw('truncated JSON', text.slice(0, text.length / 2)),
  raw('trailing comma', text.replace(/}$/, ',}')),
  raw('a comment', `/* hi */${text}`),
  raw('single quotes', text.replace(/"resourceType"/, "'resourceType'")),
  raw('NaN literal', text.replace('"value":250', '"value":NaN')),
  raw('unquoted key', text.replace('"type"', 'type')),
  raw('an empty body', ''),
  raw('whitespace only', ' \n\t '),
  raw('two documents (ndjson)', `${text}\n${text}`),
  raw('duplicate keys', text.replace('"type":"transaction"', '"type":"batch","type":"transaction"')),
  raw('JSON null', 'null'),
  raw('JSON array', `[${text}]`),
  raw('JSON number', '42'),
  // wrong types
  mutated('resourceType a number', (b) => (b.resourceType = 7)),
  mutated('Bundle.type a number', (b) => (b.type = 1)),
  mutated('entry a string', (b) => (b.entry[1] = 'Observation')),
  mutated('entry.resource a string', (b) => (b.entry[1].resource = 'x')),
  mutated('status a number', (b) => (obs(b).status = 5)),
  mutated('value a string', (b) => (obs(b).valueQuantity.value = '250')),
  mutated('birthDate a number', (b) => (b.entry[0].resource.birthDate = 19850517)),
  mutated('reference a number', (b) => (obs(b).subject.reference = 12)),
  mutated('code an array', (b) => (obs(b).code = [obs(b).code])),
  mutated('coding an object', (b) => (obs(b).code.coding = obs(b).code.coding[0])),
  mutated('a null value', (b) => (obs(b).status = null)),
  mutated('an empty string', (b) => (obs(b).status = '')),
  mutated('an empty object', (b) => (obs(b).code = {})),
  mutated('an unknown property', (b) => (obs(b).colour = 'red')),
  // huge strings and deep nesting
  mutated('a 2 MB string', (b) => (obs(b).code.text = 'x'.repeat(2_000_000))),
  mutated('a 100,000 character id', (b) => (obs(b).id = 'a'.repeat(100_000))),
  // Just over the limit: far over it, the local server answers 413 before the client has sent it all and the socket resets.
  raw('a body over 6 MB (413)', `{"resourceType":"Bundle","type":"batch","pad":"${'x'.repeat(6 * 1024 * 1024)}"}`),
  raw('nesting 65 deep', `{"resourceType":"Bundle","type":"batch","x":${'['.repeat(64)}${']'.repeat(64)}}`),
  raw('nesting 100,000 deep', `{"resourceType":"Bundle","type":"batch","x":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`),
  // unknown resource types
  mutated('an unknown entry type', (b) => (obs(b).resourceType = 'Spaceship')),
  raw('an unknown root type', JSON.stringify({ resourceType: 'Spaceship', type: 'batch' })),
  raw('a bare Patient', JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Doe' }] })),
  raw('a document Bundle', JSON.stringify({ ...tx(), type: 'document' })),
  raw('a collection on POST /fhir', JSON.stringify({ ...labBundle('corpus-p', 3, 'collection') })),
  raw('a transaction on POST /fhir/Bundle', text, '/Bundle'),
  // bad references
  mutated('a reference to no entry', (b) => (obs(b).subject.reference = 'urn:uuid:6b7e2b0c-0000-4000-8000-000000000000')),
  mutated('a local reference with no contained', (b) => (obs(b).subject.reference = '#nobody')),
  mutated('a reference with spaces', (b) => (obs(b).subject.reference = 'Patient/ a b ')),
  mutated('circular subject references', (b) => {
    b.entry[1].resource.subject = { reference: b.entry[2].fullUrl };
    b.entry[2].resource.subject = { reference: b.entry[1].fullUrl };
  }),
  // invalid dates and units
  mutated('a date in words', (b) => (obs(b).effectiveDateTime = 'yesterday')),
  mutated('an impossible time', (b) => (obs(b).effectiveDateTime = '2024-01-01T25:61:00Z')),
  mutated('month 13', (b) => (obs(b).effectiveDateTime = '2024-13-01')),
  mutated('a two-digit year', (b) => (b.entry[0].resource.birthDate = '85-05-17')),
  mutated('a non-UCUM unit', (b) => Object.assign(obs(b).valueQuantity, { unit: 'furlong', code: 'furlong' })),
  mutated('an inconvertible unit', (b) => Object.assign(obs(b).valueQuantity, { unit: 'kg', code: 'kg' })),
  mutated('a value of 1e400', (b) => (obs(b).valueQuantity.value = 1e308 * 10)),
  // non-UTF-8 bytes
  raw('invalid UTF-8 (0xff 0xfe)', Buffer.concat([Buffer.from(text.slice(0, 40)), Buffer.from([0xff, 0xfe]), Buffer.from(text.slice(40))])),
  raw('overlong UTF-8 (0xc0 0xaf)', Buffer.concat([Buffer.from(text.slice(0, 60)), Buffer.from([0xc0, 0xaf]), Buffer.from(text.slice(60))])),
  raw('a lone continuation byte', Buffer.concat([Buffer.from(text.slice(0, 80)), Buffer.from([0x80]), Buffer.from(text.slice(80))])),
  raw('a truncated 3-byte sequence', Buffer.concat([Buffer.from(text.slice(0, 90)), Buffer.from([0xe2, 0x82]), Buffer.from(text.slice(90))])),
  raw('UTF-16LE', Buffer.from(text, 'utf16le')),
  // bundle structure
  mutated('duplicate fullUrls', (b) => (b.entry[2].fullUrl = b.entry[1].fullUrl)),
  mutated('a DELETE entry', (b) => (b.entry[1].request.method = 'DELETE')),
  mutated('a PATCH entry', (b) => (b.entry[1].request.method = 'PATCH')),
  mutated('an entry with no request', (b) => delete b.entry[1].request),
  mutated('an entry with no resource', (b) => delete b.entry[1].resource),
  mutated('an empty entry list', (b) => (b.entry = [])),
  mutated('1,001 entries (413)', (b) => {
    const e = b.entry[1];
    b.entry = Array.from({ length: 1001 }, (_, i) => ({ ...e, fullUrl: `urn:uuid:x${i}`, resource: { ...e.resource, id: `x${i}` } }));
  }),
  mutated('two entries, one source record (409)', (b) => {
    b.entry[2].resource = { ...b.entry[1].resource };
  }),
];

/** Microsoft FHIR Server test files that are valid bundles or single resources we refuse for their type only; the rest are malformed. */
const MICROSOFT_VALID = new Set(['Bundle-TransactionWithValidBundleEntry.json', 'Bundle-TransactionWithMetaHistory.json', 'Bundle-MissingIdentifier.json']);
const MICROSOFT: Case[] = ['Normative', 'R4'].flatMap((dir) =>
  readdirSync(join(SHARED_DATA, 'microsoft-fhir-server', dir))
    .filter((f) => !MICROSOFT_VALID.has(f))
    .map((f) => raw(`microsoft ${dir}/${f}`, readFileSync(join(SHARED_DATA, 'microsoft-fhir-server', dir, f)))),
);

describe('Bad input: the corpus', () => {
  it(`refuses each of ${CORPUS.length} malformed bodies and ${MICROSOFT.length} Microsoft malformed files with a 4xx OperationOutcome`, async () => {
    const cases = [...CORPUS, ...MICROSOFT];
    const found = (await pool(cases, 4, run)).filter((f): f is string => !!f);
    stats.corpus += cases.length;
    failures.push(...found);
    expect(found).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing
// ---------------------------------------------------------------------------------------------

/** FHIR R4 dateTime (the spec's regex). */
const FHIR_DATETIME =
  /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?)?)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)?)?)?$/;

const INJECTIONS = ["' OR 1=1 --", '" OR ""="', '../../etc/passwd', '..%2F..%2F', '%00', '\u0000', '$where', '{"$gt":""}', '<script>alert(1)</script>', '${7*7}', '\\', '|', ',', '*'];

const notAString = fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.string(), { minLength: 1, maxLength: 2 }), fc.constant({ x: 1 }));
const notAnObject = fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant([1]), fc.constant([{ text: 'x' }]));
const notAnArray = fc.oneof(fc.integer(), fc.boolean(), fc.string({ minLength: 1, maxLength: 20 }));
const invalidDate = fc.oneof(
  fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !FHIR_DATETIME.test(s)),
  fc.constantFrom('2024-1-1', '2024/01/01', '01-01-2024', '2024-01-01T10:00', '2024-01-01 10:00:00Z', 'T10:00:00Z', '+2024-01-01'),
);

type Mutation = (b: any) => void;
const entryIndex = (b: any, n: number): number => n % b.entry.length;

/** Defects that each make a transaction invalid, whatever else it holds. */
const mutation: fc.Arbitrary<[string, Mutation]> = fc.oneof(
  fc.tuple(fc.nat(), fc.constantFrom('status', 'effectiveDateTime'), notAString).map(([n, field, value]): [string, Mutation] => [
    `wrong type ${field}=${JSON.stringify(value)}`,
    (b) => (b.entry[1 + (n % (b.entry.length - 1))].resource[field] = value),
  ]),
  fc.tuple(fc.nat(), fc.constantFrom('subject', 'code', 'valueQuantity'), notAnObject).map(([n, field, value]): [string, Mutation] => [
    `wrong type ${field}=${JSON.stringify(value)}`,
    (b) => (b.entry[1 + (n % (b.entry.length - 1))].resource[field] = value),
  ]),
  fc.tuple(fc.nat(), notAnArray).map(([n, value]): [string, Mutation] => [
    `wrong type category=${JSON.stringify(value)}`,
    (b) => (b.entry[1 + (n % (b.entry.length - 1))].resource.category = value),
  ]),
  fc.tuple(fc.nat(), invalidDate).map(([n, value]): [string, Mutation] => [
    `invalid date ${JSON.stringify(value)}`,
    (b) => {
      const i = entryIndex(b, n);
      if (i === 0) b.entry[0].resource.birthDate = value;
      else b.entry[i].resource.effectiveDateTime = value;
    },
  ]),
  fc.tuple(fc.nat(), fc.stringMatching(/^[A-Za-z]{0,12}$/)).map(([n, name]): [string, Mutation] => [`unknown type Zz${name}`, (b) => (b.entry[entryIndex(b, n)].resource.resourceType = `Zz${name}`)]),
  fc.tuple(fc.nat(), fc.uuid()).map(([n, uuid]): [string, Mutation] => [`dangling reference ${uuid}`, (b) => (b.entry[1 + (n % (b.entry.length - 1))].resource.subject = { reference: `urn:uuid:${uuid}` })]),
  fc.tuple(fc.nat(), fc.stringMatching(/^[a-z]{1,8}$/)).map(([n, u]): [string, Mutation] => [
    `non-UCUM unit zz#${u}`,
    (b) => Object.assign(b.entry[1 + (n % (b.entry.length - 1))].resource.valueQuantity, { unit: `zz#${u}`, code: `zz#${u}` }),
  ]),
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]): [string, Mutation] => [
    'duplicate fullUrl',
    (b) => {
      const a = i % b.entry.length;
      const c = (a + 1 + (j % (b.entry.length - 1))) % b.entry.length;
      b.entry[c].fullUrl = b.entry[a].fullUrl;
    },
  ]),
  fc.tuple(fc.nat(), fc.oneof(fc.integer({ min: 65, max: 5000 }).map((n) => 'a'.repeat(n)), fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /[^A-Za-z0-9\-.]/.test(s)))).map(
    ([n, id]): [string, Mutation] => [`bad id (${id.length} chars)`, (b) => (b.entry[entryIndex(b, n)].resource.id = id)],
  ),
  fc.tuple(fc.nat(), fc.stringMatching(/^[a-z][A-Za-z]{0,10}$/)).map(([n, name]): [string, Mutation] => [`unknown property zz${name}`, (b) => (b.entry[entryIndex(b, n)].resource[`zz${name}`] = 'x')]),
  fc.tuple(fc.nat(), fc.constantFrom('DELETE', 'GET', 'PATCH', 'HEAD', 'OPTIONS', 'post', '')).map(([n, m]): [string, Mutation] => [
    `request.method ${m}`,
    (b) => (b.entry[entryIndex(b, n)].request.method = m),
  ]),
  fc.tuple(fc.nat(), fc.constantFrom('', null)).map(([n, v]): [string, Mutation] => [`empty value ${JSON.stringify(v)}`, (b) => (b.entry[1 + (n % (b.entry.length - 1))].resource.status = v)]),
);

/** Byte-level defects applied to the serialized body. */
const byteDefect: fc.Arbitrary<[string, (s: string) => Buffer]> = fc.oneof(
  fc.double({ min: 0, max: 0.999, noNaN: true }).map((f): [string, (s: string) => Buffer] => [`truncated at ${f.toFixed(3)}`, (s) => Buffer.from(s.slice(0, Math.floor(s.length * f)))]),
  fc
    .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom([0xff], [0xfe], [0xc0, 0xaf], [0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]))
    .map(([f, bytes]): [string, (s: string) => Buffer] => [
      `bad UTF-8 ${bytes.map((x) => x.toString(16)).join(' ')} at ${f.toFixed(3)}`,
      (s) => {
        const at = Math.floor(s.length * f);
        return Buffer.concat([Buffer.from(s.slice(0, at)), Buffer.from(bytes), Buffer.from(s.slice(at))]);
      },
    ]),
  fc.integer({ min: 65, max: 400 }).map((depth): [string, (s: string) => Buffer] => [`nesting ${depth}`, (s) => Buffer.from(s.replace(/}$/, `,"zz":${'['.repeat(depth)}${']'.repeat(depth)}}`))]),
);

let fuzzCounter = 0;
const ingestCase: fc.Arbitrary<Case> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(fc.integer({ min: 1, max: 6 }), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([n, ms]): Case => {
      const bundle: any = labBundle(`fz-${fuzzCounter++}`, n);
      for (const [, m] of ms) m(bundle);
      return { label: `POST transaction with ${ms.map(([l]) => l).join(' + ')}`, method: 'POST', path: '', body: JSON.stringify(bundle), expect: 'reject' };
    }),
  },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 4 }), byteDefect, fc.constantFrom('', '/Bundle')).map(([n, [label, f], path]): Case => ({
    label: `POST ${path || '/'} ${label}`,
    method: 'POST',
    path,
    body: f(JSON.stringify(labBundle(`fz-${fuzzCounter++}`, n, path ? 'collection' : 'transaction'))),
    expect: 'reject',
  })) },
  { weight: 1, arbitrary: fc.tuple(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom('', '/Bundle')).map(([v, path]): Case => ({ label: `POST ${path || '/'} json ${JSON.stringify(v).slice(0, 60)}`, method: 'POST', path, body: JSON.stringify(v), expect: 'reject' })) },
  { weight: 1, arbitrary: fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.constantFrom('', '/Bundle')).map(([bytes, path]): Case => ({ label: `POST ${path || '/'} ${bytes.length} random bytes`, method: 'POST', path, body: Buffer.from(bytes), expect: 'reject' })) },
);

const dateValue = fc.tuple(fc.constantFrom('', 'eq', 'ge', 'gt', 'le', 'lt', 'sa', 'eb', 'ne', 'ap', 'xx'), fc.integer({ min: 1000, max: 2999 }), fc.integer({ min: 0, max: 14 }), fc.integer({ min: 0, max: 33 }), fc.boolean()).map(
  ([p, y, m, d, time]) => `${p}${y}${m ? `-${String(m).padStart(2, '0')}${d ? `-${String(d).padStart(2, '0')}${time ? 'T10:20:30Z' : ''}` : ''}` : ''}`,
);
const paramValue = fc.oneof(
  dateValue,
  fc.constantFrom(...INJECTIONS),
  fc.constantFrom('http://loinc.org|777-3', '777-3', '|777-3', 'http://loinc.org|', 'Patient/seed', 'S-AAAAAAAAAAAA', '1', '0', '-1', '1001', '1e3', 'true'),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 200, max: 3000 }).map((n) => 'z'.repeat(n)),
);
const paramName = fc.oneof(
  fc.constantFrom('patient', 'subject', 'individual', 'code', 'date', '_id', '_count', '_profile', '_lastUpdated', 'onset-date', 'recorded-date', 'effective-time', 'authoredon', 'effective', 'recorded', 'sent', 'url', 'name', 'status'),
  fc.constantFrom('$where', '_filter', '_sort', '_include', '_revinclude', '_has:Observation:subject:code', 'code:text', 'code:not', '_id:missing', 'subject:Patient', '_format', '_summary', '_elements', '_total'),
  fc.stringMatching(/^[a-z_:$.-]{1,20}$/),
);
const idValue = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/),
  fc.constantFrom(...INJECTIONS, 'S-AAAAAAAAAAAA', 'a'.repeat(65), 'a'.repeat(2000)),
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
);
const anyType = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...STORE_TYPES, ...CONFORMANCE_TYPES) }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('metadata', '_history', 'Bundle', 'Claim', 'patient', 'PATIENT', '$export', '..'), fc.string({ minLength: 1, maxLength: 20 })) });

const readCase: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom('GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'PUT', 'DELETE', 'PATCH'),
    anyType,
    fc.oneof(fc.constant(undefined), idValue, fc.constant('$seed')),
    fc.constantFrom(undefined, '_history', '$hospital-identity', '$everything', '_history/1', '_history/abc', '_history/0', '_history/99999999999', '_history/1/extra'),
    fc.array(fc.tuple(paramName, paramValue), { maxLength: 4 }),
    fc.constantFrom('system/*.cruds', 'system/*.cruds recruitment/identity.read', 'recruitment/identity.read'),
  )
  .map(([method, type, id, tail, params, scopes]): Case => {
    const realId = id === '$seed' ? seedPseudonym : id;
    const query = params.length ? `?${params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}` : '';
    const path = `/${encodeURIComponent(type)}${realId === undefined ? '' : `/${encodeURIComponent(realId)}`}${realId !== undefined && tail ? `/${tail}` : ''}${query}`;
    return { label: `${method} ${path.slice(0, 160)} [${scopes}]`, method, path, scopes, expect: method === 'GET' ? 'any' : 'reject' };
  });

describe('Bad input: fuzzing every route', () => {
  it(`answers ${FUZZ_CASES} generated requests below 500, refusing every defective body with a 4xx OperationOutcome`, { timeout: 3_600_000 }, async () => {
    const ingest = fc.sample(ingestCase, { numRuns: Math.round(FUZZ_CASES * 0.45), seed: FC_SEED });
    const reads = fc.sample(readCase, { numRuns: FUZZ_CASES - ingest.length, seed: FC_SEED + 1 });
    const cases = [...ingest, ...reads];
    const found = (await pool(cases, CONCURRENCY, run)).filter((f): f is string => !!f);
    stats.fuzz += cases.length;
    failures.push(...found);
    expect(found.slice(0, 20), `seed ${FC_SEED}: ${found.length} failures`).toEqual([]);
  });

  it('stores nothing from a rejected request: the store changed only by accepted entries and the audit trail', async () => {
    const after = await snapshotStore(app, { withAudit: true });
    const changes = snapshotDiff(before, after);
    const audits = changes.filter((c) => c.startsWith('AuditEvent/'));
    const others = changes.filter((c) => !c.startsWith('AuditEvent/') && !accepted.has(c) && !c.startsWith('Provenance/'));
    expect(others).toEqual([]);
    // Issue 17: every access leaves one AuditEvent (the snapshots' own reads too), each written once, never rewritten.
    expect(audits.length).toBeGreaterThanOrEqual(stats.auditedCases);
    expect(audits.filter((c) => !c.endsWith('/_history/1'))).toEqual([]);
    if (accepted.size === 0) expect(changes.filter((c) => c.startsWith('Provenance/'))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Bugs the suite found, fixed since: regression tests
// ---------------------------------------------------------------------------------------------

describe('Bad input: regression tests for the bugs this suite found', () => {
  let bugCounter = 0;
  // Found by this suite and fixed (kept as a regression test): `Bundle.entry` that is not an array of objects (`[null]`, `{}`, `"x"`) is answered 500:
  // lambdas/ingest/ingest-request.ts `typesOf` runs `(resource.entry ?? []).map((e) => e.resource?...)`
  // for the scope check before the bundle is validated, and throws a TypeError on a null entry or a
  // non-array `entry`. Expected: 400 with the validator's issues.
  it.each([
    ['[null]', [null]],
    ['{}', {}],
    ['"x"', 'x'],
  ])('refuses Bundle.entry = %s with 400, not 500', async (_name, entry) => {
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry }) });
    expect(res.status).toBe(400);
  });

  // Found by this suite and fixed (kept as a regression test): calendar-invalid dates, times without a zone and codes outside a required binding are
  // stored: a Patient with `birthDate: "1990-02-31"` or `gender: "banana"`, or an Observation with
  // `effectiveDateTime: "2024-02-30T08:30:00Z"` or `"2024-01-01T10:00:00"` (R4: a time SHALL have a
  // zone), is answered 201 and served back as sent. lambdas/commons/fhir/validate-base.ts
  // checks dates against the R4 regex only (no calendar check) and does not check the required
  // binding of Patient.gender (administrative-gender); the study profile validation does not either.
  it.each([
    ['Patient.birthDate 1990-02-31', (b: any) => (b.entry[0].resource.birthDate = '1990-02-31')],
    ['Patient.gender banana', (b: any) => (b.entry[0].resource.gender = 'banana')],
    ['Observation.effectiveDateTime 2024-02-30', (b: any) => (b.entry[1].resource.effectiveDateTime = '2024-02-30T08:30:00Z')],
    // R4 dateTime: "If hours and minutes are specified, a time zone SHALL be populated" (the regex alone allows it).
    ['Observation.effectiveDateTime 2024-01-01T10:00:00 (no zone)', (b: any) => (b.entry[1].resource.effectiveDateTime = '2024-01-01T10:00:00')],
  ])('refuses %s with 400', async (_name, change) => {
    const b: any = labBundle(`bug-${bugCounter++}`, 1);
    change(b);
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(b) });
    for (const location of acceptedLocations(res.body)) accepted.add(location);
    expect(res.status).toBe(400);
  });

  // Found by this suite and fixed (kept as a regression test): a number or boolean where a complex type is expected passes base validation:
  // lambdas/commons/fhir/validate-base.ts reports nothing for `Observation.code: 123`,
  // `Observation.category: [1]` or `Observation.valueQuantity: true` (a string there is caught as
  // "Invalid additional property"). The ingest then stores `category: [1]` as sent and serves it
  // back (invalid FHIR), and answers an entry with `code: 123` "200 OK, not stored: code not used"
  // inside an accepted transaction instead of refusing the transaction. Expected: 400.
  it.each([
    ['Observation.code = 123', (o: any) => (o.code = 123)],
    ['Observation.category = [1]', (o: any) => (o.category = [1])],
    ['Observation.code.coding = [true]', (o: any) => (o.code.coding = [true])],
  ])('refuses a transaction with %s with 400', async (_name, change) => {
    const b: any = labBundle(`bug-${bugCounter++}`, 1);
    change(b.entry[1].resource);
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(b) });
    for (const location of acceptedLocations(res.body)) accepted.add(location);
    expect(res.status).toBe(400);
  });

  // Found by this suite and fixed (kept as a regression test): a `_cursor` the store did not issue is answered 500: DynamoStudyStore.search throws
  // InvalidQueryError ("The cursor does not belong to this search",
  // lambdas/commons/store/dynamo-study-store.ts decodeCursor), and lambdas/commons/http/outcomes.ts
  // `outcomeOf` maps only OperationOutcomeError and transient SDK errors, so it becomes 500.
  // The same path turns a search date whose range ends after 9999 (`_lastUpdated=9999-12-31T23:59:59Z`,
  // `date=9999`) into 500: search-query.ts builds the end bound `+010000-01-01...`, which
  // index-keys.ts `sortKeyBounds` refuses with InvalidQueryError. Expected: 400.
  it.each(['/Observation?_cursor=garbage', '/Observation?_cursor=eyJwIjoieCIsImsiOiJ5In0', '/Observation?_lastUpdated=9999-12-31T23:59:59Z', '/Observation?date=9999'])(
    'answers %s with 400, not 500',
    async (path) => {
      expect((await app.fetchFhir(path)).status).toBe(400);
    },
  );

  // Found by this suite and fixed (kept as a regression test): search dates that are not calendar dates are accepted and silently moved: `date=2024-02-30`
  // searches from 2024-03-01 and `date=2024-13-01` from 2025-01-01, because
  // lambdas/serve/core/search-query.ts `interval` feeds the parts to Date.UTC, which rolls over
  // (and reads years 0000-0099 as 1900-1999). Expected: 400 "Invalid date".
  it.each(['/Observation?date=2024-02-30', '/Observation?date=2024-13-01', '/Observation?date=0050'])('answers %s with 400', async (path) => {
    expect((await app.fetchFhir(path)).status).toBe(400);
  });

  // Found by this suite and fixed (kept as a regression test): search result parameters the layer does not implement are silently ignored, answered 200
  // as if absent: `_sort=-date` (unsorted), `_offset=10` (page 1 again, so a client paging by offset
  // loops), `_include`, `_revinclude`, `_elements`. lambdas/serve/core/search-query.ts states that
  // unsupported parameters are refused (400) rather than ignored, but `toStoreQuery` only walks
  // `request.filters`; @medplum/core's parseSearchRequest puts these into `sortRules`, `offset`,
  // `include`, `revInclude` and `fields`, which nothing checks. Expected: 400.
  it.each(['/Observation?_sort=-date', '/Observation?_offset=10', '/Observation?_include=Observation:nothing', '/Observation?_include:iterate=Observation:derived-from', '/Observation?_revinclude=Provenance:entity'])(
    'refuses the unsupported %s with 400',
    async (path) => {
      expect((await app.fetchFhir(path)).status).toBe(400);
    },
  );

  // Found by this suite and fixed (kept as a regression test): a query parameter named like an Object.prototype member (`constructor`, `toString`,
  // `hasOwnProperty`, `valueOf`, `isPrototypeOf`) is answered 500: lambdas/commons/http/request.ts
  // `fromApiGateway` collects the query into a plain `{}` and reads `query[key]` as the "prior"
  // value, so it finds the inherited member (a function) and passes `[Function, 'x']` on to the
  // search parser, which throws. Found by the stress fuzz (`GET /MedicationStatement?constructor=*`).
  // Expected: 400 "Search parameter 'constructor' is not supported" (fix: `Object.create(null)` or
  // `Object.hasOwn`).
  it.each(['/Observation?constructor=x', '/Observation?toString=x', '/StructureDefinition?hasOwnProperty=x', '/Patient?valueOf=1'])('answers %s with 400, not 500', async (path) => {
    expect((await app.fetchFhir(path)).status).toBe(400);
  });
});
