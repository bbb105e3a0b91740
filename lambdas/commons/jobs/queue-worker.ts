import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { z } from 'zod';

/** Time kept free at the end of an invocation to finish the current file or chunk and leave a checkpoint. */
const STOP_MARGIN_MS = 120_000;

const MessageSchema = z.object({ jobId: z.uuid() });

/** One slice of a job: runs until the job is done or `timeLeft` turns false (then `continue`, a checkpoint saved). */
export type JobSlice = (jobId: string, timeLeft: () => boolean) => Promise<string>;

/**
 * The Bulk Data workers' SQS loop (export and import, batch size 1): runs a job until it completes or
 * its time runs short, then sends the job again (`requeue`), so a job of any size runs in 15-minute
 * slices from its checkpoints. An unreadable message is dropped (it cannot become readable); a slice
 * that throws is reported as failed, so SQS retries it from the checkpoint and the DLQ takes it after
 * its receive count. Logs carry the job id and the error class, never a message.
 * @param kind - `Export` or `Import`, for the log lines.
 * @param event - The SQS batch.
 * @param context - The invocation (its remaining time).
 * @param slice - Runs one slice of a job.
 * @param requeue - Sends the job again.
 * @param logger - The function's logger.
 * @returns The failed messages.
 */
export async function runJobQueueBatch(
  kind: 'Export' | 'Import',
  event: SQSEvent,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  slice: JobSlice,
  requeue: (jobId: string) => Promise<void>,
  logger: Logger,
): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    const parsed = MessageSchema.safeParse(safeJson(record.body));
    if (!parsed.success) {
      logger.error(`${kind} message unreadable`, { messageId: record.messageId });
      continue;
    }
    const { jobId } = parsed.data;
    try {
      const result = await slice(jobId, () => context.getRemainingTimeInMillis() > STOP_MARGIN_MS);
      if (result === 'continue') await requeue(jobId);
      logger.info(`${kind} worker ran`, { job: jobId, result });
    } catch (err) {
      logger.error(`${kind} worker failed`, { job: jobId, error: (err as Error).name });
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures: failures };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
