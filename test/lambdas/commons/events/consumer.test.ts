import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { studyEventConsumer } from '../../../../lambdas/commons/events/consumer.js';

const record = (messageId: string, body: string): SQSRecord =>
  ({ messageId, body, receiptHandle: 'r', attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:eu-west-1:1:q', awsRegion: 'eu-west-1' }) as SQSRecord;
const envelope = (patient: string, eventId = `e-${patient}`): string =>
  JSON.stringify({ 'detail-type': 'StudyDataChanged', detail: { eventId, patient, kinds: ['Observation'], occurredAt: '2026-01-01T00:00:00Z' } });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Function: studyEventConsumer', () => {
  it('reports only the records that failed, so SQS retries them alone', async () => {
    const seen: string[] = [];
    const consume = studyEventConsumer((e) => {
      seen.push(e.patient);
      return e.patient === 'S-BAD' ? Promise.reject(new Error('store throttled')) : Promise.resolve();
    }, new Logger({ logLevel: 'SILENT' }));
    const event: SQSEvent = { Records: [record('1', envelope('S-OK1')), record('2', envelope('S-BAD')), record('3', '{"not":"an event"}'), record('4', envelope('S-OK2'))] };
    const response = await consume(event, {} as Context);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['2', '3']);
    expect(seen.sort()).toEqual(['S-BAD', 'S-OK1', 'S-OK2']);
  });

  // Issue 14: under Powertools' BatchProcessor two events of one patient ran in parallel and one failed with a store conflict.
  it('runs the events of one subject one at a time, in delivery order, and other subjects alongside', async () => {
    const running = new Map<string, number>();
    let overlapSameSubject = 0;
    let maxParallel = 0;
    const order: string[] = [];
    const consume = studyEventConsumer(async (e) => {
      running.set(e.patient, (running.get(e.patient) ?? 0) + 1);
      if ((running.get(e.patient) ?? 0) > 1) overlapSameSubject++;
      maxParallel = Math.max(maxParallel, [...running.values()].reduce((a, b) => a + b, 0));
      await sleep(20);
      order.push(e.eventId);
      running.set(e.patient, (running.get(e.patient) ?? 1) - 1);
    }, new Logger({ logLevel: 'SILENT' }));
    const event: SQSEvent = {
      Records: [record('1', envelope('S-A', 'a1')), record('2', envelope('S-B', 'b1')), record('3', envelope('S-A', 'a2')), record('4', envelope('S-A', 'a3')), record('5', envelope('S-B', 'b2'))],
    };
    const response = await consume(event, {} as Context);
    expect(response.batchItemFailures).toEqual([]);
    expect(overlapSameSubject).toBe(0);
    expect(maxParallel).toBe(2);
    expect(order.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(order.filter((id) => id.startsWith('b'))).toEqual(['b1', 'b2']);
  });

  it('fails the later events of a subject whose event failed, without running them, and logs each failure without its message', async () => {
    const seen: string[] = [];
    const lines: string[] = [];
    const logger = new Logger({ logLevel: 'DEBUG' });
    const capture = (level: 'error' | 'warn') => (message: unknown, ...extra: unknown[]) => void lines.push(JSON.stringify({ level, message, extra }));
    logger.error = capture('error');
    logger.warn = capture('warn');
    const consume = studyEventConsumer((e) => {
      seen.push(e.eventId);
      return e.eventId === 'a1' ? Promise.reject(Object.assign(new Error('conflict on Patient S-A value 42'), { name: 'StoreConflictError' })) : Promise.resolve();
    }, logger);
    const event: SQSEvent = { Records: [record('1', envelope('S-A', 'a1')), record('2', envelope('S-B', 'b1')), record('3', envelope('S-A', 'a2'))] };
    const response = await consume(event, {} as Context);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['1', '3']);
    expect(seen.sort()).toEqual(['a1', 'b1']);
    expect(lines.some((l) => l.includes('"eventId":"a1"') && l.includes('StoreConflictError') && l.includes('"messageId":"1"'))).toBe(true);
    expect(lines.some((l) => l.includes('"eventId":"a2"'))).toBe(true);
    expect(lines.join('\n')).not.toContain('value 42');
  });
});
