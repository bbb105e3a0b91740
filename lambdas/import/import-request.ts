import type { Logger } from '@aws-lambda-powertools/logger';
import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { principalFromClaims, requireScope } from '../commons/auth/index.js';
import { errorLogFields, methodNotAllowed, outcomeOf } from '../commons/http/outcomes.js';
import { outcomeResponse, type HttpRequest, type HttpResponse } from '../commons/http/request.js';
import { newJob } from '../commons/jobs/job.js';
import type { JobStore } from '../commons/jobs/port.js';
import type { JobQueue } from '../export/export-request.js';
import { readImportManifest, resolveImportInputs } from './core/manifest.js';
import type { ImportSource } from './core/source.js';
import { LocalFolderSource } from './local-source.js';

/** `POST [base]/$import`. */
export const IMPORT_ROUTE = /^\/\$import$/;

/** The import kick-off's ports. */
export interface ImportHttpDeps {
  readonly jobs: JobStore;
  readonly queue: JobQueue;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Where import files are read from (the S3 bucket in AWS); else `importDir`; neither turns import off. */
  readonly source?: ImportSource;
  /** The local run's folder whose files may be imported (file: URLs), when no `source` is given. */
  readonly importDir?: string;
}

/**
 * Bulk import kick-off (the SMART Bulk Data Import proposal's manifest, the Bulk Data async pattern):
 * `POST [base]/$import` with `Prefer: respond-async` and a JSON manifest of NDJSON files; 202 with
 * `Content-Location` of the same status URL as an export (`[base]/bulk-status/{job}`), whose answer
 * carries the per-file outcome. Scope: create (and, to change records already stored, update) on every
 * type of the manifest, as `POST /fhir` needs per entry.
 * @param req - The request.
 * @param deps - Ports.
 * @returns The answer.
 */
export async function handleImport(req: HttpRequest, deps: ImportHttpDeps): Promise<HttpResponse> {
  try {
    if (req.method !== 'POST') throw new OperationOutcomeError(methodNotAllowed(req.method, req.path));
    const principal = principalFromClaims(req.claims ?? {});
    if (!/(^|[,;\s])respond-async($|[,;\s])/i.test(req.headers.prefer ?? '')) {
      throw new OperationOutcomeError(badRequest('Bulk import needs the header Prefer: respond-async', 'Prefer'));
    }
    if (!req.body || req.body.length === 0) throw new OperationOutcomeError(badRequest('The import manifest is missing'));
    if (req.body.length > 256 * 1024) throw new OperationOutcomeError(badRequest('The import manifest is over 256 KiB'));
    const manifest = readImportManifest(parseManifestJson(req.body));
    // Scopes before the files are looked at: a client without them learns nothing of the bucket or folder.
    for (const type of new Set(manifest.input.map((i) => i.type))) {
      requireScope({ ...principal, scopes: principal.scopes.filter((s) => s.startsWith('system/')) }, type, 'c');
      requireScope({ ...principal, scopes: principal.scopes.filter((s) => s.startsWith('system/')) }, type, 'u');
    }
    const source = deps.source ?? (deps.importDir ? new LocalFolderSource(deps.importDir) : undefined);
    const params = await resolveImportInputs(manifest, source);
    const job = newJob({ kind: 'import', owner: principal.clientId, request: `${req.baseUrl}/$import`, params }, deps.now());
    await deps.jobs.create(job);
    await deps.queue.start(job.id);
    deps.logger.info('Import accepted', { job: job.id, files: params.inputs.length });
    return { status: 202, body: informational('Import accepted'), headers: { 'content-location': `${req.baseUrl}/bulk-status/${job.id}` } };
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) deps.logger.error('Import request failed', errorLogFields(err));
    return outcomeResponse(outcomeOf(err));
  }
}

/** The manifest is plain JSON (not a FHIR resource): parsed as such, a syntax error is a 400. */
function parseManifestJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new OperationOutcomeError(badRequest('The import manifest is not JSON'));
  }
}

function informational(text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text } }] };
}
