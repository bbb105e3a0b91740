import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Resource } from '@medplum/fhirtypes';
import { InvalidResourceError, ResourceTooLargeError } from './errors.js';

/**
 * How a resource version is kept in an item: its JSON as a string, gzipped above a threshold
 * (a DynamoDB item holds at most 400 KB, key and other attributes included).
 */

/** Bodies larger than this (UTF-8 bytes) are gzipped. */
export const GZIP_THRESHOLD_BYTES = 300 * 1024;
/** Largest body (after compression) that still leaves room for the item's other attributes. */
export const MAX_BODY_BYTES = 400 * 1024 - 4 * 1024;

/** The stored form of a body: exactly one of the two attributes is set. */
export interface EncodedBody {
  /** JSON text. */
  readonly b?: string;
  /** Gzipped JSON text. */
  readonly bz?: Uint8Array;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;

/**
 * Checks what the key design relies on: a FHIR id (no `#`) and a plausible resource type.
 * @param resource - The resource to store.
 */
export function assertStorable(resource: Resource & { id: string }): void {
  if (typeof resource.resourceType !== 'string' || !RESOURCE_TYPE.test(resource.resourceType)) {
    throw new InvalidResourceError(`Not a resource type: ${String(resource.resourceType)}`);
  }
  if (typeof resource.id !== 'string' || !FHIR_ID.test(resource.id)) {
    throw new InvalidResourceError(`${resource.resourceType} has no valid FHIR id: ${String(resource.id)}`);
  }
}

/**
 * JSON with object keys sorted, so equal content gives equal text whatever the key order.
 * @param value - Any JSON value.
 * @returns Canonical JSON text.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Hash of the content that decides "unchanged": the resource without `meta.versionId` and
 * `meta.lastUpdated` (an empty `meta` counts as none).
 * @param resource - The resource.
 * @returns Hex SHA-256.
 */
export function contentHash(resource: Resource): string {
  const { meta, ...rest } = resource;
  const content: Record<string, unknown> = { ...rest };
  if (meta) {
    const otherMeta: Record<string, unknown> = { ...meta };
    delete otherMeta.versionId;
    delete otherMeta.lastUpdated;
    if (Object.keys(otherMeta).length > 0) content.meta = otherMeta;
  }
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/**
 * The body attributes of a version item.
 * @param reference - `Type/id`, for the error message.
 * @param json - The version's JSON.
 * @returns Text or gzip.
 */
export function encodeBody(reference: string, json: string): EncodedBody {
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes <= GZIP_THRESHOLD_BYTES) return { b: json };
  const zipped = gzipSync(json);
  if (zipped.byteLength > MAX_BODY_BYTES) throw new ResourceTooLargeError(reference, zipped.byteLength, MAX_BODY_BYTES);
  return { bz: new Uint8Array(zipped.buffer, zipped.byteOffset, zipped.byteLength) };
}

/**
 * The JSON text of a version item's body.
 * @param body - The item's body attributes.
 * @returns JSON text.
 */
export function decodeBody(body: EncodedBody): string {
  if (body.b !== undefined) return body.b;
  if (body.bz !== undefined) return gunzipSync(body.bz).toString('utf8');
  throw new Error('Version item has no body');
}
