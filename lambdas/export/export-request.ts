import type { Logger } from '@aws-lambda-powertools/logger';
import { badRequest, notFound, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { principalFromClaims } from '../commons/auth/index.js';
import type { JobFiles } from '../commons/jobs/files.js';
import { newJob, type Job } from '../commons/jobs/job.js';
import type { JobStore } from '../commons/jobs/port.js';
import { errorLogFields, methodNotAllowed, outcomeOf } from '../commons/http/outcomes.js';
import { outcomeResponse, type HttpRequest, type HttpResponse } from '../commons/http/request.js';
import { exportManifest } from './core/manifest.js';
import { EXPORT_ROUTE, parseKickOff } from './core/params.js';

/** Starts a job's worker: in process locally, an SQS message in AWS. */
export interface JobQueue {
  start(jobId: string): Promise<void>;
}

/** The export function's request-side ports. */
export interface ExportHttpDeps {
  readonly jobs: JobStore;
  readonly files: JobFiles;
  readonly queue: JobQueue;
  readonly logger: Logger;
  readonly now: () => Date;
  /** `Retry-After` of a status answer while the job runs (seconds). */
  readonly retryAfterSeconds?: number;
}

/** `{base}/bulk-status/{job}`: the status URL of a job (IG "Content-Location"). */
export const STATUS_ROUTE = /^\/bulk-status\/([0-9a-f-]{36})$/;

/**
 * Whether a path is one of the export function's routes.
 * @param path - Path below the FHIR base.
 * @returns True for the kick-off and status routes.
 */
export function isExportRoute(path: string): boolean {
  return EXPORT_ROUTE.test(path) || STATUS_ROUTE.test(path);
}

/**
 * The Bulk Data export API (FHIR Bulk Data Access IG v2): kick-off (`GET [base]/$export`,
 * `[base]/Patient/$export`, `[base]/Group/{id}/$export`, `Prefer: respond-async` required) answers
 * 202 with the status URL in `Content-Location`; status `GET` answers 202 with `X-Progress` and
 * `Retry-After` while the job runs, 200 with the manifest when done, 500 with an OperationOutcome
 * when it failed; `DELETE` cancels (202), after which the status is 404. Only the client that
 * kicked a job off may see or cancel it: to anyone else it does not exist (404).
 * @param req - The request.
 * @param deps - Ports.
 * @returns The answer.
 */
export async function handleExport(req: HttpRequest, deps: ExportHttpDeps): Promise<HttpResponse> {
  try {
    if (EXPORT_ROUTE.test(req.path)) {
      if (req.method !== 'GET') throw new OperationOutcomeError(methodNotAllowed(req.method, req.path));
      return await kickOff(req, deps);
    }
    const id = STATUS_ROUTE.exec(req.path)?.[1];
    if (!id) throw new OperationOutcomeError(notFound);
    const principal = principalFromClaims(req.claims ?? {});
    const job = await deps.jobs.get(id);
    if (!job || job.owner !== principal.clientId || job.status === 'cancelled') throw new OperationOutcomeError(notFound);
    if (req.method === 'DELETE') {
      await deps.jobs.cancel(id, deps.now());
      // Files of a job whose worker is gone (finished, failed) go now; a running worker removes its own on its next page.
      await deps.files.remove(id);
      return { status: 202, body: informational('Export cancelled; its files are deleted') };
    }
    if (req.method !== 'GET') throw new OperationOutcomeError(methodNotAllowed(req.method, req.path));
    return await status(job, req, deps);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) deps.logger.error('Export request failed', errorLogFields(err));
    return outcomeResponse(outcomeOf(err));
  }
}

async function kickOff(req: HttpRequest, deps: ExportHttpDeps): Promise<HttpResponse> {
  const principal = principalFromClaims(req.claims ?? {});
  const params = parseKickOff({ path: req.path, query: req.query, scopes: principal.scopes });
  // IG: the kick-off SHALL carry `Prefer: respond-async`; this server has no synchronous export.
  if (!/(^|[,;\s])respond-async($|[,;\s])/i.test(req.headers.prefer ?? '')) {
    throw new OperationOutcomeError(badRequest('Bulk export needs the header Prefer: respond-async', 'Prefer'));
  }
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query)) for (const one of v === undefined ? [] : Array.isArray(v) ? v : [v]) query.append(k, one);
  const request = `${req.baseUrl}${req.path}${query.size > 0 ? `?${query.toString()}` : ''}`;
  const job = newJob({ kind: 'export', owner: principal.clientId, request, params }, deps.now());
  await deps.jobs.create(job);
  await deps.queue.start(job.id);
  deps.logger.info('Export accepted', { job: job.id, level: params.level, types: params.types.length, format: params.format });
  return { status: 202, body: informational('Export accepted'), headers: { 'content-location': `${req.baseUrl}/bulk-status/${job.id}` } };
}

async function status(job: Job, req: HttpRequest, deps: ExportHttpDeps): Promise<HttpResponse> {
  if (job.status === 'accepted' || job.status === 'in-progress') {
    return {
      status: 202,
      body: informational('Export in progress'),
      headers: { 'x-progress': `${job.progress.phase}: ${job.progress.done} resources`, 'retry-after': String(deps.retryAfterSeconds ?? 1) },
    };
  }
  if (job.status === 'failed') {
    // IG "Error Status": a 4xx or 5xx with an OperationOutcome when the job itself failed.
    return { status: 500, body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', details: { text: job.message ?? 'The export failed' } }] } };
  }
  const manifest = await exportManifest(job, deps.files, req.baseUrl);
  return {
    status: 200,
    body: manifest as unknown as Resource,
    headers: { 'content-type': 'application/json; charset=utf-8', expires: new Date(job.expiresAt).toUTCString() },
  };
}

function informational(text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text } }] };
}

/**
 * Checks a local file download: the job exists, is the caller's, is complete, and lists the file.
 * @param jobs - The jobs table.
 * @param claims - The verified token's claims.
 * @param jobId - The job.
 * @param name - The file.
 * @returns The file's format (content type), or a 404 outcome.
 */
export async function authorizeDownload(jobs: JobStore, claims: Readonly<Record<string, unknown>>, jobId: string, name: string): Promise<{ contentType: string } | OperationOutcome> {
  try {
    const principal = principalFromClaims(claims);
    const job = await jobs.get(jobId);
    const file = job && job.owner === principal.clientId && job.status === 'completed' ? [...job.output, ...job.error].find((f) => f.name === name) : undefined;
    if (!file) return notFound;
    return { contentType: file.format ?? 'application/fhir+ndjson' };
  } catch (err) {
    return outcomeOf(err);
  }
}
