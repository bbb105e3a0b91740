/**
 * The import function's S3 source on the AWS SDK (SMART Bulk Data Import proposal, "ping and pull": the
 * server pulls the NDJSON files a manifest names): only objects under `imports/` of the hospital's
 * bucket are accepted, by `s3://` or https URL (400 for any other bucket, host or prefix), and each is
 * read by GetObject as a stream split into lines as it arrives (FHIR Bulk Data IG: NDJSON, one resource
 * a line), from a byte Range on resume. S3 has no local engine: aws-sdk-client-mock records the calls.
 */
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { OperationOutcomeError } from '@medplum/core';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { S3ImportSource } from '../../../lambdas/import/aws/s3-import-source.js';
import { splitLines } from '../../../lambdas/import/core/source.js';

const BUCKET = 'nct-import-bucket';
const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

const source = (): S3ImportSource => new S3ImportSource({ client: new S3Client({ region: 'eu-west-1', credentials }), bucket: BUCKET });
/** A GetObject body as the SDK gives it in Node: a Readable (the SDK's stream mixin is not needed by the adapter). */
const readable = (chunks: (string | Buffer)[]): Readable => Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
const body = (chunks: (string | Buffer)[]): never => readable(chunks) as never;
const collect = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};
const status400 = async (p: Promise<unknown>): Promise<string> => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(OperationOutcomeError);
  const outcome = (err as OperationOutcomeError).outcome;
  expect(outcome.issue[0]?.code).toBe('invalid');
  return outcome.issue[0]?.details?.text ?? '';
};

describe('Function: S3ImportSource.resolve', () => {
  it('accepts s3:// and https URLs (virtual-hosted and path style) of imports/ in its bucket, once HeadObject finds the object', async () => {
    // Prepare
    s3.on(HeadObjectCommand).resolves({ ContentLength: 10 });
    const port = source();
    // Act
    const keys = await Promise.all([
      port.resolve(`s3://${BUCKET}/imports/2026/Patient.ndjson`, 0),
      port.resolve(`https://${BUCKET}.s3.eu-west-1.amazonaws.com/imports/Observation%201.ndjson`, 1),
      port.resolve(`https://${BUCKET}.s3.amazonaws.com/imports/a.ndjson`, 2),
      port.resolve(`https://s3.eu-west-1.amazonaws.com/${BUCKET}/imports/b.ndjson`, 3),
    ]);
    // Assess
    expect(keys).toEqual(['imports/2026/Patient.ndjson', 'imports/Observation 1.ndjson', 'imports/a.ndjson', 'imports/b.ndjson']);
    expect(s3.commandCalls(HeadObjectCommand).map((c) => c.args[0].input)).toContainEqual({ Bucket: BUCKET, Key: 'imports/2026/Patient.ndjson' });
    for (const call of s3.commandCalls(HeadObjectCommand)) expect(call.args[0].input.Bucket).toBe(BUCKET);
  });

  it('refuses with 400, before any S3 call, another bucket, another host, another prefix, a query or a dot segment', async () => {
    const port = source();
    for (const url of [
      's3://someone-else/imports/a.ndjson',
      `s3://${BUCKET}/exports/a.ndjson`,
      `s3://${BUCKET}/imports/`,
      `https://someone-else.s3.amazonaws.com/imports/a.ndjson`,
      `https://${BUCKET}.s3.evil.example.org/imports/a.ndjson`,
      `https://${BUCKET}.example.org/imports/a.ndjson`,
      `https://s3.amazonaws.com/someone-else/imports/a.ndjson`,
      `https://${BUCKET}.s3.amazonaws.com/imports/a.ndjson?versionId=1`,
      `https://${BUCKET}.s3.amazonaws.com:8443/imports/a.ndjson`,
      `http://${BUCKET}.s3.amazonaws.com/imports/a.ndjson`,
      `s3://${BUCKET}/imports/%2e%2e/exports/a.ndjson`,
      'file:///etc/passwd',
      'not a url',
    ]) {
      expect(await status400(port.resolve(url, 4)), url).toContain('input[4].url');
    }
    expect(s3.calls()).toHaveLength(0);
  });

  it('answers 400 (not 5xx) for an object S3 does not find or will not show', async () => {
    s3.on(HeadObjectCommand).rejects(Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }));
    expect(await status400(source().resolve(`s3://${BUCKET}/imports/missing.ndjson`, 0))).toContain('names no file');
  });
});

describe('Function: S3ImportSource.lines', () => {
  it('streams GetObject by lines, joining lines and UTF-8 characters split across chunks, with each line\'s end offset', async () => {
    // Prepare: "é" is two bytes, split between two chunks; a line split in three; CRLF; no final newline.
    const e = Buffer.from('é');
    s3.on(GetObjectCommand).resolves({ Body: body(['{"a":1}\r\n{"b":"', Buffer.from([e[0]!]), Buffer.concat([Buffer.from([e[1]!]), Buffer.from('"}\n')]), '\n{"c"', ':3}']) });
    // Act
    const lines = await collect(source().lines('imports/x.ndjson', 0));
    // Assess
    expect(lines.map((l) => l.text)).toEqual(['{"a":1}', '{"b":"é"}', '', '{"c":3}']);
    expect(lines.map((l) => l.next)).toEqual([9, 20, 21, 28]);
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET, Key: 'imports/x.ndjson' });
  });

  it('resumes with a byte Range and reports offsets in the whole object', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body(['{"d":4}\n']) });
    const lines = await collect(source().lines('imports/x.ndjson', 100));
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET, Key: 'imports/x.ndjson', Range: 'bytes=100-' });
    expect(lines).toEqual([{ text: '{"d":4}', next: 108 }]);
  });

  it('holds one line at a time: a line over the limit is dropped as it streams and marked, the next line still read', async () => {
    const chunks = ['x'.repeat(40), 'y'.repeat(40), '\n{"ok":1}\n'];
    const lines = await collect(splitLines(Readable.from(chunks.map((c) => Buffer.from(c))), 0, 64));
    expect(lines).toEqual([{ text: '', next: 81, tooLong: true }, { text: '{"ok":1}', next: 90 }]);
  });

  it('stops reading (destroys the body) when the worker stops early', async () => {
    const stream = readable(['{"a":1}\n', '{"b":2}\n', '{"c":3}\n']);
    s3.on(GetObjectCommand).resolves({ Body: stream as never });
    for await (const line of source().lines('imports/x.ndjson', 0)) {
      expect(line.text).toBe('{"a":1}');
      break;
    }
    expect(stream.destroyed).toBe(true);
  });

  it('never reads a key outside imports/ even if a job record were altered', async () => {
    await expect(collect(source().lines('exports/x.ndjson', 0))).rejects.toThrow(/outside the import prefix/);
    expect(s3.calls()).toHaveLength(0);
  });
});
