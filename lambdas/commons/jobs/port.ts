import type { Job } from './job.js';

/** What a worker may change on its job. */
export type JobPatch = Partial<Pick<Job, 'status' | 'checkpoint' | 'progress' | 'output' | 'error' | 'inputs' | 'message'>>;

/** Raised when a job was cancelled (or finished) under a worker: the worker stops and cleans up. */
export class JobCancelledError extends Error {
  public override readonly name = 'JobCancelledError';
}

/** The jobs table. */
export interface JobStore {
  create(job: Job): Promise<void>;
  get(id: string): Promise<Job | undefined>;
  /**
   * Changes a job that is still `accepted` or `in-progress`.
   * @throws JobCancelledError when it was cancelled or has finished meanwhile.
   */
  update(id: string, patch: JobPatch, now: Date): Promise<Job>;
  /** Marks a job cancelled, whatever its state; false when there is no such job. */
  cancel(id: string, now: Date): Promise<boolean>;
}
