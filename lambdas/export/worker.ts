import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { runJobQueueBatch } from '../commons/jobs/queue-worker.js';
import { runExport } from './core/run-export.js';
import type { exportDeps } from './root.js';

/**
 * The export worker (SQS, batch size 1): runs a job until it completes or its time runs short; then it
 * leaves a checkpoint and sends the job again, so an export of any size runs in 15-minute slices.
 * A message that fails is retried by SQS and lands in the DLQ after its receive count.
 * @param event - The SQS batch.
 * @param context - The invocation (its remaining time).
 * @param deps - Gets the ports.
 * @param logger - The function's logger.
 * @returns The failed messages.
 */
export function runWorkerBatch(event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'>, deps: () => ReturnType<typeof exportDeps>, logger: Logger): Promise<SQSBatchResponse> {
  return runJobQueueBatch(
    'Export',
    event,
    context,
    (jobId, timeLeft) => runExport(jobId, deps().worker(timeLeft)),
    (jobId) => deps().http.queue.start(jobId),
    logger,
  );
}
