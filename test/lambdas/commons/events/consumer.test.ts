import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { studyEventConsumer } from '../../../../lambdas/commons/events/consumer.js';

const record = (messageId: string, body: string): SQSRecord =>
  ({ messageId, body, receiptHandle: 'r', attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:eu-west-1:1:q', awsRegion: 'eu-west-1' }) as SQSRecord;
const envelope = (patient: string): string => JSON.stringify({ 'detail-type': 'StudyDataChanged', detail: { eventId: `e-${patient}`, patient, kinds: ['Observation'], occurredAt: '2026-01-01T00:00:00Z' } });

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
});
