import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { runExport } from './core/run-export.js';
import type { exportDeps } from './root.js';

/** Time kept free at the end of an invocation to finish the current file and leave a checkpoint. */
const STOP_MARGIN_MS = 120_000;

const MessageSchema = z.object({ jobId: z.uuid() });

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
export async function runWorkerBatch(event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'>, deps: () => ReturnType<typeof exportDeps>, logger: Logger): Promise<SQSBatchResponse> {
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      const parsed = MessageSchema.safeParse(safeJson(record.body));
      if (!parsed.success) {
        logger.error('Export message unreadable', { messageId: record.messageId });
        continue; // never retried: it cannot become readable
      }
      const { jobId } = parsed.data;
      try {
        const d = deps();
        const result = await runExport(jobId, d.worker(() => context.getRemainingTimeInMillis() > STOP_MARGIN_MS));
        if (result === 'continue') await d.http.queue.start(jobId);
        logger.info('Export worker ran', { job: jobId, result });
      } catch (err) {
        logger.error('Export worker failed', { job: jobId, error: (err as Error).name });
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
