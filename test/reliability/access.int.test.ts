/**
 * Access: every route against every scope, every kind of bad token, and search parameters and ids
 * that try injection. The expected answer of each route × scope comes from a table written here
 * from the README (not from the product's `can`), so a wrong grant in either shows.
 */
import { randomUUID, generateKeyPairSync } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAudience, localIssuer, loadLocalKeys } from '../../local/keys.js';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { startTestApp, type TestApp } from '../support/local-app.js';
import { labBundle, printSummary, snapshotDiff, snapshotStore, STRESS } from './support.js';

let app: TestApp;
let pseudonym = '';
let observationId = '';
const stats = { routeScope: 0, tokens: 0, injections: 0, status5xx: 0 };

/** A route and what it needs: `c`/`r`/`s` on a type, the recruitment scope, or nothing. */
interface Route {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: () => string;
  readonly body?: () => string;
  readonly needs: { readonly type: string; readonly letter: 'c' | 'r' | 's' } | 'recruitment' | 'none';
  /** Status when allowed. */
  readonly ok: number;
}

/** A batch with one Observation the study does not use: allowed → 200, stored nothing. */
const harmlessBatch = (type: 'batch' | 'collection'): string =>
  JSON.stringify({
    resourceType: 'Bundle',
    type,
    entry: [
      {
        fullUrl: 'urn:uuid:0f3e6a52-1111-4111-8111-111111111111',
        resource: { resourceType: 'Observation', id: 'unused-1', status: 'final', code: { text: 'not a study code' } },
        ...(type === 'batch' ? { request: { method: 'POST', url: 'Observation' } } : {}),
      },
    ],
  });

const ROUTES: Route[] = [
  { name: 'POST /fhir', method: 'POST', path: () => '', body: () => harmlessBatch('batch'), needs: { type: 'Observation', letter: 'c' }, ok: 200 },
  { name: 'POST /fhir/Bundle', method: 'POST', path: () => '/Bundle', body: () => harmlessBatch('collection'), needs: { type: 'Observation', letter: 'c' }, ok: 200 },
  { name: 'GET /fhir/Observation/{id}', method: 'GET', path: () => `/Observation/${observationId}`, needs: { type: 'Observation', letter: 'r' }, ok: 200 },
  { name: 'GET /fhir/Observation/{id}/_history', method: 'GET', path: () => `/Observation/${observationId}/_history`, needs: { type: 'Observation', letter: 'r' }, ok: 200 },
  { name: 'GET /fhir/Observation/{id}/_history/1', method: 'GET', path: () => `/Observation/${observationId}/_history/1`, needs: { type: 'Observation', letter: 'r' }, ok: 200 },
  { name: 'GET /fhir/Observation?code=...', method: 'GET', path: () => '/Observation?code=http://loinc.org|777-3', needs: { type: 'Observation', letter: 's' }, ok: 200 },
  { name: 'GET /fhir/Patient/{id}', method: 'GET', path: () => `/Patient/${pseudonym}`, needs: { type: 'Patient', letter: 'r' }, ok: 200 },
  { name: 'GET /fhir/Patient?_id=', method: 'GET', path: () => `/Patient?_id=${pseudonym}`, needs: { type: 'Patient', letter: 's' }, ok: 200 },
  { name: 'GET /fhir/StructureDefinition', method: 'GET', path: () => '/StructureDefinition?status=active', needs: { type: 'StructureDefinition', letter: 's' }, ok: 200 },
  { name: 'GET /fhir/metadata', method: 'GET', path: () => '/metadata', needs: 'none', ok: 200 },
  { name: 'GET /fhir/Patient/{id}/$hospital-identity', method: 'GET', path: () => `/Patient/${pseudonym}/$hospital-identity`, needs: 'recruitment', ok: 200 },
];

/**
 * The grants of each scope set, by hand from the README and SMART v2: only unrestricted `system/`
 * resource scopes grant anything; `.read` = `rs`, `.write` = `cud`, `.*` = `cruds`; letters must be
 * in `cruds` order; the recruitment scope grants the identity route and nothing else.
 */
const SCOPES: { readonly scopes: string; readonly grants: Record<string, string>; readonly recruitment: boolean }[] = [
  { scopes: '', grants: {}, recruitment: false },
  { scopes: 'system/*.rs', grants: { '*': 'rs' }, recruitment: false },
  { scopes: 'system/*.cud', grants: { '*': 'cud' }, recruitment: false },
  { scopes: 'system/*.cruds', grants: { '*': 'cruds' }, recruitment: false },
  { scopes: 'system/*.read', grants: { '*': 'rs' }, recruitment: false },
  { scopes: 'system/*.write', grants: { '*': 'cud' }, recruitment: false },
  { scopes: 'system/*.*', grants: { '*': 'cruds' }, recruitment: false },
  { scopes: 'system/*.r', grants: { '*': 'r' }, recruitment: false },
  { scopes: 'system/*.s', grants: { '*': 's' }, recruitment: false },
  { scopes: 'system/*.c', grants: { '*': 'c' }, recruitment: false },
  { scopes: 'system/Observation.rs', grants: { Observation: 'rs' }, recruitment: false },
  { scopes: 'system/Observation.c', grants: { Observation: 'c' }, recruitment: false },
  { scopes: 'system/Observation.cruds', grants: { Observation: 'cruds' }, recruitment: false },
  { scopes: 'system/Patient.rs', grants: { Patient: 'rs' }, recruitment: false },
  { scopes: 'system/Patient.cruds system/Observation.r', grants: { Patient: 'cruds', Observation: 'r' }, recruitment: false },
  { scopes: 'system/StructureDefinition.rs', grants: { StructureDefinition: 'rs' }, recruitment: false },
  { scopes: 'patient/*.cruds', grants: {}, recruitment: false },
  { scopes: 'patient/Observation.rs', grants: {}, recruitment: false },
  { scopes: 'user/*.cruds', grants: {}, recruitment: false },
  // A user/ scope naming its type grants it (the app's roles, issue 16); a user/ wildcard grants nothing.
  { scopes: 'user/Observation.rs', grants: { Observation: 'rs' }, recruitment: false },
  { scopes: 'system/*.sr', grants: {}, recruitment: false },
  { scopes: 'system/*.rrs', grants: {}, recruitment: false },
  { scopes: 'system/Observation.rs?category=laboratory', grants: {}, recruitment: false },
  { scopes: 'system/observation.rs', grants: {}, recruitment: false },
  { scopes: 'System/*.rs', grants: {}, recruitment: false },
  { scopes: 'openid profile', grants: {}, recruitment: false },
  { scopes: 'recruitment/identity.read', grants: {}, recruitment: true },
  { scopes: 'recruitment/identity.read system/*.cruds', grants: { '*': 'cruds' }, recruitment: true },
  { scopes: 'recruitment/identity.*', grants: {}, recruitment: false },
  { scopes: 'recruitment/identity.readx', grants: {}, recruitment: false },
  { scopes: 'recruitment/*.read', grants: {}, recruitment: false },
];

function expected(route: Route, scope: (typeof SCOPES)[number]): number {
  if (route.needs === 'none') return route.ok;
  if (route.needs === 'recruitment') return scope.recruitment ? route.ok : 403;
  const { type, letter } = route.needs;
  const letters = `${scope.grants['*'] ?? ''}${scope.grants[type] ?? ''}`;
  return letters.includes(letter) ? route.ok : 403;
}

beforeAll(async () => {
  app = await startTestApp({ consumers: [] });
  const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'acc-1', day0: '2024-06-03' })) });
  expect(res.status).toBe(200);
  pseudonym = res.body.entry[0].response.location.split('/')[1];
  observationId = res.body.entry.find((e: any) => e.response.location?.startsWith('Observation/')).response.location.split('/')[1];
  expect((await app.fetchFhir('', { method: 'POST', body: JSON.stringify(labBundle('acc-2', 2)) })).status).toBe(200);
});

afterAll(async () => {
  printSummary('access', { routeScopeCases: stats.routeScope, badTokenCases: stats.tokens, injectionCases: stats.injections, '5xx': stats.status5xx });
  await app?.close();
});

async function call(route: Route, init: { token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: any }> {
  const res = await app.fetchFhir(route.path(), {
    method: route.method,
    ...(route.body ? { body: route.body() } : {}),
    token: init.token ?? null,
    ...(init.headers ? { headers: init.headers } : {}),
  });
  if (res.status >= 500) stats.status5xx++;
  return res;
}

describe('Access: every route × scope', () => {
  it(`answers ${ROUTES.length} routes × ${SCOPES.length + 1} scope sets as the README says`, async () => {
    const wrong: string[] = [];
    for (const route of ROUTES) {
      const none = await call(route, { token: null });
      stats.routeScope++;
      const wantNone = route.needs === 'none' ? route.ok : 401;
      if (none.status !== wantNone) wrong.push(`${route.name} without a token: ${none.status}, expected ${wantNone}`);
      for (const scope of SCOPES) {
        const res = await call(route, { token: await app.token(scope.scopes) });
        stats.routeScope++;
        const want = expected(route, scope);
        if (res.status !== want) wrong.push(`${route.name} with '${scope.scopes}': ${res.status}, expected ${want}`);
        else if (want >= 400 && res.body?.resourceType !== 'OperationOutcome') wrong.push(`${route.name} with '${scope.scopes}': ${want} without an OperationOutcome`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('never lets system/*.cruds or any Patient scope reach the identity link', async () => {
    for (const scopes of ['system/*.cruds', 'system/Patient.cruds', 'system/*.*', 'patient/*.cruds', 'user/*.cruds', 'system/Patient.rs recruitment/identity']) {
      const res = await app.fetchFhir(`/Patient/${pseudonym}/$hospital-identity`, { scopes });
      stats.routeScope++;
      expect(res.status, scopes).toBe(403);
      expect(JSON.stringify(res.body)).not.toContain('acc-1');
    }
    const ok = await app.fetchFhir(`/Patient/${pseudonym}/$hospital-identity`, { scopes: 'recruitment/identity.read' });
    stats.routeScope++;
    expect(ok.status).toBe(200);
    expect(JSON.stringify(ok.body)).toContain('Patient/acc-1');
  });
});

describe('Access: bad tokens', () => {
  const now = (): number => Math.floor(Date.now() / 1000);
  const sign = async (claims: JWTPayload, header: Record<string, unknown> = {}, key?: Parameters<SignJWT['sign']>[0]): Promise<string> => {
    const keys = await loadLocalKeys(app.dataDir);
    return new SignJWT({ scope: 'system/*.cruds recruitment/identity.read', client_id: 'attacker', ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: keys.kid, typ: 'at+jwt', ...header })
      .sign(key ?? keys.privateKey);
  };
  const good = (over: JWTPayload = {}): JWTPayload => ({ iss: localIssuer, aud: localAudience, sub: 'attacker', iat: now(), exp: now() + 600, jti: randomUUID(), ...over });
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

  const TOKENS: [string, () => Promise<string | null>, Record<string, string>?][] = [
    ['no Authorization header', () => Promise.resolve(null)],
    ['expired', () => sign(good({ exp: now() - 60, iat: now() - 3600 }))],
    ['not yet valid (nbf in an hour)', () => sign(good({ nbf: now() + 3600 }))],
    ['a 100-year lifetime', () => sign(good({ exp: now() + 100 * 365 * 24 * 3600 }))],
    ['issued in the future (iat in an hour)', () => sign(good({ iat: now() + 3600 }))],
    ['wrong issuer', () => sign(good({ iss: 'https://evil.example.org' }))],
    ['wrong audience', () => sign(good({ aud: 'https://other-api.example.org' }))],
    ['no exp', () => sign({ ...good(), exp: undefined })],
    ['no sub', () => sign({ ...good(), sub: undefined })],
    ['sub of the wrong type', () => sign({ ...good(), sub: 42 } as unknown as JWTPayload)],
    ['alg none', () => Promise.resolve(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(good())}.`)],
    ['alg none with a signature', async () => {
      const [, , sig] = (await sign(good())).split('.');
      return `${b64({ alg: 'none' })}.${b64(good())}.${sig}`;
    }],
    ['tampered payload (scope widened after signing)', async () => {
      const [h, , s] = (await sign(good({ scope: 'system/*.rs' }))).split('.');
      return `${h}.${b64(good())}.${s}`;
    }],
    ['tampered signature', async () => {
      const t = await sign(good());
      return `${t.slice(0, -4)}${t.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    }],
    ['signed by another key', () => sign(good(), {}, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)],
    ['HS256 with the public key as secret (algorithm confusion)', async () => {
      const keys = await loadLocalKeys(app.dataDir);
      const secret = new TextEncoder().encode(keys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
      return new SignJWT({ scope: 'system/*.cruds', ...good() }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
    }],
    ['a JWT that is not three parts', () => Promise.resolve('abc.def')],
    ['garbage', () => Promise.resolve('not-a-jwt')],
    ['empty bearer', () => Promise.resolve(null), { authorization: 'Bearer ' }],
    ['Basic auth', () => Promise.resolve(null), { authorization: 'Basic YWRtaW46YWRtaW4=' }],
    ['two bearer tokens', () => Promise.resolve(null), { authorization: `Bearer ${'x'.repeat(10)} Bearer y` }],
  ];

  it(`refuses ${TOKENS.length} kinds of bad token with 401 on every route but /metadata`, async () => {
    const wrong: string[] = [];
    for (const [name, make, headers] of TOKENS) {
      const token = await make();
      for (const route of ROUTES.filter((r) => r.needs !== 'none')) {
        const res = await call(route, { token, ...(headers ? { headers } : {}) });
        stats.tokens++;
        if (res.status !== 401 || res.body?.resourceType !== 'OperationOutcome') wrong.push(`${name} on ${route.name}: ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('accepts the same forged-claims signer when every claim is right (the refusals above are for the claim, not the signer)', async () => {
    const res = await app.fetchFhir(`/Observation/${observationId}`, { token: await sign(good()) });
    expect(res.status).toBe(200);
  });
});

describe('Access: injection in search parameters and ids', () => {
  const VALUES = ["' OR 1=1 --", "' OR '1'='1", '" OR ""="', '../', '../../etc/passwd', '..%2F..%2Fetc', '%00', '\u0000', 'a\u0000b', '$where', '{"$where":"1"}', '{"$gt":""}', '*', '%', '_', '\\', `${'z'.repeat(4000)}`, '<script>', '${jndi:ldap://x}'];
  const PARAMS = ['_id', 'code', 'patient', 'subject', '_profile', 'date', '_lastUpdated', '$where', '_filter', 'url', 'name', 'status'];

  it(`answers ${PARAMS.length} parameters × ${VALUES.length} values and ids below 500, never with another patient's data`, async () => {
    const before = await snapshotStore(app);
    const wrong: string[] = [];
    for (const type of ['Observation', 'Patient', 'StructureDefinition']) {
      for (const param of PARAMS) {
        for (const value of VALUES) {
          const res = await app.fetchFhir(`/${type}?${encodeURIComponent(param)}=${encodeURIComponent(value)}`, { scopes: 'system/*.rs' });
          stats.injections++;
          if (res.status >= 500) stats.status5xx++;
          if (res.status >= 500 || (res.status >= 400 && res.body?.resourceType !== 'OperationOutcome')) wrong.push(`${type}?${param}=${value.slice(0, 30)}: ${res.status}`);
          // A filter value that is not a real id, code or date must never match the stored data.
          if (res.status === 200 && type !== 'StructureDefinition' && (res.body.entry?.length ?? 0) > 0) wrong.push(`${type}?${param}=${value.slice(0, 30)}: ${res.body.entry.length} matches`);
        }
      }
      for (const value of VALUES) {
        for (const suffix of ['', '/_history', '/_history/1', '/$hospital-identity']) {
          const res = await app.fetchFhir(`/${type}/${encodeURIComponent(value)}${suffix}`, { scopes: 'system/*.rs recruitment/identity.read' });
          stats.injections++;
          if (res.status >= 500) stats.status5xx++;
          if (![400, 404].includes(res.status)) wrong.push(`/${type}/${value.slice(0, 30)}${suffix}: ${res.status}`);
        }
      }
    }
    // Raw (not percent-encoded) path traversal: fetch (WHATWG URL) resolves `..` and `%2e%2e` segments itself, an encoded slash reaches the server.
    for (const path of ['/Observation/%2e%2e%2f%2e%2e%2fmetadata', '/Observation/..%2f..%2fPatient', '/Patient/%2e%2e/$hospital-identity']) {
      const res = await app.fetchFhir(path, { scopes: 'system/*.rs' });
      stats.injections++;
      if (![400, 404].includes(res.status)) wrong.push(`${path}: ${res.status}`);
    }
    expect(wrong).toEqual([]);
    expect(snapshotDiff(before, await snapshotStore(app)).filter((c) => !c.startsWith('AuditEvent/'))).toEqual([]);
  });

  it.runIf(STRESS)('answers a 100,000-character parameter without a 5xx', async () => {
    const res = await app.fetchFhir(`/Observation?code=${'z'.repeat(100_000)}`, { scopes: 'system/*.rs' });
    // The local server's HTTP parser refuses headers over 16 KB (431) before the handler; API Gateway has its own limit.
    expect([400, 414, 431]).toContain(res.status);
  });
});

describe('Access: the audit trail of identity look-ups (issue 14: any system/*.rs client could read it)', () => {
  it('is refused to wildcard scopes and served to a scope naming AuditEvent', async () => {
    const resolved = await app.fetchFhir(`/Patient/${pseudonym}/$hospital-identity`, { scopes: 'recruitment/identity.read' });
    expect(resolved.status).toBe(200);
    for (const scopes of ['system/*.rs', 'system/*.cruds', 'system/*.read']) {
      const res = await app.fetchFhir('/AuditEvent', { scopes });
      expect(res.status, scopes).toBe(403);
      expect(JSON.stringify(res.body)).not.toContain(pseudonym);
    }
    const audit = await app.fetchFhir('/AuditEvent', { scopes: 'system/AuditEvent.rs' });
    expect(audit.status).toBe(200);
    expect(audit.body.entry.length).toBeGreaterThan(0);
  });
});
