import type { Logger } from '@aws-lambda-powertools/logger';
import type { ExportRunResult } from './core/run-export.js';
import type { JobQueue } from './export-request.js';

/**
 * The local run's worker queue: a job starts in the same process right after its kick-off answered,
 * as the SQS-started worker Lambda does in AWS. `idle()` waits for every job started (tests, shutdown).
 */
export class InProcessJobQueue implements JobQueue {
  private readonly running = new Set<Promise<unknown>>();
  private stopped = false;

  /**
   * @param run - Runs a job to its end, or until `timeLeft` says stop (then it runs again from its checkpoint).
   * @param logger - Where a crash is logged.
   */
  public constructor(
    private readonly run: (jobId: string, timeLeft: () => boolean) => Promise<ExportRunResult>,
    private readonly logger: Logger,
  ) {}

  /** Starts the job on the next turn of the event loop. */
  public start(jobId: string): Promise<void> {
    const work = (async (): Promise<void> => {
      await new Promise((resolve) => setImmediate(resolve));
      const timeLeft = (): boolean => !this.stopped;
      while (!this.stopped && (await this.run(jobId, timeLeft)) === 'continue');
    })().catch((err: unknown) => this.logger.error('Local job crashed', { job: jobId, error: (err as Error).name }));
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
    return Promise.resolve();
  }

  /** Stops every job at its next page (its checkpoint stays; a restarted layer does not resume it). */
  public async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  /** Resolves once no job runs. */
  public async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
