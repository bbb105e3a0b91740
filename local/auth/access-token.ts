/**
 * The access token the local authorization server issues to the study app: a JWT signed with the
 * local key (local/keys.ts), so the local API verifies it exactly as it verifies `npm run token`'s
 * tokens, shaped as RFC 9068 for a user: `sub` the person (here the role's local user), `client_id`
 * the app, `scope` the granted scopes, and a `role` claim for the app's own display.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { RoleId } from '../../lambdas/commons/auth/roles.js';
import { defaultLocalTokenLifetimeSec, loadLocalKeys, localAudience, localIssuer } from '../keys.js';

/** What `signUserToken` signs. */
export interface UserTokenRequest {
  readonly role: RoleId;
  /** Granted scopes, space-separated. */
  readonly scope: string;
  readonly clientId: string;
  /** Default: a working hour. */
  readonly expiresInSec?: number;
}

/**
 * Signs a user access token with the local key.
 * @param dataDir - The data directory holding the key.
 * @param request - Role, scopes, client.
 * @returns The JWT and its lifetime in seconds.
 */
export async function signUserToken(dataDir: string, request: UserTokenRequest): Promise<{ token: string; expiresIn: number }> {
  const expiresIn = request.expiresInSec ?? defaultLocalTokenLifetimeSec;
  const { privateKey, kid } = await loadLocalKeys(dataDir);
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ scope: request.scope, client_id: request.clientId, role: request.role })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
    .setIssuer(localIssuer)
    .setAudience(localAudience)
    .setSubject(`local-${request.role}`)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .setJti(randomUUID())
    .sign(privateKey);
  return { token, expiresIn };
}
