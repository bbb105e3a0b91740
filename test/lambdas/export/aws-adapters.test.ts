/**
 * The export function's S3 and SQS adapters on the AWS SDK (FHIR Bulk Data IG v2 "Bulk Data Export":
 * files downloadable by URL with `requiresAccessToken: false`, removed on "Delete a Bulk Data Request"):
 * the commands and inputs each port sends, recorded by aws-sdk-client-mock (S3 and SQS have no local engine).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { S3JobFiles } from '../../../lambdas/export/aws/s3-job-files.js';
import { SqsJobQueue } from '../../../lambdas/export/aws/sqs-job-queue.js';

const JOB = '0f8a2c56-6f7e-4b1e-9a51-3c2d4e5f6a7b';
const BUCKET = 'exports-bucket';
const MiB = 1024 * 1024;
const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', sessionToken: 'session' };

const s3 = mockClient(S3Client);
const sqs = mockClient(SQSClient);
afterEach(() => {
  s3.reset();
  sqs.reset();
});

const files = (extra: { urlSeconds?: number; partBytes?: number } = {}): S3JobFiles => new S3JobFiles({ client: new S3Client({ region: 'eu-west-1', credentials }), bucket: BUCKET, ...extra });
const sent = (): string[] => s3.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name);

describe('Function: S3JobFiles', () => {
  it('writes a small file with one PutObject under exports/{job}/, with no encryption override (the bucket default SSE-KMS key applies)', async () => {
    // Prepare
    s3.on(PutObjectCommand).resolves({});
    const port = files();
    // Act
    await port.append(JOB, 'Observation.1.ndjson', '{"a":1}\n');
    await port.append(JOB, 'Observation.1.ndjson', '{"b":2}\n');
    expect(s3.calls()).toHaveLength(0); // buffered until finished or a part's worth
    await port.finish(JOB, 'Observation.1.ndjson');
    // Assess
    expect(port.requiresAccessToken).toBe(false);
    expect(sent()).toEqual(['PutObjectCommand']);
    const input = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(input).toEqual({ Bucket: BUCKET, Key: `exports/${JOB}/Observation.1.ndjson`, Body: '{"a":1}\n{"b":2}\n', ContentType: 'application/fhir+ndjson' });
    expect(input).not.toHaveProperty('ServerSideEncryption');
    expect(input).not.toHaveProperty('SSEKMSKeyId');
  });

  it('streams a large file as a multipart upload, holding at most one part (CreateMultipartUpload, UploadPart, CompleteMultipartUpload)', async () => {
    // Prepare
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-1' });
    s3.on(UploadPartCommand).callsFake((input: { PartNumber: number }) => ({ ETag: `"etag-${input.PartNumber}"` }));
    s3.on(CompleteMultipartUploadCommand).resolves({});
    const port = files({ partBytes: 5 * MiB });
    const name = 'Patient.1.ndjson';
    // Act
    await port.append(JOB, name, 'x'.repeat(5 * MiB));
    expect(sent()).toEqual(['CreateMultipartUploadCommand', 'UploadPartCommand']); // sent as soon as a part's worth is buffered
    await port.append(JOB, name, 'y'.repeat(3 * MiB));
    await port.append(JOB, name, 'z'.repeat(3 * MiB));
    await port.append(JOB, name, 'tail\n');
    await port.finish(JOB, name);
    // Assess
    const key = `exports/${JOB}/${name}`;
    expect(sent()).toEqual(['CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand']);
    expect(s3.commandCalls(CreateMultipartUploadCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET, Key: key, ContentType: 'application/fhir+ndjson' });
    const parts = s3.commandCalls(UploadPartCommand).map((c) => c.args[0].input);
    expect(parts.map((p) => [p.Bucket, p.Key, p.UploadId, p.PartNumber, (p.Body as string).length])).toEqual([
      [BUCKET, key, 'up-1', 1, 5 * MiB],
      [BUCKET, key, 'up-1', 2, 6 * MiB],
      [BUCKET, key, 'up-1', 3, 5],
    ]);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: key,
      UploadId: 'up-1',
      MultipartUpload: { Parts: [{ ETag: '"etag-1"', PartNumber: 1 }, { ETag: '"etag-2"', PartNumber: 2 }, { ETag: '"etag-3"', PartNumber: 3 }] },
    });
  });

  it('aborts the multipart upload when a part fails, and fails loudly (the worker marks the job failed; its message is retried)', async () => {
    // Prepare
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-2' });
    s3.on(UploadPartCommand).rejects(new Error('AccessDenied'));
    s3.on(AbortMultipartUploadCommand).resolves({});
    // Act
    await expect(files({ partBytes: 5 * MiB }).append(JOB, 'Patient.1.ndjson', 'x'.repeat(5 * MiB))).rejects.toThrow('AccessDenied');
    // Assess
    expect(s3.commandCalls(AbortMultipartUploadCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: BUCKET, Key: `exports/${JOB}/Patient.1.ndjson`, UploadId: 'up-2' }]);
  });

  it('discards a file under way by aborting its upload, and a file never started without any call', async () => {
    // Prepare
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-3' });
    s3.on(UploadPartCommand).resolves({ ETag: '"e"' });
    s3.on(AbortMultipartUploadCommand).resolves({});
    const port = files({ partBytes: 5 * MiB });
    // Act
    await port.discard(JOB, 'Patient.2.ndjson');
    expect(s3.calls()).toHaveLength(0);
    await port.append(JOB, 'Patient.2.ndjson', 'x'.repeat(5 * MiB));
    await port.discard(JOB, 'Patient.2.ndjson');
    // Assess
    expect(s3.commandCalls(AbortMultipartUploadCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET, Key: `exports/${JOB}/Patient.2.ndjson`, UploadId: 'up-3' });
  });

  it('presigns GET URLs of the object, valid one hour by default or as configured (IG: requiresAccessToken false)', async () => {
    const url = new URL(await files().url(JOB, 'Observation.1.ndjson'));
    expect(`${url.origin}${url.pathname}`).toBe(`https://${BUCKET}.s3.eu-west-1.amazonaws.com/exports/${JOB}/Observation.1.ndjson`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request$/);
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('session');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    const short = new URL(await files({ urlSeconds: 600 }).url(JOB, 'Observation.1.ndjson'));
    expect(short.searchParams.get('X-Amz-Expires')).toBe('600');
    expect(s3.calls()).toHaveLength(0); // signing is local
  });

  it('removes every object of a job, page by page (ListObjectsV2 under its prefix, DeleteObjects)', async () => {
    // Prepare
    const prefix = `exports/${JOB}/`;
    s3.on(ListObjectsV2Command, { Bucket: BUCKET, Prefix: prefix }).resolves({ Contents: [{ Key: `${prefix}Patient.1.ndjson` }], IsTruncated: true, NextContinuationToken: 't2' });
    s3.on(ListObjectsV2Command, { Bucket: BUCKET, Prefix: prefix, ContinuationToken: 't2' }).resolves({ Contents: [{ Key: `${prefix}Patient.2.ndjson` }], IsTruncated: false });
    s3.on(DeleteObjectsCommand).resolves({});
    // Act
    await files().remove(JOB);
    // Assess
    expect(s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input.Prefix)).toEqual([prefix, prefix]);
    expect(s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: BUCKET, Delete: { Objects: [{ Key: `${prefix}Patient.1.ndjson` }], Quiet: true } },
      { Bucket: BUCKET, Delete: { Objects: [{ Key: `${prefix}Patient.2.ndjson` }], Quiet: true } },
    ]);
  });

  it('fails the removal when S3 reports objects it could not delete (a cancelled export must not stay downloadable)', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `exports/${JOB}/Patient.1.ndjson` }] });
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: `exports/${JOB}/Patient.1.ndjson`, Code: 'AccessDenied' }] });
    await expect(files().remove(JOB)).rejects.toThrow('S3 DeleteObjects left 1 objects');
  });

  it('buffers up to 8 MiB by default before a part goes out, and never less than S3\'s 5 MiB minimum part', async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-4' });
    s3.on(UploadPartCommand).resolves({ ETag: '"e"' });
    await files().append(JOB, 'Patient.1.ndjson', 'x'.repeat(7 * MiB));
    expect(s3.calls()).toHaveLength(0);
    await files({ partBytes: 1024 }).append(JOB, 'Patient.1.ndjson', 'x'.repeat(4 * MiB));
    expect(s3.calls()).toHaveLength(0);
  });

  it('refuses a job id that is not a UUID (no key outside exports/{job}/)', async () => {
    await expect(files().finish('../other', 'Patient.1.ndjson')).rejects.toThrow('Bad job id');
    expect(s3.calls()).toHaveLength(0);
  });
});

describe('Function: SqsJobQueue', () => {
  it('starts a worker with one SendMessage to the worker queue carrying the job id alone', async () => {
    // Prepare
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm1' });
    const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/p-export-worker';
    // Act
    await new SqsJobQueue(new SQSClient({ region: 'eu-west-1', credentials }), queueUrl).start(JOB);
    // Assess
    expect(sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input)).toEqual([{ QueueUrl: queueUrl, MessageBody: JSON.stringify({ jobId: JOB }) }]);
  });

  it('fails loudly when SQS refuses (the kick-off answers an error rather than a job that never runs)', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('KMS.AccessDenied'));
    await expect(new SqsJobQueue(new SQSClient({ region: 'eu-west-1', credentials }), 'https://sqs.eu-west-1.amazonaws.com/1/q').start(JOB)).rejects.toThrow('KMS.AccessDenied');
  });
});
