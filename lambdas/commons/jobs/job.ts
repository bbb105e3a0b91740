import { randomUUID } from 'node:crypto';
import { z } from 'zod';

/**
 * An asynchronous bulk job (FHIR Bulk Data Access IG v2, "Asynchronous Request Pattern"): an export
 * or an import, its state, its progress and the files it produced. One record per job in the jobs
 * table; the kind's own parameters and resume point are opaque here (each kind parses its own).
 */

/** Where a job is: `accepted` (queued), `in-progress`, then `completed`, `failed` or `cancelled` (DELETE). */
export const JobStatusSchema = z.enum(['accepted', 'in-progress', 'completed', 'failed', 'cancelled']);
export type JobStatus = z.infer<typeof JobStatusSchema>;

/** One file of the job: the manifest's `output[]` / `error[]` entry before it gets a URL. */
export const JobFileSchema = z.object({
  /** FHIR resource type the file holds (`OperationOutcome` for error files). */
  type: z.string(),
  /** File name inside the job's folder or key prefix, e.g. `Observation.1.ndjson`. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/),
  count: z.number().int().nonnegative(),
  /** What the file is when it is not NDJSON of `type` (the analysis dataset). */
  format: z.string().optional(),
});
export type JobFile = z.infer<typeof JobFileSchema>;

export const JobSchema = z.object({
  id: z.uuid(),
  kind: z.enum(['export', 'import']),
  status: JobStatusSchema,
  /** The client that made the kick-off request: only it may poll, download or cancel (IG: "the same client"). */
  owner: z.string(),
  /** The kick-off request URL, as the manifest's `request` repeats it. */
  request: z.string(),
  /** Manifest `transactionTime`: resources changed after it are not in the export. */
  transactionTime: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** When the job and its files are forgotten (TTL; files expire by the bucket's lifecycle too). */
  expiresAt: z.string(),
  params: z.unknown(),
  /** Where an interrupted worker resumes (kind-specific). */
  checkpoint: z.unknown().optional(),
  progress: z.object({ done: z.number().int().nonnegative(), total: z.number().int().nonnegative().optional(), phase: z.string() }),
  output: z.array(JobFileSchema),
  error: z.array(JobFileSchema),
  /** Per-input outcomes of an import (per file: lines read, resources accepted, failed). */
  inputs: z.array(z.object({ url: z.string(), type: z.string().optional(), read: z.number(), accepted: z.number(), failed: z.number(), status: z.string() })).optional(),
  /** Why a failed job failed, in words safe for the client (never patient data). */
  message: z.string().optional(),
});
export type Job = z.infer<typeof JobSchema>;

/** How long a job and its files are kept after it was accepted (the IG leaves it to the server). */
export const JOB_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * A new job record, `accepted`.
 * @param fields - Kind, owner, request URL and the kind's parameters.
 * @param now - The clock.
 * @returns The job.
 */
export function newJob(fields: Pick<Job, 'kind' | 'owner' | 'request' | 'params'>, now: Date): Job {
  const at = now.toISOString();
  return {
    id: randomUUID(),
    ...fields,
    status: 'accepted',
    transactionTime: at,
    createdAt: at,
    updatedAt: at,
    expiresAt: new Date(now.getTime() + JOB_RETENTION_MS).toISOString(),
    progress: { done: 0, phase: 'queued' },
    output: [],
    error: [],
  };
}

/**
 * Whether the job will change no more.
 * @param job - The job.
 * @returns True when completed, failed or cancelled.
 */
export function isFinished(job: Pick<Job, 'status'>): boolean {
  return job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled';
}
