/**
 * The local SMART authorization server end to end, over HTTP: SMART App Launch 2 standalone launch
 * (authorization code, PKCE S256, public client), the local sign-in, and the tokens it issues used
 * on the API. https://hl7.org/fhir/smart-app-launch/app-launch.html, RFC 6749, RFC 7636.
 */
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleScopes } from '../../../lambdas/commons/auth/roles.js';
import { s256 } from '../../../local/auth/pkce.js';
import { APP_CONTENT_SECURITY_POLICY } from '../../../local/app-security-headers.js';
import { startTestApp, type TestApp } from '../../support/local-app.js';

let app: TestApp;
let origin = '';
let fhirBase = '';
const verifier = 'v'.repeat(20) + '-._~' + 'A1'.repeat(12);
const challenge = s256(verifier);

beforeAll(async () => {
  const appDir = mkdtempSync(join(tmpdir(), 'app-dist-'));
  writeFileSync(join(appDir, 'index.html'), '<!doctype html><title>study app</title><script type="module" src="./assets/index-AbCd1234.js"></script>');
  mkdirSync(join(appDir, 'assets'));
  writeFileSync(join(appDir, 'assets', 'index-AbCd1234.js'), 'console.log(1)');
  writeFileSync(join(appDir, 'assets', 'style-XyZw9876.css'), 'body{}');
  app = await startTestApp({ consumers: [], appDir });
  fhirBase = app.baseUrl;
  origin = new URL(app.baseUrl).origin;
});

afterAll(async () => {
  await app?.close();
});

/** A request that does not follow redirects, with an optional cookie. */
async function get(path: string, cookie?: string): Promise<Response> {
  return fetch(`${origin}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
}

/** The status of a GET whose path is sent byte for byte. */
function rawStatus(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: Number(new URL(origin).port), path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

function authorizeUrl(over: Record<string, string | undefined> = {}): string {
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: 'study-app',
    redirect_uri: `${origin}/app/`,
    scope: 'openid fhirUser user/*.cruds recruitment/identity.read',
    state: 'st-123',
    aud: fhirBase,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...over,
  };
  const q = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  return `/auth/authorize?${q.toString()}`;
}

async function signIn(role: string): Promise<string> {
  const res = await get(`/auth/signin?role=${role}&next=${encodeURIComponent('/app/#/review')}`);
  expect(res.status).toBe(302);
  expect(res.headers.get('location')).toBe('/app/#/review');
  const setCookie = res.headers.get('set-cookie') ?? '';
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Lax/);
  expect(setCookie).toMatch(/Path=\/auth/);
  return setCookie.split(';')[0]!;
}

async function exchange(code: string, over: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${origin}/app/`, client_id: 'study-app', code_verifier: verifier, ...over });
  const res = await fetch(`${origin}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  return { status: res.status, body: await res.json() };
}

async function codeFor(role: string, over: Record<string, string> = {}): Promise<string> {
  const cookie = await signIn(role);
  const res = await get(authorizeUrl(over), cookie);
  expect(res.status).toBe(302);
  const to = new URL(res.headers.get('location')!);
  expect(to.origin + to.pathname).toBe(`${origin}/app/`);
  expect(to.searchParams.get('state')).toBe('st-123');
  return to.searchParams.get('code')!;
}

describe('SMART discovery in the local run (SMART App Launch 2, Conformance)', () => {
  it('names the local authorization and token endpoints, PKCE S256, standalone launch, public clients and user scopes', async () => {
    const res = await fetch(`${fhirBase}/.well-known/smart-configuration`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body.authorization_endpoint).toBe(`${origin}/auth/authorize`);
    expect(body.token_endpoint).toBe(`${origin}/auth/token`);
    expect(body.code_challenge_methods_supported).toEqual(['S256']);
    expect(body.capabilities).toEqual(expect.arrayContaining(['launch-standalone', 'client-public', 'permission-user', 'permission-v2']));
    expect(body.capabilities).not.toContain('context-standalone-patient');
    expect(body.grant_types_supported).toContain('authorization_code');
    expect(body.scopes_supported).toEqual(expect.arrayContaining(['user/Task.rus', 'user/Observation.crs', 'recruitment/identity.read', 'system/*.rs']));
  });
});

describe('Authorization code with PKCE (SMART App Launch 2, RFC 6749 4.1, RFC 7636)', () => {
  it('shows the sign-in form without a session, and continues the authorization after it', async () => {
    const first = await get(authorizeUrl());
    expect(first.status).toBe(200);
    expect(first.headers.get('content-security-policy')).toBe(APP_CONTENT_SECURITY_POLICY);
    const page = await first.text();
    for (const role of ['recruitment', 'investigator', 'statistician']) expect(page).toContain(`value="${role}"`);
    const next = /name="next" value="([^"]+)"/.exec(page)![1]!.replaceAll('&#38;', '&');
    const posted = await fetch(`${origin}/auth/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ role: 'statistician', next }),
    });
    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toBe(authorizeUrl());
    const cookie = (posted.headers.get('set-cookie') ?? '').split(';')[0]!;
    const again = await get(posted.headers.get('location')!, cookie);
    expect(again.status).toBe(302);
    const code = new URL(again.headers.get('location')!).searchParams.get('code')!;
    const token = await exchange(code);
    expect(token.status).toBe(200);
    // A wildcard request is narrowed to the role's scopes: the statistician reads aggregates only.
    expect(token.body.scope.split(' ').sort()).toEqual(roleScopes('statistician').sort());
  });

  it('issues a Bearer JWT for the role: sub, client_id, role, the granted scopes, and the API honours it', async () => {
    const { status, body } = await exchange(await codeFor('investigator'));
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    const claims = decodeJwt(body.access_token);
    expect(claims).toMatchObject({ sub: 'local-investigator', client_id: 'study-app', role: 'investigator', scope: body.scope });
    expect(body.scope.split(' ')).toEqual(roleScopes('investigator'));
    expect(body.scope).not.toContain('recruitment/identity.read');
    const ok = await app.fetchFhir('/Task?status=requested', { token: body.access_token });
    expect(ok.status).toBe(200);
    const refused = await app.fetchFhir('/AuditEvent', { token: body.access_token });
    expect(refused.status).toBe(403);
  });

  it('refuses a code twice, a wrong verifier, another redirect_uri or client (RFC 6749 4.1.3, RFC 7636 4.6)', async () => {
    const code = await codeFor('recruitment');
    expect((await exchange(code, { code_verifier: 'w'.repeat(43) })).body.error).toBe('invalid_grant');
    // The failed attempt used the code up.
    expect((await exchange(code)).body.error).toBe('invalid_grant');
    const other = await codeFor('recruitment');
    expect(await exchange(other, { redirect_uri: `${origin}/app/other` })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const third = await codeFor('recruitment');
    expect(await exchange(third, { client_id: 'someone-else' })).toMatchObject({ status: 400, body: { error: 'invalid_client' } });
    const fourth = await codeFor('recruitment');
    const ok = await exchange(fourth);
    expect(ok.status).toBe(200);
    expect(ok.body.scope.split(' ')).toContain('recruitment/identity.read');
    expect((await exchange(fourth)).body.error).toBe('invalid_grant');
  });

  it('requires PKCE S256, a state and the FHIR base as aud, answering the app with an error', async () => {
    const cookie = await signIn('investigator');
    for (const [over, error] of [
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
      [{ state: undefined }, 'invalid_request'],
      [{ aud: 'https://other.example.org/fhir' }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ scope: 'system/*.cruds patient/*.rs' }, 'invalid_scope'],
    ] as const) {
      const res = await get(authorizeUrl(over), cookie);
      expect(res.status, JSON.stringify(over)).toBe(302);
      const to = new URL(res.headers.get('location')!);
      expect(to.searchParams.get('error'), JSON.stringify(over)).toBe(error);
      expect(to.searchParams.get('code')).toBeNull();
    }
  });

  it('never redirects to an unknown client or a redirect URI outside {origin}/app/ (RFC 6749 4.1.2.1)', async () => {
    const cookie = await signIn('investigator');
    for (const over of [{ client_id: 'evil' }, { redirect_uri: 'https://evil.example.org/app/' }, { redirect_uri: `${origin}/fhir/` }, { redirect_uri: `${origin}/app/#x` }]) {
      const res = await get(authorizeUrl(over), cookie);
      expect(res.status, JSON.stringify(over)).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    }
  });

  it('signs in at once by link, only to a path under /app/, and only as a known role', async () => {
    for (const next of ['//evil.example.org/app/', 'https://evil.example.org/app/', '/fhir/Patient', '/\\evil.example.org', '/auth/authorize?x=1']) {
      const res = await get(`/auth/signin?role=investigator&next=${encodeURIComponent(next)}`);
      expect(res.status, next).toBe(400);
      expect(res.headers.get('set-cookie'), next).toBeNull();
    }
    expect((await get('/auth/signin?role=admin&next=/app/')).status).toBe(400);
    const out = await get('/auth/signout?next=/app/', await signIn('recruitment'));
    expect(out.status).toBe(302);
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
  });
});

describe('The app served at /app/', () => {
  it('serves index.html and the built assets with their content types and the security headers', async () => {
    const index = await get('/app/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('content-security-policy')).toBe(APP_CONTENT_SECURITY_POLICY);
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(index.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await index.text()).toContain('study app');
    const js = await get('/app/assets/index-AbCd1234.js');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await get('/app/assets/style-XyZw9876.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await get('/app')).headers.get('location')).toBe('/app/');
  });

  it('answers 404 for what is not a file of the app, traversal included', async () => {
    // Sent as written (fetch would normalise dot segments before sending).
    // Dot segments (`..`, `%2e%2e`) are resolved by the URL parser before routing: it leaves /app/ and is not the app's.
    for (const path of ['/app/../package.json', '/app/%2e%2e/package.json', '/app/.%2E/package.json']) expect(await rawStatus(path), path).not.toBe(200);
    for (const path of ['/app/missing.js', '/app/..%2fpackage.json', '/app/assets/..%2F..%2Fpackage.json', '/app/%00', '/app/assets/']) {
      expect(await rawStatus(path), path).toBe(404);
    }
    expect((await fetch(`${origin}/app/`, { method: 'POST' })).status).toBe(405);
  });
});
