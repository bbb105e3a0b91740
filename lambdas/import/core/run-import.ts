import type { Logger } from '@aws-lambda-powertools/logger';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { EventsPort } from '../../commons/events/port.js';
import { publishAndAck } from '../../commons/events/relay.js';
import type { Job } from '../../commons/jobs/job.js';
import { JobCancelledError, type JobStore } from '../../commons/jobs/port.js';
import { outcomeOf } from '../../commons/http/outcomes.js';
import { ingestBundle, type IngestDeps } from '../../ingest/core/ingest-bundle.js';
import { ImportParamsSchema } from './manifest.js';

/** What the import worker needs: the ingest core's ports, the bus, the jobs table. */
export interface ImportWorkerDeps {
  readonly ingest: IngestDeps;
  readonly events: EventsPort;
  readonly jobs: JobStore;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Resources per chunk (default 500): one transaction each, as POST /fhir commits it. */
  readonly chunkSize?: number;
}

type InputOutcome = NonNullable<Job['inputs']>[number];

/**
 * Runs an import job: each input file read line by line (never whole), in chunks of `chunkSize`
 * resources, each chunk a FHIR `transaction` Bundle through the same ingest core as `POST /fhir`
 * (parsing, base validation, mapping, de-identification, profile validation, deterministic ids, one
 * commit, all or nothing) and its "study data changed" events published, so screening and derivation
 * run as for any ingest. A line that is not JSON, or not a resource of the file's type, fails alone; a
 * chunk the ingest refuses fails whole. Progress and per-file outcome go to the job record.
 * @param jobId - The job.
 * @param deps - Ports.
 * @returns The job's final status.
 */
export async function runImport(jobId: string, deps: ImportWorkerDeps): Promise<Job['status'] | 'gone'> {
  const job = await deps.jobs.get(jobId);
  if (!job || job.kind !== 'import') return 'gone';
  if (job.status !== 'accepted' && job.status !== 'in-progress') return job.status;
  const params = ImportParamsSchema.parse(job.params);
  const chunkSize = deps.chunkSize ?? 500;
  const inputs: InputOutcome[] = params.inputs.map((i) => ({ url: i.url, type: i.type, read: 0, accepted: 0, failed: 0, status: 'pending' }));
  let done = 0;
  try {
    await deps.jobs.update(jobId, { status: 'in-progress', inputs, progress: { done, phase: 'importing' } }, deps.now());
    for (const [i, input] of params.inputs.entries()) {
      const outcome = inputs[i] as InputOutcome;
      outcome.status = 'in-progress';
      let chunk: BundleEntry[] = [];
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
        await deps.jobs.update(jobId, { inputs, progress: { done, phase: `importing ${input.type}` } }, deps.now());
      };
      const lines = createInterface({ input: createReadStream(input.path, 'utf8'), crlfDelay: Infinity });
      for await (const line of lines) {
        if (line.trim() === '') continue;
        outcome.read++;
        let resource: Resource | undefined;
        try {
          resource = JSON.parse(line) as Resource;
        } catch {
          resource = undefined;
        }
        if (!resource || resource.resourceType !== input.type || typeof resource.id !== 'string') {
          outcome.failed++;
          continue;
        }
        // An update of the record by its own id, as an EHR's transaction sends it; references between files resolve by Type/id.
        chunk.push({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } });
        if (chunk.length >= chunkSize) await flush();
      }
      await flush();
      outcome.status = outcome.failed === 0 ? 'completed' : outcome.accepted === 0 ? 'failed' : 'completed-with-errors';
      await deps.jobs.update(jobId, { inputs, progress: { done, phase: `imported ${input.type}` } }, deps.now());
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
