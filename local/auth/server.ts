/**
 * The local SMART authorization server (local run only; in AWS the configured OIDC issuer plays it).
 *
 * SMART App Launch 2, standalone launch, authorization code with PKCE, for one public client, the
 * study app (`study-app`, redirect URIs under `{origin}/app/`):
 * - `GET /auth/authorize`: with a sign-in session (cookie `sle_session`, HttpOnly, SameSite=Lax,
 *   Path=/auth) redirects to the app with `code` and `state`; without one shows the sign-in page.
 * - `GET /auth/signin?role=R&next=/app/...` signs in as R at once and goes to `next` (a path under
 *   /app/ only), so a link or a test opens any page as any role; `POST /auth/signin` is the sign-in
 *   form's; `GET /auth/signout?next=/app/` ends the session.
 * - `POST /auth/token`: the code (single use, 60 s) for an access token signed with the local key,
 *   its scopes the role's scopes (fhir-profiles/access/roles.json) intersected with those requested.
 * Errors follow RFC 6749: an unknown client or redirect URI is shown, never redirected to; the rest
 * go back to the app as `error` and `error_description`; the token endpoint answers 400 JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { appRoles, grantFor, isRoleId, type RoleId } from '../../lambdas/commons/auth/roles.js';
import { smartConfiguration } from '../../lambdas/serve/core/smart-configuration.js';
import { APP_SECURITY_HEADERS } from '../app-security-headers.js';
import { localIssuer } from '../keys.js';
import { signUserToken } from './access-token.js';
import { LocalGrants, SESSION_LIFETIME_MS } from './grants.js';
import { errorPage, signInPage } from './pages.js';
import { isS256Challenge, verifierMatches } from './pkce.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'sle_session';

/** The local authorization server, as the local HTTP server mounts it. */
export interface LocalAuth {
  /**
   * Answers a request under `/auth/`.
   * @param req - The request (method, headers).
   * @param url - Its URL.
   * @param body - Its body, read already.
   * @param res - Where to answer.
   */
  handle(req: IncomingMessage, url: URL, body: Buffer, res: ServerResponse): Promise<void>;
  /**
   * SMART discovery for the local run: this server's endpoints on the request's origin.
   * @param origin - `http://127.0.0.1:{port}` as the browser reached it.
   * @returns The `.well-known/smart-configuration` document.
   */
  discovery(origin: string): Record<string, unknown>;
}

/** Options of `createLocalAuth`. */
export interface LocalAuthOptions {
  /** Holds the local signing key. */
  readonly dataDir: string;
  /** Milliseconds since the epoch (tests move it). */
  readonly now?: () => number;
}

/** Only a loopback host: the local run listens on 127.0.0.1, and the origin is built from `Host`. */
const LOOPBACK_HOST = /^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?$/;

/**
 * The origin a request reached, from its `Host` header, when that is a loopback address.
 * @param req - The request.
 * @returns `http://host:port`, or `undefined`.
 */
export function requestOrigin(req: IncomingMessage): string | undefined {
  const host = req.headers.host ?? '';
  return LOOPBACK_HOST.test(host) ? `http://${host}` : undefined;
}

/**
 * Builds the local authorization server.
 * @param options - Data directory and clock.
 * @returns Its request handler and discovery document.
 */
export function createLocalAuth(options: LocalAuthOptions): LocalAuth {
  const now = options.now ?? Date.now;
  const grants = new LocalGrants(now);
  const clientId = appRoles().client.id;

  async function handle(req: IncomingMessage, url: URL, body: Buffer, res: ServerResponse): Promise<void> {
    const origin = requestOrigin(req);
    if (origin === undefined) {
      html(res, 400, errorPage('The local sign-in answers on 127.0.0.1 or localhost only.'));
      return;
    }
    const method = req.method ?? 'GET';
    const session = cookie(req, SESSION_COOKIE);
    switch (`${method} ${url.pathname}`) {
      case 'GET /auth/authorize':
        authorize(url.searchParams, origin, grants.sessionRole(session), res);
        return;
      case 'GET /auth/signin': {
        const next = url.searchParams.get('next') ?? '/app/';
        if (!isSafeNext(next, false)) {
          html(res, 400, errorPage('next must be a path under /app/.'));
          return;
        }
        const role = url.searchParams.get('role');
        if (role === null) {
          html(res, 200, signInPage(next));
          return;
        }
        signIn(role, next, session, res, 302);
        return;
      }
      case 'POST /auth/signin': {
        const form = formOf(req, body);
        const next = form?.get('next') ?? '/app/';
        if (form === undefined || !isSafeNext(next, true)) {
          html(res, 400, errorPage('The sign-in form was not understood.'));
          return;
        }
        signIn(form.get('role') ?? '', next, session, res, 303);
        return;
      }
      case 'GET /auth/signout':
      case 'POST /auth/signout': {
        grants.closeSession(session);
        const next = url.searchParams.get('next') ?? '/app/';
        redirect(res, method === 'POST' ? 303 : 302, isSafeNext(next, false) ? next : '/app/', { 'set-cookie': `${SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/auth; Max-Age=0` });
        return;
      }
      case 'POST /auth/token':
        await token(req, body, res);
        return;
      default:
        html(res, url.pathname === '/auth/authorize' || url.pathname === '/auth/token' || url.pathname === '/auth/signin' ? 405 : 404, errorPage('No such sign-in page.'));
    }
  }

  function signIn(role: string, next: string, oldSession: string | undefined, res: ServerResponse, status: number): void {
    if (!isRoleId(role)) {
      html(res, 400, errorPage(`Unknown role; choose one of ${appRoles().roles.map((r) => r.id).join(', ')}.`));
      return;
    }
    // A new id at every sign-in (no session fixation), the old one ended.
    grants.closeSession(oldSession);
    const id = grants.openSession(role);
    redirect(res, status, next, { 'set-cookie': `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Lax; Path=/auth; Max-Age=${SESSION_LIFETIME_MS / 1000}` });
  }

  function authorize(params: URLSearchParams, origin: string, role: RoleId | undefined, res: ServerResponse): void {
    const single = (name: string): string | undefined => (params.getAll(name).length === 1 ? params.get(name)! : undefined);
    const redirectUri = single('redirect_uri');
    if (single('client_id') !== clientId) {
      html(res, 400, errorPage(`Unknown client: this server knows the study app (client_id ${clientId}) only.`));
      return;
    }
    if (redirectUri === undefined || !isAppRedirect(redirectUri, origin)) {
      html(res, 400, errorPage(`redirect_uri must be under ${origin}/app/.`));
      return;
    }
    const state = single('state');
    const back = (error: string, description: string): void => {
      const to = new URL(redirectUri);
      to.searchParams.set('error', error);
      to.searchParams.set('error_description', description);
      if (state !== undefined) to.searchParams.set('state', state);
      redirect(res, 302, to.toString());
    };
    if (single('response_type') !== 'code') return back('unsupported_response_type', 'response_type must be code');
    if (state === undefined || state === '') return back('invalid_request', 'state is required');
    const challenge = single('code_challenge');
    if (single('code_challenge_method') !== 'S256' || challenge === undefined || !isS256Challenge(challenge)) {
      return back('invalid_request', 'PKCE is required: code_challenge_method S256 and a code_challenge');
    }
    const aud = single('aud');
    if (aud === undefined || aud.replace(/\/+$/, '') !== `${origin}/fhir`) {
      // SMART App Launch: the app names the FHIR server it means, so a token is not sent to another.
      return back('invalid_request', `aud must be this FHIR server, ${origin}/fhir`);
    }
    if (role === undefined) {
      html(res, 200, signInPage(`/auth/authorize?${params.toString()}`));
      return;
    }
    const scope = grantFor(role, single('scope') ?? '');
    if (scope.length === 0) return back('invalid_scope', `none of the requested scopes is granted to the ${role} role`);
    const code = grants.issueCode({ role, scope: scope.join(' '), clientId, redirectUri, codeChallenge: challenge });
    const to = new URL(redirectUri);
    to.searchParams.set('code', code);
    to.searchParams.set('state', state);
    redirect(res, 302, to.toString());
  }

  async function token(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
    const form = formOf(req, body);
    const fail = (error: string, description: string): void => json(res, 400, { error, error_description: description });
    if (form === undefined) return fail('invalid_request', 'the body must be application/x-www-form-urlencoded');
    const names = [...form.keys()];
    if (new Set(names).size !== names.length) return fail('invalid_request', 'a parameter is repeated');
    if (form.get('grant_type') !== 'authorization_code') return fail('unsupported_grant_type', 'grant_type must be authorization_code');
    const code = form.get('code');
    if (!code) return fail('invalid_request', 'code is required');
    const grant = grants.redeemCode(code);
    if (grant === undefined) return fail('invalid_grant', 'the code is unknown, used or expired');
    if (form.get('client_id') !== grant.clientId) return fail('invalid_client', 'client_id does not match the authorization request');
    if (form.get('redirect_uri') !== grant.redirectUri) return fail('invalid_grant', 'redirect_uri does not match the authorization request');
    if (!verifierMatches(form.get('code_verifier') ?? '', grant.codeChallenge)) return fail('invalid_grant', 'code_verifier does not match the code_challenge');
    const { token: accessToken, expiresIn } = await signUserToken(options.dataDir, { role: grant.role, scope: grant.scope, clientId: grant.clientId });
    json(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn, scope: grant.scope });
  }

  return {
    handle,
    discovery: (origin) => smartConfiguration({ issuer: localIssuer, tokenEndpoint: `${origin}/auth/token`, authorizationEndpoint: `${origin}/auth/authorize` }),
  };
}

/** A redirect URI of the app on this origin: under `/app/`, no fragment (RFC 6749 section 3.1.2). */
function isAppRedirect(raw: string, origin: string): boolean {
  try {
    const uri = new URL(raw);
    return uri.origin === origin && uri.pathname.startsWith('/app/') && uri.hash === '' && uri.username === '' && uri.password === '';
  } catch {
    return false;
  }
}

/**
 * Where a sign-in may continue: a same-origin path under `/app/` (or, from the sign-in form, back to
 * `/auth/authorize`). Never another host (`//evil`, `/\evil`), so a link cannot make the sign-in an
 * open redirect.
 */
function isSafeNext(next: string, allowAuthorize: boolean): boolean {
  if (!next.startsWith('/') || next.startsWith('//') || next.includes('\\') || [...next].some((c) => c.charCodeAt(0) < 0x20)) return false;
  try {
    const url = new URL(next, 'http://local.invalid');
    return url.host === 'local.invalid' && (url.pathname === '/app/' || url.pathname.startsWith('/app/') || (allowAuthorize && url.pathname === '/auth/authorize'));
  } catch {
    return false;
  }
}

function formOf(req: IncomingMessage, body: Buffer): URLSearchParams | undefined {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/x-www-form-urlencoded' ? new URLSearchParams(body.toString('utf8')) : undefined;
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { ...APP_SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  // RFC 6749 section 5.1: token responses are never cached.
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', pragma: 'no-cache', 'x-content-type-options': 'nosniff' });
  res.end(JSON.stringify(body));
}

function redirect(res: ServerResponse, status: number, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...APP_SECURITY_HEADERS, location, 'cache-control': 'no-store', ...headers });
  res.end();
}
