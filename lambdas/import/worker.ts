import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import type { JobQueue } from '../export/export-request.js';
import { runImport, type ImportWorkerDeps } from './core/run-import.js';

/** Time kept free at the end of an invocation to commit the current chunk and leave a checkpoint. */
const STOP_MARGIN_MS = 120_000;

const MessageSchema = z.object({ jobId: z.uuid() });

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
export async function runImportWorkerBatch(event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'>, deps: () => ImportWorkerRoot, logger: Logger): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    const parsed = MessageSchema.safeParse(safeJson(record.body));
    if (!parsed.success) {
      logger.error('Import message unreadable', { messageId: record.messageId });
      continue; // never retried: it cannot become readable
    }
    const { jobId } = parsed.data;
    try {
      const d = deps();
      const result = await runImport(jobId, d.worker(() => context.getRemainingTimeInMillis() > STOP_MARGIN_MS));
      if (result === 'continue') await d.queue.start(jobId);
      logger.info('Import worker ran', { job: jobId, result });
    } catch (err) {
      logger.error('Import worker failed', { job: jobId, error: (err as Error).name });
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
