import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import type { StudyDataChanged } from '../store/port.js';

/** The SQS body of a "study data changed" event: EventBridge's envelope around the outbox event. */
const envelope = z.object({
  detail: z.object({
    eventId: z.string().min(1),
    patient: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/),
    kinds: z.array(z.string()),
    occurredAt: z.string(),
    origin: z.enum(['source', 'derived']).optional(),
    changed: z.array(z.string().regex(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/)).max(1000).optional(),
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

/** Subjects of one batch processed side by side; each subject's own events run one after another. */
const SUBJECTS_IN_PARALLEL = 4;

/** One readable record of a batch. */
interface Received {
  readonly record: SQSRecord;
  readonly study: StudyDataChanged;
}

/**
 * An SQS consumer of study events with partial batch failure reporting: a record whose processing
 * throws is retried alone (and lands in the DLQ after maxReceiveCount), the others are deleted.
 *
 * One ordering per subject, as locally: the batch is grouped by subject and a subject's events run
 * one at a time, in the order SQS delivered them (under Powertools' BatchProcessor two events of one
 * patient ran in parallel and one failed with a store conflict). Once one of a subject's events
 * fails, its later events in the batch are failed without running, so a retry sees them in order.
 * Every failed record is logged with its message id, event id and error class, never a message
 * (it may quote the data). Consumers are idempotent (deterministic ids, unchanged writes are
 * no-ops), so a redelivered event changes nothing.
 * @param consume - What to do with one event.
 * @param logger - The function's logger.
 * @returns The Lambda handler body.
 */
export function studyEventConsumer(consume: (event: StudyDataChanged) => Promise<void>, logger: Logger) {
  return async (event: SQSEvent, _context?: Context): Promise<SQSBatchResponse> => {
    const failures: SQSBatchItemFailure[] = [];
    const subjects = [...bySubject(event, failures, logger).values()];
    await inParallel(subjects, async (events) => {
      let failed = false;
      for (const { record, study } of events) {
        if (failed) {
          logger.warn('Study event deferred behind a failed event of its subject', { messageId: record.messageId, eventId: study.eventId });
          failures.push({ itemIdentifier: record.messageId });
          continue;
        }
        try {
          await consume(study);
          logger.debug('Study event consumed', { eventId: study.eventId });
        } catch (err) {
          failed = true;
          logger.error('Study event failed', { messageId: record.messageId, eventId: study.eventId, error: (err as Error)?.name ?? typeof err });
          failures.push({ itemIdentifier: record.messageId });
        }
      }
    });
    return { batchItemFailures: inDeliveryOrder(event, failures) };
  };
}

/**
 * An SQS consumer that runs once per subject of a batch, with all of that subject's events (in the
 * order SQS delivered them): the subject step recomputes from the whole record, so five events of
 * one subject need one run, not five. Subjects run side by side; one subject never twice at once.
 * Partial batch failure as {@link studyEventConsumer}: when a subject's run throws, every record
 * merged into it fails together (SQS redelivers them; the re-run is idempotent), the other
 * subjects' records are deleted.
 * @param run - What to do for one subject, given its events.
 * @param logger - The function's logger.
 * @returns The Lambda handler body.
 */
export function subjectEventConsumer(run: (patient: string, events: readonly StudyDataChanged[]) => Promise<void>, logger: Logger) {
  return async (event: SQSEvent, _context?: Context): Promise<SQSBatchResponse> => {
    const failures: SQSBatchItemFailure[] = [];
    await inParallel([...bySubject(event, failures, logger)], async ([patient, events]) => {
      try {
        await run(patient, events.map((e) => e.study));
        for (const { study } of events) logger.debug('Study event consumed', { eventId: study.eventId });
      } catch (err) {
        const error = (err as Error)?.name ?? typeof err;
        for (const { record, study } of events) {
          logger.error('Study event failed', { messageId: record.messageId, eventId: study.eventId, merged: events.length, error });
          failures.push({ itemIdentifier: record.messageId });
        }
      }
    });
    return { batchItemFailures: inDeliveryOrder(event, failures) };
  };
}

/** The readable records of a batch by subject, in delivery order; an unreadable one is a failure. */
function bySubject(event: SQSEvent, failures: SQSBatchItemFailure[], logger: Logger): Map<string, Received[]> {
  const out = new Map<string, Received[]>();
  for (const record of event.Records) {
    let study: StudyDataChanged;
    try {
      study = studyEventOf(record);
    } catch (err) {
      logger.error('Study event unreadable', { messageId: record.messageId, error: (err as Error)?.name ?? typeof err });
      failures.push({ itemIdentifier: record.messageId });
      continue;
    }
    const queue = out.get(study.patient) ?? [];
    queue.push({ record, study });
    out.set(study.patient, queue);
  }
  return out;
}

/** Runs `work` over the items, {@link SUBJECTS_IN_PARALLEL} at a time. */
async function inParallel<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SUBJECTS_IN_PARALLEL, items.length) }, worker));
}

/** SQS retries the reported records; in delivery order so that a log reads naturally. */
function inDeliveryOrder(event: SQSEvent, failures: SQSBatchItemFailure[]): SQSBatchItemFailure[] {
  const order = new Map(event.Records.map((r, i) => [r.messageId, i]));
  return failures.sort((a, b) => (order.get(a.itemIdentifier) ?? 0) - (order.get(b.itemIdentifier) ?? 0));
}
