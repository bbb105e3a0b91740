import FHIR from 'fhirclient';
import type { FhirSession } from './fhir.js';

/** The study app's client id at the authorization server (public client, PKCE S256). */
export const CLIENT_ID = 'study-app';

/**
 * What the app asks for: every `user/` right any role might need, and the named reveal scope. The
 * authorization server grants the signed-in role's own list (fhir-profiles/access/roles.json)
 * intersected with this, so asking wide never widens a grant.
 */
export const REQUESTED_SCOPES = 'openid fhirUser user/*.cruds recruitment/identity.read';

/** sessionStorage key of the route to reopen after the authorization redirect (a hash route, no PHI). */
const ROUTE_KEY = 'study-app:route';

/** The app's own address: redirects come back here, and the FHIR base is beside it. */
function appUrl(): string {
  return `${location.origin}/app/`;
}

/**
 * Starts a SMART App Launch standalone launch: authorization code with PKCE S256 (SMART App Launch 2.x
 * §2.0.4), through fhirclient, against the layer's own FHIR base (`{origin}/fhir`, whose
 * `.well-known/smart-configuration` names the endpoints). Remembers the hash route to come back to.
 * @returns Never: the browser leaves for the authorization endpoint.
 */
export async function signIn(): Promise<void> {
  if (location.hash && location.hash !== '#/') {
    sessionStorage.setItem(ROUTE_KEY, location.hash);
  }
  await FHIR.oauth2.authorize({
    iss: `${location.origin}/fhir`,
    clientId: CLIENT_ID,
    scope: REQUESTED_SCOPES,
    redirectUri: appUrl(),
    pkceMode: 'required',
  });
}

/**
 * Finishes the launch (code exchange) or resumes the session fhirclient keeps in sessionStorage.
 * @returns The session, or undefined when there is none (or it expired) and a sign-in is needed.
 */
export async function resumeSession(): Promise<FhirSession | undefined> {
  const returning = new URLSearchParams(location.search);
  const hasState = Object.keys(sessionStorage).includes('SMART_KEY');
  if (!returning.has('code') && !returning.has('error') && !hasState) {
    return undefined;
  }
  try {
    const client = await FHIR.oauth2.ready();
    const token = client.state.tokenResponse;
    const expiresAt = client.state.expiresAt;
    if (!token?.access_token || (expiresAt !== undefined && expiresAt * 1000 < Date.now() + 30_000)) {
      signOutLocally();
      return undefined;
    }
    const route = sessionStorage.getItem(ROUTE_KEY);
    sessionStorage.removeItem(ROUTE_KEY);
    // fhirclient leaves `?code&state` gone; put back the page that was asked for.
    history.replaceState(null, '', `${appUrl()}${route ?? (location.hash || '#/worklist')}`);
    return {
      serverUrl: client.state.serverUrl.replace(/\/$/, ''),
      accessToken: token.access_token,
      scopes: (token.scope ?? '').split(/\s+/).filter((s) => s.length > 0),
    };
  } catch {
    signOutLocally();
    return undefined;
  }
}

/** Forgets the token and the launch state (nothing else of the study is kept in the browser). */
export function signOutLocally(): void {
  sessionStorage.clear();
}

/**
 * Signs out: forgets the session here and, on the local run (whose authorization server is
 * `{origin}/auth/`), ends the sign-in session there too, so the next visit asks for a role again.
 * Elsewhere the identity provider keeps its own session; the app only forgets its token.
 */
export async function signOut(): Promise<void> {
  let local = false;
  try {
    const res = await fetch(`${location.origin}/fhir/.well-known/smart-configuration`);
    const config = (await res.json()) as { authorization_endpoint?: string };
    local = config.authorization_endpoint === `${location.origin}/auth/authorize`;
  } catch {
    local = false;
  }
  signOutLocally();
  location.assign(local ? `${location.origin}/auth/signout?next=${encodeURIComponent('/app/')}` : appUrl());
}

/** The role a session acts in, read from its grant (the authorization server's role lists differ). */
export type Role = 'recruitment' | 'investigator' | 'statistician';

/**
 * Which role the granted scopes are: the reveal scope is the recruitment team's alone, Task update the
 * investigator's; the statistician has neither.
 * @param scopes - Granted scopes.
 * @returns The role.
 */
export function roleOf(scopes: readonly string[]): Role {
  if (scopes.includes('recruitment/identity.read')) return 'recruitment';
  if (scopes.some((s) => /^user\/(Task|\*)\.[a-z]*u/.test(s))) return 'investigator';
  return 'statistician';
}
