import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import { isConditionalCheckFailed } from '../../commons/store/dynamo-io.js';
import type { NotificationEvent } from '../core/notification.js';
import type { DeliveryState, SubscriptionLedger } from './port.js';

/*
 * Items of the subscriptions table (SUBSCRIPTION_TABLE in tables.ts), one partition per subscription:
 *   SUB#{id} / STATE          the delivery state and the lease
 *   SUB#{id} / N#{number:12}  one recorded event (the claim of its number)
 *   SUB#{id} / D#{hash}       the number a study event's change got (redelivered events record nothing)
 */

const pk = (id: string): string => `SUB#${id}`;
const numberSk = (n: number): string => `N#${String(n).padStart(12, '0')}`;
/** Contention on one subscription's next number is a few concurrent notifiers at most. */
const MAX_CLAIM_ATTEMPTS = 50;

/** The ledger on DynamoDB (dynalite locally). */
export class DynamoSubscriptionLedger implements SubscriptionLedger {
  constructor(private readonly options: { client: DynamoDBDocumentClient; tableName: string }) {}

  private get client(): DynamoDBDocumentClient {
    return this.options.client;
  }

  private get table(): string {
    return this.options.tableName;
  }

  async open(subscriptionId: string, base: string, now: string): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: pk(subscriptionId), sk: 'STATE', base, deliveredThrough: 0, lastSentAt: now, failures: 0 },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
    }
  }

  async state(subscriptionId: string): Promise<DeliveryState | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.table, Key: { pk: pk(subscriptionId), sk: 'STATE' }, ConsistentRead: true }));
    const item = out.Item;
    if (!item) return undefined;
    return {
      base: String(item.base),
      deliveredThrough: Number(item.deliveredThrough ?? 0),
      lastSentAt: String(item.lastSentAt),
      failures: Number(item.failures ?? 0),
      ...(typeof item.nextAttemptAt === 'string' ? { nextAttemptAt: item.nextAttemptAt } : {}),
      ...(typeof item.lastError === 'string' ? { lastError: item.lastError } : {}),
    };
  }

  async record(subscriptionId: string, dedupeKey: string, event: Omit<NotificationEvent, 'number'>): Promise<NotificationEvent | undefined> {
    const dedupeSk = `D#${createHash('sha256').update(dedupeKey).digest('base64url').slice(0, 32)}`;
    const seen = await this.client.send(new GetCommand({ TableName: this.table, Key: { pk: pk(subscriptionId), sk: dedupeSk }, ConsistentRead: true }));
    if (seen.Item) return undefined;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      const number = (await this.lastNumber(subscriptionId)) + 1;
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.table,
            Item: { pk: pk(subscriptionId), sk: numberSk(number), number, ...event },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (err) {
        if (isConditionalCheckFailed(err)) continue; // another notifier took this number: take the next
        throw err;
      }
      // A crash between the two writes records the change again on redelivery: at least once, never a gap.
      await this.client.send(new PutCommand({ TableName: this.table, Item: { pk: pk(subscriptionId), sk: dedupeSk, number } }));
      return { number, ...event };
    }
    throw new Error('Could not claim an event number');
  }

  async lastNumber(subscriptionId: string): Promise<number> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :n)',
        ExpressionAttributeValues: { ':pk': pk(subscriptionId), ':n': 'N#' },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return Number(out.Items?.[0]?.number ?? 0);
  }

  async events(subscriptionId: string, from: number, to: number, limit: number): Promise<NotificationEvent[]> {
    if (to < from || limit <= 0) return [];
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': pk(subscriptionId), ':from': numberSk(Math.max(1, from)), ':to': numberSk(Math.min(to, 999_999_999_999)) },
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map((item) => ({
      number: Number(item.number),
      timestamp: String(item.timestamp),
      focus: String(item.focus),
      focusVersion: String(item.focusVersion),
    }));
  }

  async acquire(subscriptionId: string, holder: string, now: number, leaseMs: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pk(subscriptionId), sk: 'STATE' },
          UpdateExpression: 'SET leaseHolder = :h, leaseUntil = :until',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now OR leaseHolder = :h)',
          ExpressionAttributeValues: { ':h': holder, ':until': now + leaseMs, ':now': now },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalCheckFailed(err)) return false;
      throw err;
    }
  }

  async release(subscriptionId: string, holder: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: pk(subscriptionId), sk: 'STATE' },
          UpdateExpression: 'REMOVE leaseHolder, leaseUntil',
          ConditionExpression: 'leaseHolder = :h',
          ExpressionAttributeValues: { ':h': holder },
        }),
      );
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
    }
  }

  async delivered(subscriptionId: string, number: number | undefined, at: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: pk(subscriptionId), sk: 'STATE' },
        UpdateExpression: `SET lastSentAt = :at, failures = :zero${number === undefined ? '' : ', deliveredThrough = :n'} REMOVE nextAttemptAt, lastError`,
        ExpressionAttributeValues: { ':at': at, ':zero': 0, ...(number === undefined ? {} : { ':n': number }) },
      }),
    );
  }

  async failed(subscriptionId: string, failures: number, nextAttemptAt: string, error: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: pk(subscriptionId), sk: 'STATE' },
        UpdateExpression: 'SET failures = :f, nextAttemptAt = :next, lastError = :e',
        ExpressionAttributeValues: { ':f': failures, ':next': nextAttemptAt, ':e': error },
      }),
    );
  }
}
