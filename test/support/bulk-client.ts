/**
 * A Bulk Data client written from the FHIR Bulk Data Access IG v2 (hl7.org/fhir/uv/bulkdata/export.html)
 * alone, sharing no code with the server (no npm `bulk-data-client` exists for this stack): kick-off
 * with `Prefer: respond-async`, status polling that honours `Retry-After`, manifest checks, downloads
 * with the bearer token when `requiresAccessToken` says so, NDJSON parsing, and DELETE.
 */

/** The manifest as the IG defines it ("Complete Status", response body). */
export interface BulkManifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: { type: string; url: string; count?: number }[];
  error: { type: string; url: string; count?: number }[];
  extension?: Record<string, unknown>;
}

/** How the client reaches a server. */
export interface BulkClientOptions {
  /** The FHIR base URL. */
  readonly baseUrl: string;
  /** A bearer token (SMART Backend Services in a real deployment). */
  readonly token: string;
  /** Longest wait between polls, whatever `Retry-After` says (tests keep it short). */
  readonly maxPollWaitMs?: number;
  /** Give up after this long. */
  readonly timeoutMs?: number;
}

/** What a finished export gave: the manifest, each output file's resources and each status poll's X-Progress. */
export interface BulkExportResult {
  manifest: BulkManifest;
  statusUrl: string;
  files: { type: string; url: string; count?: number; resources: Record<string, unknown>[] }[];
  progress: string[];
}

/** A protocol violation or a server error, with the server's OperationOutcome text when there was one. */
export class BulkClientError extends Error {
  public override readonly name = 'BulkClientError';

  /**
   * @param message - What happened.
   * @param status - The HTTP status.
   */
  public constructor(message: string, public readonly status?: number) {
    super(message);
  }
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Kick-off: `GET {base}/{path}?{params}` with `Accept: application/fhir+json` and `Prefer: respond-async`.
 * @param options - Server and token.
 * @param path - `$export`, `Patient/$export` or `Group/{id}/$export`.
 * @param params - Kick-off parameters.
 * @returns The absolute status URL from `Content-Location`.
 */
export async function kickOff(options: BulkClientOptions, path: string, params: URLSearchParams = new URLSearchParams()): Promise<string> {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/${path}${params.size > 0 ? `?${params.toString()}` : ''}`;
  const res = await fetch(url, { headers: { accept: 'application/fhir+json', prefer: 'respond-async', authorization: `Bearer ${options.token}` } });
  if (res.status !== 202) throw new BulkClientError(`Kick-off answered ${res.status}: ${await outcomeText(res)}`, res.status);
  const location = res.headers.get('content-location');
  if (!location || !/^https?:\/\//.test(location)) throw new BulkClientError('Kick-off 202 without an absolute Content-Location');
  await res.body?.cancel();
  return location;
}

/**
 * Polls the status URL until the manifest (200) or an error status.
 * @param options - Server and token.
 * @param statusUrl - From the kick-off.
 * @returns The manifest and the X-Progress values seen.
 */
export async function poll(options: BulkClientOptions, statusUrl: string): Promise<{ manifest: BulkManifest; progress: string[] }> {
  const progress: string[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const res = await fetch(statusUrl, { headers: { accept: 'application/json', authorization: `Bearer ${options.token}` } });
    if (res.status === 202) {
      const p = res.headers.get('x-progress');
      if (p) progress.push(p);
      await res.body?.cancel();
      // IG: "the client SHOULD follow an exponential backoff... honor Retry-After" (seconds or HTTP date).
      const retry = res.headers.get('retry-after');
      const seconds = retry === null ? 1 : /^\d+$/.test(retry) ? Number(retry) : Math.max(0, (Date.parse(retry) - Date.now()) / 1000);
      if (Date.now() > deadline) throw new BulkClientError('Export did not finish in time');
      await new Promise((r) => setTimeout(r, Math.min(seconds * 1000, options.maxPollWaitMs ?? 60_000)));
      continue;
    }
    if (res.status !== 200) throw new BulkClientError(`Status answered ${res.status}: ${await outcomeText(res)}`, res.status);
    const manifest = (await res.json()) as BulkManifest;
    checkManifest(manifest);
    return { manifest, progress };
  }
}

/**
 * Checks the manifest's required fields and types (IG "Response - Complete Status").
 * @param m - The manifest.
 */
export function checkManifest(m: BulkManifest): void {
  const problems: string[] = [];
  if (typeof m.transactionTime !== 'string' || !INSTANT.test(m.transactionTime)) problems.push('transactionTime is not an instant');
  if (typeof m.request !== 'string' || !/^https?:\/\//.test(m.request)) problems.push('request is not a URL');
  if (typeof m.requiresAccessToken !== 'boolean') problems.push('requiresAccessToken is not a boolean');
  if (!Array.isArray(m.output)) problems.push('output is not an array');
  if (!Array.isArray(m.error)) problems.push('error is not an array');
  for (const f of [...(m.output ?? []), ...(m.error ?? [])]) {
    if (typeof f.type !== 'string' || typeof f.url !== 'string' || !/^https?:\/\//.test(f.url)) problems.push(`file entry ${JSON.stringify(f)} lacks type or absolute url`);
    if (f.count !== undefined && (!Number.isInteger(f.count) || f.count < 0)) problems.push('count is not a non-negative integer');
  }
  if (problems.length > 0) throw new BulkClientError(`Bad manifest: ${problems.join('; ')}`);
}

/**
 * Downloads one file: with the bearer token when the manifest requires it, `Accept: application/fhir+ndjson`.
 * @param options - Token.
 * @param manifest - Whether a token is required.
 * @param url - The file URL.
 * @returns The file's text.
 */
export async function download(options: BulkClientOptions, manifest: Pick<BulkManifest, 'requiresAccessToken'>, url: string): Promise<string> {
  const headers: Record<string, string> = { accept: 'application/fhir+ndjson' };
  if (manifest.requiresAccessToken) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new BulkClientError(`Download answered ${res.status}`, res.status);
  return res.text();
}

/**
 * Parses NDJSON: one JSON object per line, each a resource of the file's type.
 * @param text - The file.
 * @param type - The manifest's `type` for the file.
 * @returns The resources.
 */
export function parseNdjson(text: string, type: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const value = JSON.parse(line) as Record<string, unknown>;
    if (value.resourceType !== type) throw new BulkClientError(`Line ${i + 1} holds ${String(value.resourceType)}, the manifest says ${type}`);
    out.push(value);
  }
  return out;
}

/**
 * A whole export: kick-off, poll, download and parse every output file, then DELETE the job
 * (IG: the client SHOULD signal it is done with the files).
 * @param options - Server and token.
 * @param path - The kick-off path.
 * @param params - Kick-off parameters.
 * @returns The result.
 */
export async function bulkExport(options: BulkClientOptions, path: string, params?: URLSearchParams): Promise<BulkExportResult> {
  const statusUrl = await kickOff(options, path, params);
  const { manifest, progress } = await poll(options, statusUrl);
  const files: BulkExportResult['files'] = [];
  for (const f of manifest.output) {
    const resources = parseNdjson(await download(options, manifest, f.url), f.type);
    if (f.count !== undefined && f.count !== resources.length) throw new BulkClientError(`${f.url}: count ${f.count}, lines ${resources.length}`);
    files.push({ ...f, resources });
  }
  return { manifest, statusUrl, files, progress };
}

/**
 * Cancels (or releases) a job: `DELETE` on its status URL.
 * @param options - Token.
 * @param statusUrl - The job.
 * @returns The HTTP status (202 expected).
 */
export async function cancel(options: BulkClientOptions, statusUrl: string): Promise<number> {
  const res = await fetch(statusUrl, { method: 'DELETE', headers: { accept: 'application/fhir+json', authorization: `Bearer ${options.token}` } });
  await res.body?.cancel();
  return res.status;
}

async function outcomeText(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const outcome = JSON.parse(text) as { issue?: { diagnostics?: string; details?: { text?: string } }[] };
    return (outcome.issue ?? []).map((i) => i.details?.text ?? i.diagnostics ?? '').join('; ');
  } catch {
    return text.slice(0, 200);
  }
}
