import type { Logger } from '@aws-lambda-powertools/logger';
import { z } from 'zod';
import type { JobFiles } from '../../commons/jobs/files.js';
import type { Job, JobFile } from '../../commons/jobs/job.js';
import { JobCancelledError, type JobStore } from '../../commons/jobs/port.js';
import type { StoreQuery, StudyStore } from '../../commons/store/port.js';
import { allPatientIds, loadSubjectRecords } from '../../commons/subject-records.js';
import { readCohort } from '../../predict/core/cohort.js';
import { analysisDataset, dataDictionary, datasetCsv } from '../../predict/core/dataset.js';
import type { PredictionModel } from '../../predict/core/model-spec.js';
import { exportScope } from './members.js';
import { ExportParamsSchema, filterQuery, type ExportParams } from './params.js';

/** The analysis dataset's files (the names of today's `npm run export`). */
export const DATASET_FILES = { csv: 'analysis-dataset.csv', dictionary: 'data-dictionary.md' } as const;

/** What the export worker needs. */
export interface ExportWorkerDeps {
  readonly store: StudyStore;
  readonly jobs: JobStore;
  readonly files: JobFiles;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Canonical base of the study's conformance resources (the analysis dataset reads it). */
  readonly base: string;
  /** The model whose features the analysis dataset carries; without one, `text/csv` fails the job. */
  readonly model?: PredictionModel;
  /** Resources per NDJSON file (default 10,000): what one part holds before it is finished. */
  readonly partSize?: number;
  /** Resources per store page (default 1,000). */
  readonly pageSize?: number;
  /** False once the invocation should stop (Lambda's time limit): it stops after the page under way and resumes from its last finished file. */
  readonly timeLeft?: () => boolean;
}

/** Where a worker resumes: the type it was at, the store cursor and part number after the last finished file. */
const CheckpointSchema = z.object({ typeIndex: z.number().int(), cursor: z.string().optional(), part: z.number().int(), done: z.number().int() });
type Checkpoint = z.infer<typeof CheckpointSchema>;

/** How a worker invocation ended. */
export type ExportRunResult = 'completed' | 'continue' | 'cancelled' | 'failed' | 'gone';

/**
 * Runs (or resumes) an export job: for each type, pages through the store (the lastUpdated index of
 * the type, or the index the `_typeFilter` drives), keeps what the job's scope includes, and appends
 * NDJSON lines to `{Type}.{part}.ndjson`; a part is finished every `partSize` resources, and the
 * checkpoint saved with it. Memory holds one page and the member list, never the export. Between
 * pages the job record is updated (progress), which also finds a DELETE: the worker then stops and
 * removes the files.
 * @param jobId - The job.
 * @param deps - Ports.
 * @returns How the invocation ended.
 */
export async function runExport(jobId: string, deps: ExportWorkerDeps): Promise<ExportRunResult> {
  let job = await deps.jobs.get(jobId);
  if (!job || job.kind !== 'export') return 'gone';
  if (job.status !== 'accepted' && job.status !== 'in-progress') return job.status === 'cancelled' ? 'cancelled' : 'completed';
  try {
    const params = ExportParamsSchema.parse(job.params);
    job = await deps.jobs.update(jobId, { status: 'in-progress', progress: { ...job.progress, phase: 'exporting' } }, deps.now());
    const result = params.format === 'csv' ? await writeDataset(job, params, deps) : await writeNdjson(job, params, deps);
    if (result === 'completed') {
      await deps.jobs.update(jobId, { status: 'completed', progress: { ...(await current(deps, jobId)).progress, phase: 'completed' } }, deps.now());
    }
    return result;
  } catch (err) {
    if (err instanceof JobCancelledError) {
      await deps.files.remove(jobId);
      return 'cancelled';
    }
    deps.logger.error('Export failed', { job: jobId, error: (err as Error).name });
    try {
      await deps.jobs.update(jobId, { status: 'failed', message: 'The export failed on the server; start a new one' }, deps.now());
    } catch {
      // Cancelled meanwhile: nothing to report.
    }
    return 'failed';
  }
}

async function current(deps: ExportWorkerDeps, jobId: string): Promise<Job> {
  const job = await deps.jobs.get(jobId);
  if (!job) throw new JobCancelledError(`Job ${jobId} is gone`);
  return job;
}

async function writeNdjson(job: Job, params: ExportParams, deps: ExportWorkerDeps): Promise<ExportRunResult> {
  const partSize = deps.partSize ?? 10_000;
  const pageSize = deps.pageSize ?? 1000;
  const scope = await exportScope(params, deps.store);
  const parsed = CheckpointSchema.safeParse(job.checkpoint);
  const from: Checkpoint = parsed.success ? parsed.data : { typeIndex: 0, part: 1, done: 0 };
  const output: JobFile[] = [...job.output];
  let done = from.done;
  for (let t = from.typeIndex; t < params.types.length; t++) {
    const type = params.types[t] as string;
    const query: StoreQuery = {
      ...filterQuery(type, params.typeFilters[type]),
      count: pageSize,
      // IG: nothing changed after transactionTime; `_since`: only what changed after it.
      lastUpdated: { ...(params.since ? { gt: params.since } : {}), le: job.transactionTime },
    };
    let cursor = t === from.typeIndex ? from.cursor : undefined;
    let part = t === from.typeIndex ? from.part : 1;
    let inPart = 0;
    const name = (): string => `${type}.${part}.ndjson`;
    await deps.files.discard(job.id, name()); // a part an interrupted invocation left half-written
    do {
      const page = await deps.store.search({ ...query, ...(cursor ? { cursor } : {}) });
      cursor = page.next;
      const lines = page.resources.filter((r) => scope.includes(r)).map((r) => `${JSON.stringify(r)}\n`);
      if (lines.length > 0) await deps.files.append(job.id, name(), lines.join(''));
      inPart += lines.length;
      done += lines.length;
      const progress = { done, phase: `exporting ${type}` };
      if (inPart >= partSize || (!cursor && inPart > 0)) {
        await deps.files.finish(job.id, name());
        output.push({ type, name: name(), count: inPart });
        part++;
        inPart = 0;
        const next: Checkpoint = cursor ? { typeIndex: t, cursor, part, done } : { typeIndex: t + 1, part: 1, done };
        await deps.jobs.update(job.id, { output, checkpoint: next, progress }, deps.now());
      } else {
        // Progress, and the cancel check: the update refuses once the job was cancelled.
        await deps.jobs.update(job.id, { progress }, deps.now());
      }
      // Out of time: stop here; the next invocation resumes from the last finished file (the part under way is written again).
      if (deps.timeLeft && !deps.timeLeft() && (cursor || t + 1 < params.types.length)) return 'continue';
    } while (cursor);
  }
  return 'completed';
}

/**
 * The statisticians' analysis dataset (`_outputFormat=text/csv`): the same CSV and data dictionary as
 * `npm run export` wrote, over the export's patients. One row per subject needs every subject's
 * features, so this output holds the cohort's rows (the study's 72 subjects), not a stream.
 */
async function writeDataset(job: Job, params: ExportParams, deps: ExportWorkerDeps): Promise<ExportRunResult> {
  if (!deps.model) throw new Error('No active prediction model for the analysis dataset');
  const model = deps.model;
  const scope = await exportScope(params, deps.store);
  const subjects = scope.members ?? (await allPatientIds(deps.store));
  const cohort = await readCohort(
    { subjects: () => Promise.resolve([...subjects]), records: (s) => loadSubjectRecords(deps.store, s) },
    model,
    { base: deps.base, asOf: new Date(job.transactionTime) },
  );
  const dataset = analysisDataset(cohort, model, deps.base);
  await deps.files.discard(job.id, DATASET_FILES.csv);
  await deps.files.discard(job.id, DATASET_FILES.dictionary);
  await deps.files.append(job.id, DATASET_FILES.csv, datasetCsv(dataset));
  await deps.files.finish(job.id, DATASET_FILES.csv);
  await deps.files.append(job.id, DATASET_FILES.dictionary, dataDictionary(dataset, model));
  await deps.files.finish(job.id, DATASET_FILES.dictionary);
  const output: JobFile[] = [
    { type: 'Patient', name: DATASET_FILES.csv, count: dataset.rows.length, format: 'text/csv' },
    { type: 'Patient', name: DATASET_FILES.dictionary, count: dataset.columns.length, format: 'text/markdown' },
  ];
  await deps.jobs.update(job.id, { output, progress: { done: dataset.rows.length, total: subjects.length, phase: 'dataset written' } }, deps.now());
  return 'completed';
}
