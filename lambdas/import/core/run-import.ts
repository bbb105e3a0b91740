import type { Logger } from '@aws-lambda-powertools/logger';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { z } from 'zod';
import type { EventsPort } from '../../commons/events/port.js';
import { publishAndAck } from '../../commons/events/relay.js';
import type { Job } from '../../commons/jobs/job.js';
import { JobCancelledError, type JobStore } from '../../commons/jobs/port.js';
import { outcomeOf } from '../../commons/http/outcomes.js';
import { ingestBundle, type IngestDeps } from '../../ingest/core/ingest-bundle.js';
import { readFileLines } from '../local-source.js';
import { ImportParamsSchema } from './manifest.js';
import type { ImportSource } from './source.js';

/** What the import worker needs: the ingest core's ports, the bus, the jobs table. */
export interface ImportWorkerDeps {
  readonly ingest: IngestDeps;
  readonly events: EventsPort;
  readonly jobs: JobStore;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Resources per chunk (default 500): one transaction each, as POST /fhir commits it. */
  readonly chunkSize?: number;
  /** Where the files are read (the S3 bucket in AWS); default: the local paths checked at kick-off. */
  readonly source?: Pick<ImportSource, 'lines'>;
  /** Whether there is time for another chunk (AWS: the invocation's remaining time); absent, always. */
  readonly timeLeft?: () => boolean;
}

/**
 * Where an interrupted import resumes: the input file, and the byte after the last line of its last
 * committed chunk. Saved with the per-file counts in the same job update, so counts and position agree.
 */
export const ImportCheckpointSchema = z.object({ file: z.number().int().nonnegative(), offset: z.number().int().nonnegative(), done: z.number().int().nonnegative() });
export type ImportCheckpoint = z.infer<typeof ImportCheckpointSchema>;

type InputOutcome = NonNullable<Job['inputs']>[number];

/**
 * Runs an import job (or resumes it from its checkpoint): each input file read line by line (never whole), in chunks of `chunkSize`
 * resources, each chunk a FHIR `transaction` Bundle through the same ingest core as `POST /fhir`
 * (parsing, base validation, mapping, de-identification, profile validation, deterministic ids, one
 * commit, all or nothing) and its "study data changed" events published, so screening and derivation
 * run as for any ingest. A line that is not JSON, or not a resource of the file's type, fails alone; a
 * chunk the ingest refuses fails whole. Progress, per-file outcome and the checkpoint go to the job
 * record after each chunk; when `timeLeft` says no, the worker stops there and answers `continue`, and
 * the next run starts at the checkpoint's byte (a chunk committed twice after a crash is the same PUTs
 * again: deterministic ids, nothing duplicated).
 * @param jobId - The job.
 * @param deps - Ports.
 * @returns The job's final status, or `continue` when it stopped at a checkpoint.
 */
export async function runImport(jobId: string, deps: ImportWorkerDeps): Promise<Job['status'] | 'gone' | 'continue'> {
  const job = await deps.jobs.get(jobId);
  if (!job || job.kind !== 'import') return 'gone';
  if (job.status !== 'accepted' && job.status !== 'in-progress') return job.status;
  const params = ImportParamsSchema.parse(job.params);
  const chunkSize = deps.chunkSize ?? 500;
  const resumed = ImportCheckpointSchema.safeParse(job.checkpoint);
  const at: ImportCheckpoint = resumed.success && job.inputs?.length === params.inputs.length ? resumed.data : { file: 0, offset: 0, done: 0 };
  const inputs: InputOutcome[] =
    at === resumed.data && job.inputs ? job.inputs.map((i) => ({ ...i })) : params.inputs.map((i) => ({ url: i.url, type: i.type, read: 0, accepted: 0, failed: 0, status: 'pending' }));
  let done = at.done;
  const lines = deps.source ? (path: string, from: number) => deps.source!.lines(path, from) : readFileLines;
  try {
    await deps.jobs.update(jobId, { status: 'in-progress', inputs, progress: { done, phase: 'importing' } }, deps.now());
    for (const [i, input] of params.inputs.entries()) {
      if (i < at.file) continue;
      const outcome = inputs[i] as InputOutcome;
      outcome.status = 'in-progress';
      let chunk: BundleEntry[] = [];
      /** The byte after the last line read: a checkpoint taken right after a flush covers every line before it. */
      let offset = i === at.file ? at.offset : 0;
      const flush = async (): Promise<void> => {
        if (chunk.length === 0) return;
        const entries = chunk;
        chunk = [];
        const bundle: Bundle = {
          resourceType: 'Bundle',
          type: 'transaction',
          ...(params.source ? { meta: { source: params.source } } : {}),
          entry: entries,
        };
        try {
          const result = await ingestBundle(bundle, 'system', deps.ingest);
          const ok = (result.response.entry ?? []).filter((e) => /^2\d\d/.test(e.response?.status ?? '')).length;
          outcome.accepted += ok;
          outcome.failed += entries.length - ok;
          await publishAndAck(deps.ingest.store, deps.events, [...result.changed, ...result.unchanged]).catch((err: unknown) => {
            // Committed: the relay publishes what stays in the outbox.
            deps.logger.warn('Import events deferred to the outbox relay', { error: (err as Error).name });
          });
        } catch (err) {
          outcome.failed += entries.length;
          deps.logger.warn('Import chunk refused', { job: jobId, status: outcomeOf(err).issue?.[0]?.code });
        }
        done += entries.length;
        await deps.jobs.update(jobId, { inputs, checkpoint: { file: i, offset, done } satisfies ImportCheckpoint, progress: { done, phase: `importing ${input.type}` } }, deps.now());
      };
      let stopped = false;
      for await (const line of lines(input.path, offset)) {
        offset = line.next;
        if (line.text.trim() === '') {
          if ('tooLong' in line) {
            outcome.read++;
            outcome.failed++;
          }
          continue;
        }
        outcome.read++;
        let resource: Resource | undefined;
        try {
          resource = JSON.parse(line.text) as Resource;
        } catch {
          resource = undefined;
        }
        if (!resource || resource.resourceType !== input.type || typeof resource.id !== 'string') {
          outcome.failed++;
          continue;
        }
        // An update of the record by its own id, as an EHR's transaction sends it; references between files resolve by Type/id.
        chunk.push({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } });
        if (chunk.length >= chunkSize) {
          await flush();
          if (deps.timeLeft && !deps.timeLeft()) {
            stopped = true;
            break;
          }
        }
      }
      // Out of time: the checkpoint of the last flush is where the next run starts.
      if (stopped) return 'continue';
      await flush();
      outcome.status = outcome.failed === 0 ? 'completed' : outcome.accepted === 0 ? 'failed' : 'completed-with-errors';
      await deps.jobs.update(jobId, { inputs, checkpoint: { file: i + 1, offset: 0, done } satisfies ImportCheckpoint, progress: { done, phase: `imported ${input.type}` } }, deps.now());
    }
    await deps.jobs.update(jobId, { status: 'completed', inputs, progress: { done, phase: 'completed' } }, deps.now());
    return 'completed';
  } catch (err) {
    if (err instanceof JobCancelledError) return 'cancelled';
    deps.logger.error('Import failed', { job: jobId, error: (err as Error).name });
    await deps.jobs.update(jobId, { status: 'failed', message: 'The import failed on the server; the chunks committed before stay' }, deps.now()).catch(() => undefined);
    return 'failed';
  }
}
