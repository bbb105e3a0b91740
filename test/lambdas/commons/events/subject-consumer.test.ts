/*
 * Issue 13: the subject step's SQS consumer runs once per subject of a batch with all of that
 * subject's events merged; a failed run fails every record merged into it (SQS partial batch
 * response, `batchItemFailures`), the other subjects' records are deleted.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { subjectEventConsumer } from '../../../../lambdas/commons/events/consumer.js';
import type { StudyDataChanged } from '../../../../lambdas/commons/store/port.js';

const record = (messageId: string, body: string): SQSRecord =>
  ({ messageId, body, receiptHandle: 'r', attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:eu-west-1:1:q', awsRegion: 'eu-west-1' }) as SQSRecord;
const envelope = (patient: string, eventId: string, origin?: 'source' | 'derived'): string =>
  JSON.stringify({
    'detail-type': 'StudyDataChanged',
    detail: { eventId, patient, kinds: ['Observation'], occurredAt: '2026-01-01T00:00:00Z', ...(origin ? { origin, changed: ['Observation/o-1'] } : {}) },
  });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const silent = (): Logger => new Logger({ logLevel: 'SILENT' });

describe('Function: subjectEventConsumer', () => {
  it('runs once per subject with its events in delivery order, never one subject twice at once', async () => {
    const runs: { patient: string; events: string[] }[] = [];
    const running = new Set<string>();
    let overlap = 0;
    const consume = subjectEventConsumer(async (patient, events) => {
      if (running.has(patient)) overlap++;
      running.add(patient);
      await sleep(10);
      runs.push({ patient, events: events.map((e) => e.eventId) });
      running.delete(patient);
    }, silent());
    const event: SQSEvent = {
      Records: [record('1', envelope('S-A', 'a1')), record('2', envelope('S-B', 'b1', 'source')), record('3', envelope('S-A', 'a2', 'derived')), record('4', envelope('S-A', 'a3'))],
    };
    expect(await consume(event, {} as Context)).toEqual({ batchItemFailures: [] });
    expect(overlap).toBe(0);
    expect(runs.sort((x, y) => x.patient.localeCompare(y.patient))).toEqual([
      { patient: 'S-A', events: ['a1', 'a2', 'a3'] },
      { patient: 'S-B', events: ['b1'] },
    ]);
  });

  it('fails every record merged into a failed run, and only those, in delivery order', async () => {
    const consume = subjectEventConsumer((patient) => (patient === 'S-BAD' ? Promise.reject(new Error('conflict')) : Promise.resolve()), silent());
    const event: SQSEvent = {
      Records: [
        record('1', envelope('S-BAD', 'x1')),
        record('2', envelope('S-OK', 'y1')),
        record('3', '{"not":"an event"}'),
        record('4', envelope('S-BAD', 'x2', 'derived')),
      ],
    };
    const response = await consume(event, {} as Context);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['1', '3', '4']);
  });

  it('hands the run the events as read, origin and changed refs included', async () => {
    let seen: readonly StudyDataChanged[] = [];
    const consume = subjectEventConsumer((_patient, events) => {
      seen = events;
      return Promise.resolve();
    }, silent());
    await consume({ Records: [record('1', envelope('S-A', 'a1', 'derived'))] }, {} as Context);
    expect(seen).toEqual([expect.objectContaining({ eventId: 'a1', origin: 'derived', changed: ['Observation/o-1'] })]);
  });
});
