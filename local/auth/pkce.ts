/**
 * PKCE (RFC 7636) as SMART App Launch 2 requires it: `S256` only (`plain` would hand the verifier to
 * whoever reads the authorization request).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** RFC 7636 section 4.1: 43 to 128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** A SHA-256 digest in base64url without padding: 43 characters. */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Whether a `code_challenge` has the shape of an S256 challenge.
 * @param challenge - The authorization request's `code_challenge`.
 * @returns `true` for 43 base64url characters.
 */
export function isS256Challenge(challenge: string): boolean {
  return CHALLENGE.test(challenge);
}

/**
 * The S256 challenge of a verifier: BASE64URL(SHA256(ASCII(code_verifier))).
 * @param verifier - The `code_verifier`.
 * @returns The challenge.
 */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/**
 * Whether the token request's `code_verifier` matches the challenge of the authorization request.
 * @param verifier - From the token request.
 * @param challenge - Stored with the code.
 * @returns `true` when it is a well-formed verifier whose S256 is the challenge.
 */
export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!VERIFIER.test(verifier)) return false;
  const a = Buffer.from(s256(verifier));
  const b = Buffer.from(challenge);
  return a.length === b.length && timingSafeEqual(a, b);
}
