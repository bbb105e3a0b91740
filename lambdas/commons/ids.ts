import { createHash } from 'node:crypto';

/**
 * A FHIR id that is a pure function of its parts, so that the same source record always maps to the
 * same study resource (a replayed bundle updates instead of duplicating). Hex of SHA-256: opaque,
 * 32 characters, inside FHIR's id alphabet.
 * @param parts - The parts that identify the record.
 * @returns The id.
 */
export function deterministicId(...parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}
