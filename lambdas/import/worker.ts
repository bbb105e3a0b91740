import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { runJobQueueBatch } from '../commons/jobs/queue-worker.js';
import type { JobQueue } from '../export/export-request.js';
import { runImport, type ImportWorkerDeps } from './core/run-import.js';

/** What the worker needs: the worker's ports (given "is there time left"), and the queue to resume on. */
export interface ImportWorkerRoot {
  readonly worker: (timeLeft?: () => boolean) => ImportWorkerDeps;
  readonly queue: JobQueue;
}

/**
 * The import worker (SQS, batch size 1), as the export worker: runs a job until it completes or its
 * time runs short, then leaves its checkpoint (input file, byte offset) and sends the job again, so an
 * import of any size runs in 15-minute slices. A message that fails is retried by SQS and lands in the
 * DLQ after its receive count; a retried message resumes from the checkpoint too.
 * @param event - The SQS batch.
 * @param context - The invocation (its remaining time).
 * @param deps - Gets the ports.
 * @param logger - The function's logger.
 * @returns The failed messages.
 */
export function runImportWorkerBatch(event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'>, deps: () => ImportWorkerRoot, logger: Logger): Promise<SQSBatchResponse> {
  return runJobQueueBatch(
    'Import',
    event,
    context,
    (jobId, timeLeft) => runImport(jobId, deps().worker(timeLeft)),
    (jobId) => deps().queue.start(jobId),
    logger,
  );
}
