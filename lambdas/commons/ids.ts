import { createHash, createHmac } from 'node:crypto';

/**
 * A FHIR id that is a pure function of its parts, so that the same input always maps to the same
 * resource (a recompute updates instead of duplicating). Hex of SHA-256: opaque, 32 characters, inside
 * FHIR's id alphabet. Unkeyed, so only for parts that are the study's own (pseudonyms, study codes,
 * event digests): anyone can recompute it, and a plain hash of a low-entropy hospital id (an MRN, a
 * sequential record number) is reversed by trying every candidate. Hospital record ids go through
 * {@link keyedId}.
 * @param parts - The parts that identify the record.
 * @returns The id.
 */
export function deterministicId(...parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/**
 * HMAC-SHA-256 of the parts under a key held apart from the study data, in hex: stable for the same
 * parts and key (a replayed source record maps to the same study resource), and without the key
 * neither reversible nor checkable against a dictionary of hospital ids.
 * @param key - The source-identifier key (lambdas/commons/privacy/source-key.ts).
 * @param parts - The parts, e.g. source system, resource type, source id.
 * @returns 64 hex characters.
 */
export function keyedHash(key: Uint8Array, ...parts: readonly string[]): string {
  return createHmac('sha256', key).update(parts.join('\u0000')).digest('hex');
}

/**
 * {@link keyedHash} cut to a FHIR id (32 hex characters, 128 bits).
 * @param key - The source-identifier key.
 * @param parts - Source system, resource type, source id.
 * @returns The id.
 */
export function keyedId(key: Uint8Array, ...parts: readonly string[]): string {
  return keyedHash(key, ...parts).slice(0, 32);
}
