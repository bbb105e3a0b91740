import { forbidden, OperationOutcomeError, unauthorized, unauthorizedTokenAudience, unauthorizedTokenExpired } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { errors, jwtVerify } from 'jose';
import type { CryptoKey, JWK, JWTVerifyGetKey, KeyObject } from 'jose';
import { z } from 'zod';
import { can, hasScope, splitScopes } from './scopes.js';
import type { Interaction } from './scopes.js';

/** Who is calling, as established by a verified access token. */
export interface Principal {
  /** The token's `sub`. For client-credentials tokens this names the client (RFC 9068 section 2.2). */
  readonly subject: string;
  /** `client_id` (RFC 9068), else `azp`, else `cid` (Okta), else `sub`. */
  readonly clientId: string;
  /** Granted scope tokens, distinct, as found in `scope` and `scp`. */
  readonly scopes: readonly string[];
}

/** A public key, or a resolver such as `createRemoteJWKSet(...)` that picks one by the token's `kid`. */
export type VerificationKeys = CryptoKey | KeyObject | JWK | JWTVerifyGetKey;

/** What `verifyBearer` checks a token against. */
export interface VerifyBearerOptions {
  /** Exact expected `iss`. */
  readonly issuer: string;
  /** Expected `aud` (the token may list others too). */
  readonly audience: string;
  readonly keys: VerificationKeys;
  /** Allowed clock skew for `exp` and `nbf`, in seconds. Default 0. */
  readonly clockToleranceSec?: number;
}

/**
 * Signature algorithms accepted. Asymmetric only: with an HMAC algorithm allowed, a token "signed"
 * with our public key as the shared secret would verify (algorithm confusion).
 */
export const ALLOWED_ALGORITHMS: readonly string[] = ['RS256', 'ES256'];

/**
 * Longest token lifetime (`exp` - `iat`, or `exp` - now without `iat`) accepted: Cognito's own upper
 * bound for access tokens (1 day). A leaked token with a longer one would outlive any review of it;
 * the API Gateway JWT authorizer checks only that `exp` is in the future, so the functions check this.
 */
export const MAX_TOKEN_LIFETIME_SEC = 24 * 3600;

/** How far in the future an `iat` may be (clock skew between the issuer and us), in seconds. */
export const MAX_CLOCK_SKEW_SEC = 60;

/** RFC 6750 section 2.1: `Bearer` (scheme case-insensitive), one or more spaces, a b64token. */
const BEARER_HEADER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Verifies an `Authorization: Bearer <JWT>` header value and returns the caller.
 *
 * The token must be signed with RS256 or ES256 by one of `keys`, carry `sub` and `exp`, be within
 * its `nbf`/`exp` window, and name the expected issuer and audience.
 * @param authorizationHeader - The raw header value, or `undefined` when absent.
 * @param options - Issuer, audience, keys and clock tolerance.
 * @returns The verified principal.
 * @throws OperationOutcomeError with a 401 outcome for any missing, malformed or invalid token.
 * Failures that are ours rather than the caller's (JWKS endpoint timeout, unusable key) propagate
 * unchanged so that they surface as server errors.
 * @example
 * const principal = await verifyBearer(event.headers.authorization, { issuer, audience, keys: jwks });
 * requireScope(principal, 'Observation', 'r');
 */
export async function verifyBearer(authorizationHeader: string | undefined, options: VerifyBearerOptions): Promise<Principal> {
  if (authorizationHeader === undefined || authorizationHeader.trim() === '') {
    throw new OperationOutcomeError(withDetail(unauthorized, 'login', 'Missing bearer token'));
  }
  const token = BEARER_HEADER.exec(authorizationHeader)?.[1];
  if (token === undefined) {
    throw new OperationOutcomeError(withDetail(unauthorized, 'login', 'Authorization header is not a bearer token'));
  }
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, options.keys, {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: [...ALLOWED_ALGORITHMS],
      clockTolerance: options.clockToleranceSec ?? 0,
      // Without `exp` a leaked token would never stop working.
      requiredClaims: ['sub', 'exp'],
    }));
  } catch (err) {
    const outcome = outcomeFor(err);
    if (outcome === undefined) {
      throw err;
    }
    throw new OperationOutcomeError(outcome, err);
  }
  return principalFromClaims(payload);
}

/**
 * Claims we read. `scp` arrives as a JSON array from some issuers, and API Gateway's JWT authorizer
 * flattens arrays to a string such as `[a b]`; both are accepted.
 */
const ClaimsSchema = z.object({
  sub: z.string().min(1),
  client_id: z.string().min(1).optional(),
  azp: z.string().min(1).optional(),
  cid: z.string().min(1).optional(),
  scope: z.string().optional(),
  scp: z.union([z.string(), z.array(z.string())]).optional(),
  // NumericDates; API Gateway's authorizer hands every claim over as a string.
  exp: z.union([z.number(), z.string().regex(/^\d+(?:\.\d+)?$/).transform(Number)]).optional(),
  iat: z.union([z.number(), z.string().regex(/^\d+(?:\.\d+)?$/).transform(Number)]).optional(),
});

/**
 * Builds the principal from claims that were already verified, as on the AWS path where API
 * Gateway's JWT authorizer checked the token and the Lambda reads
 * `event.requestContext.authorizer.jwt.claims`. Never pass unverified claims.
 * @param claims - The verified claims object.
 * @param nowSec - The current time, in seconds since the epoch.
 * @returns The principal.
 * @throws OperationOutcomeError with a 401 outcome when `sub` is missing, a claim has the wrong type,
 * `iat` is in the future or the token's lifetime exceeds `MAX_TOKEN_LIFETIME_SEC`.
 */
export function principalFromClaims(claims: unknown, nowSec: number = Date.now() / 1000): Principal {
  const parsed = ClaimsSchema.safeParse(claims);
  if (!parsed.success) {
    const names = parsed.error.issues.map((issue) => issue.path.join('.') || '(claims)').join(', ');
    throw new OperationOutcomeError(withDetail(unauthorized, 'invalid', `Token claims invalid: ${names}`), parsed.error);
  }
  const { sub, client_id, azp, cid, scope, scp, exp, iat } = parsed.data;
  if (iat !== undefined && iat > nowSec + MAX_CLOCK_SKEW_SEC) {
    throw new OperationOutcomeError(withDetail(unauthorized, 'invalid', 'Token issued in the future'));
  }
  if (exp !== undefined && exp - Math.min(iat ?? nowSec, nowSec) > MAX_TOKEN_LIFETIME_SEC) {
    throw new OperationOutcomeError(withDetail(unauthorized, 'invalid', `Token lifetime longer than ${MAX_TOKEN_LIFETIME_SEC} s`));
  }
  const fromScp = typeof scp === 'string' ? splitScopes(scp.replace(/^\[(.*)\]$/s, '$1')) : (scp ?? []);
  return {
    subject: sub,
    clientId: client_id ?? azp ?? cid ?? sub,
    scopes: [...new Set([...splitScopes(scope ?? ''), ...fromScp])],
  };
}

/**
 * Asserts that the principal's scopes allow an interaction on a resource type (see `can`).
 * @param principal - The verified caller.
 * @param resourceType - The FHIR resource type acted on.
 * @param interaction - The interaction letter.
 * @throws OperationOutcomeError with a 403 outcome when no scope allows it.
 */
export function requireScope(principal: Principal, resourceType: string, interaction: Interaction): void {
  if (!can(principal.scopes, resourceType, interaction)) {
    throw new OperationOutcomeError(withDetail(forbidden, 'forbidden', `Granted scopes do not allow '${interaction}' on ${resourceType}`));
  }
}

/**
 * Asserts that the principal holds a named (non-resource) scope, such as `IDENTITY_RESOLVE_SCOPE`.
 * @param principal - The verified caller.
 * @param scope - The scope required.
 * @throws OperationOutcomeError with a 403 outcome when it was not granted.
 */
export function requireNamedScope(principal: Principal, scope: string): void {
  if (!hasScope(principal.scopes, scope)) {
    throw new OperationOutcomeError(withDetail(forbidden, 'forbidden', `Scope ${scope} required`));
  }
}

/**
 * The 401 outcome for a jose failure, or `undefined` when the failure is not the caller's fault.
 * Details name the failed check only; they never echo the token.
 */
function outcomeFor(err: unknown): OperationOutcome | undefined {
  if (err instanceof errors.JWTExpired) {
    return unauthorizedTokenExpired;
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'aud':
        return unauthorizedTokenAudience;
      case 'iss':
        return withDetail(unauthorized, 'invalid', 'Token not issued by the expected issuer');
      case 'nbf':
        return withDetail(unauthorized, 'invalid', 'Token not yet valid');
      default:
        return withDetail(unauthorized, 'invalid', `Token claim "${err.claim}" ${err.reason === 'missing' ? 'missing' : 'invalid'}`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return withDetail(unauthorized, 'invalid', 'Token signing algorithm not allowed');
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return withDetail(unauthorized, 'invalid', 'Token signature invalid');
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return withDetail(unauthorized, 'invalid', 'Token signing key not recognised');
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err instanceof errors.JWKInvalid) {
    return undefined;
  }
  if (err instanceof errors.JOSEError) {
    return withDetail(unauthorized, 'invalid', 'Token malformed');
  }
  return undefined;
}

/** `base` plus one issue saying why. Keeps `base.id`, which is what `getStatus` maps to 401/403. */
function withDetail(base: OperationOutcome, code: OperationOutcomeIssue['code'], text: string): OperationOutcome {
  return { ...base, issue: [...(base.issue ?? []), { severity: 'error', code, details: { text } }] };
}
