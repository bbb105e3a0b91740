import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Readable } from 'node:stream';
import { splitLines, type ImportSource, type NdjsonLine } from '../core/source.js';

/** Settings of `S3ImportSource`. */
export interface S3ImportSourceOptions {
  readonly client: S3Client;
  /** The hospital's import bucket (IMPORT_BUCKET): the only bucket read. */
  readonly bucket: string;
  /** The key prefix the hospital writes under, and the function may read (default `imports/`). */
  readonly prefix?: string;
}

/** Object key prefix of every import file (infra/bulk-import.ts grants reads on it alone). */
export const IMPORT_PREFIX = 'imports/';

/**
 * The AWS import source: NDJSON objects the hospital wrote to IMPORT_BUCKET under `imports/`, named in
 * the manifest as `s3://{bucket}/imports/...` or as an https URL of that bucket (virtual-hosted or
 * path style). Any other bucket, host or prefix is a 400: the function never reads what a client
 * points it at elsewhere. Kick-off checks each object exists (HeadObject); the worker reads it by
 * GetObject, streamed and split into lines as the bytes arrive (one partial line held at a time), from
 * a byte Range when it resumes.
 */
export class S3ImportSource implements ImportSource {
  private readonly prefix: string;

  /** @param options - Client, bucket, prefix. */
  public constructor(private readonly options: S3ImportSourceOptions) {
    this.prefix = options.prefix ?? IMPORT_PREFIX;
  }

  /** The object key of a URL of the import bucket, once HeadObject found it; 400 otherwise. */
  public async resolve(url: string, index: number): Promise<string> {
    const key = this.keyOf(url);
    const field = `input[${index}].url`;
    if (key === undefined) {
      throw new OperationOutcomeError(badRequest(`${field} must be an s3:// or https URL of an object under ${this.prefix} in the import bucket`, field));
    }
    try {
      await this.options.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
    } catch {
      // NotFound, or Forbidden for a key the role may not read: to the client both are "no such file".
      throw new OperationOutcomeError(badRequest(`${field} names no file in the import bucket`, field));
    }
    return key;
  }

  /** The object's lines from `fromByte` (GetObject, `Range: bytes={fromByte}-` when resuming). */
  public async *lines(key: string, fromByte: number): AsyncGenerator<NdjsonLine> {
    if (!this.inPrefix(key)) throw new Error('Import key outside the import prefix');
    const out = await this.options.client.send(
      new GetObjectCommand({ Bucket: this.options.bucket, Key: key, ...(fromByte > 0 ? { Range: `bytes=${fromByte}-` } : {}) }),
    );
    // In Node the SDK's body is a Readable (IncomingMessage): an async iterable of byte chunks.
    const body = out.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
    if (!body) return;
    try {
      yield* splitLines(body, fromByte);
    } finally {
      // A worker that stops early (out of time) closes the connection instead of draining the object.
      body.destroy?.();
    }
  }

  /** The key a URL names in this bucket, or undefined when it names anything else. */
  private keyOf(url: string): string | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    if (parsed.search || parsed.hash || parsed.username || parsed.password) return undefined;
    const { bucket } = this.options;
    let key: string | undefined;
    if (parsed.protocol === 's3:') {
      key = parsed.hostname === bucket ? parsed.pathname.slice(1) : undefined;
    } else if (parsed.protocol === 'https:' && !parsed.port) {
      const host = parsed.hostname.toLowerCase();
      const s3Host = /^s3([.-][a-z0-9-]+)?\.amazonaws\.com$/;
      if (host.startsWith(`${bucket}.`) && s3Host.test(host.slice(bucket.length + 1))) key = parsed.pathname.slice(1);
      else if (s3Host.test(host) && parsed.pathname.startsWith(`/${bucket}/`)) key = parsed.pathname.slice(bucket.length + 2);
    }
    if (key === undefined) return undefined;
    try {
      key = decodeURIComponent(key);
    } catch {
      return undefined;
    }
    return this.inPrefix(key) ? key : undefined;
  }

  private inPrefix(key: string): boolean {
    return key.startsWith(this.prefix) && key.length > this.prefix.length && !key.split('/').some((part) => part === '..' || part === '.');
  }
}
