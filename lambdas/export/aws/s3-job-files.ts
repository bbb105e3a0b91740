import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { JobFiles } from '../../commons/jobs/files.js';

/** Settings of `S3JobFiles`. */
export interface S3JobFilesOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Validity of a presigned download URL (default 1 hour; the files themselves expire by the bucket's lifecycle). */
  readonly urlSeconds?: number;
  /** Bytes buffered before they go out as one multipart part (default 8 MiB; S3's minimum part is 5 MiB). */
  readonly partBytes?: number;
}

/** S3's smallest multipart part but the last (docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html). */
const MIN_PART_BYTES = 5 * 1024 * 1024;

/** A file being written: the text not yet sent, and the multipart upload once one part has gone out. */
interface OpenFile {
  chunks: string[];
  bytes: number;
  uploadId?: string;
  readonly parts: CompletedPart[];
}

const contentType = (name: string): string => (name.endsWith('.ndjson') ? 'application/fhir+ndjson' : name.endsWith('.csv') ? 'text/csv' : 'text/markdown');

/**
 * Job files in S3 under `exports/{job}/`, streamed: a file stays in memory only up to one part
 * (`partBytes`); beyond that it goes out as a multipart upload (CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload; aborted on failure or discard), and a file that never reaches one part is
 * written by a single PutObject. Downloads are presigned GET URLs, so the manifest says
 * `requiresAccessToken: false` (Bulk Data IG: the URL itself is the credential, short-lived).
 * No encryption header is sent: objects take the bucket's default SSE-KMS key (infra/bulk.ts); naming
 * `aws:kms` here without the key id would select the AWS-managed key instead.
 */
export class S3JobFiles implements JobFiles {
  public readonly requiresAccessToken = false;
  private readonly open = new Map<string, OpenFile>();
  private readonly partBytes: number;

  /** @param options - Client, bucket, URL validity, part size. */
  public constructor(private readonly options: S3JobFilesOptions) {
    this.partBytes = Math.max(options.partBytes ?? 8 * 1024 * 1024, MIN_PART_BYTES);
  }

  /** Buffers text of a file; sends a part whenever a part's worth is buffered. */
  public async append(job: string, name: string, text: string): Promise<void> {
    const key = this.key(job, name);
    const file = this.open.get(key) ?? { chunks: [], bytes: 0, parts: [] };
    this.open.set(key, file);
    file.chunks.push(text);
    file.bytes += Buffer.byteLength(text);
    if (file.bytes >= this.partBytes) await this.guard(key, file, () => this.sendPart(key, name, file));
  }

  /** Completes the file: one PutObject if it never reached a part, else its last part and CompleteMultipartUpload. */
  public async finish(job: string, name: string): Promise<void> {
    const key = this.key(job, name);
    const file = this.open.get(key) ?? { chunks: [], bytes: 0, parts: [] };
    this.open.delete(key);
    const { bucket: Bucket, client } = this.options;
    if (file.uploadId === undefined) {
      await client.send(new PutObjectCommand({ Bucket, Key: key, Body: file.chunks.join(''), ContentType: contentType(name) }));
      return;
    }
    const UploadId = file.uploadId;
    await this.guard(key, file, async () => {
      if (file.bytes > 0) await this.sendPart(key, name, file);
      await client.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId, MultipartUpload: { Parts: file.parts } }));
    });
  }

  /** Forgets a file not finished, aborting its multipart upload if one was started. */
  public async discard(job: string, name: string): Promise<void> {
    const key = this.key(job, name);
    const file = this.open.get(key);
    this.open.delete(key);
    if (file?.uploadId !== undefined) await this.abort(key, file.uploadId);
  }

  /** A presigned GET URL, valid `urlSeconds`. */
  public url(job: string, name: string): Promise<string> {
    const command = new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(job, name) });
    return getSignedUrl(this.options.client, command, { expiresIn: this.options.urlSeconds ?? 3600 });
  }

  /** Deletes every object of the job (ListObjectsV2 under its prefix, then DeleteObjects a page at a time). */
  public async remove(job: string): Promise<void> {
    const prefix = this.key(job, '');
    for (const [key, file] of [...this.open]) {
      if (!key.startsWith(prefix)) continue;
      this.open.delete(key);
      if (file.uploadId !== undefined) await this.abort(key, file.uploadId);
    }
    const { bucket: Bucket, client } = this.options;
    for await (const page of paginateListObjectsV2({ client }, { Bucket, Prefix: prefix })) {
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (keys.length === 0) continue;
      const res = await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys, Quiet: true } }));
      // DeleteObjects answers 200 with per-key errors: a file left behind must fail the cancel, not pass silently.
      if (res.Errors?.length) throw new Error(`S3 DeleteObjects left ${res.Errors.length} objects`);
    }
  }

  private key(job: string, name: string): string {
    if (!/^[0-9a-f-]{36}$/.test(job)) throw new Error('Bad job id');
    return `exports/${job}/${name}`;
  }

  /** Sends the buffered text as the next part, starting the multipart upload on the first. */
  private async sendPart(key: string, name: string, file: OpenFile): Promise<void> {
    const { bucket: Bucket, client } = this.options;
    if (file.uploadId === undefined) {
      const created = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ContentType: contentType(name) }));
      if (!created.UploadId) throw new Error('S3 CreateMultipartUpload gave no upload id');
      file.uploadId = created.UploadId;
    }
    const PartNumber = file.parts.length + 1;
    const body = file.chunks.join('');
    const { ETag } = await client.send(new UploadPartCommand({ Bucket, Key: key, UploadId: file.uploadId, PartNumber, Body: body }));
    file.parts.push({ ETag, PartNumber });
    file.chunks = [];
    file.bytes = 0;
  }

  /** Runs a multipart step; on failure forgets the file and aborts its upload, so no part lingers billed. */
  private async guard(key: string, file: OpenFile, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.open.delete(key);
      if (file.uploadId !== undefined) await this.abort(key, file.uploadId).catch(() => undefined); // the bucket's lifecycle aborts it after a day otherwise
      throw err;
    }
  }

  private async abort(key: string, UploadId: string): Promise<void> {
    await this.options.client.send(new AbortMultipartUploadCommand({ Bucket: this.options.bucket, Key: key, UploadId }));
  }
}
