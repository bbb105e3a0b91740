import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import type { StudyDataChanged } from '../store/port.js';

/** The SQS body of a "study data changed" event: EventBridge's envelope around the outbox event. */
const envelope = z.object({
  detail: z.object({
    eventId: z.string().min(1),
    patient: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/),
    kinds: z.array(z.string()),
    occurredAt: z.string(),
  }),
});

/**
 * Reads one SQS record as a study event.
 * @param record - The SQS record.
 * @returns The event.
 * @throws ZodError for a body that is not one (the record fails and goes to the DLQ after its retries).
 */
export function studyEventOf(record: SQSRecord): StudyDataChanged {
  return envelope.parse(JSON.parse(record.body)).detail;
}

/**
 * An SQS consumer of study events with partial batch failure reporting: a record whose processing
 * throws is retried alone (and lands in the DLQ after maxReceiveCount), the others are deleted.
 * Consumers are idempotent by construction (deterministic ids, unchanged writes are no-ops), so a
 * redelivered or duplicated event changes nothing.
 * @param consume - What to do with one event.
 * @param logger - The function's logger.
 * @returns The Lambda handler body.
 */
export function studyEventConsumer(consume: (event: StudyDataChanged) => Promise<void>, logger: Logger) {
  const processor = new BatchProcessor(EventType.SQS);
  return (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(
      event,
      async (record: SQSRecord) => {
        const study = studyEventOf(record);
        await consume(study);
        logger.debug('Study event consumed', { eventId: study.eventId });
      },
      processor,
      { context },
    );
}
