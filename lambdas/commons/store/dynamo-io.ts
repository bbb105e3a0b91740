import { BatchGetCommand, BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { StoreThrottledError } from './errors.js';

/** Low-level helpers shared by the DynamoDB adapters: bounded parallelism, batch writes with retry, paged queries. */

/** A stored item as the DocumentClient returns it. */
export type Item = Record<string, unknown>;

/** One BatchWriteItem request. */
export type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

/** BatchWriteItem takes at most 25 requests. */
export const BATCH_WRITE_MAX = 25;

/**
 * Waits.
 * @param ms - Milliseconds.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Exponential backoff with full jitter.
 * @param attempt - 0 for the first retry.
 * @param baseMs - First delay ceiling.
 * @param capMs - Largest delay ceiling.
 * @returns Milliseconds to wait.
 */
export function backoffMs(attempt: number, baseMs = 25, capMs = 2_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

/**
 * Maps with at most `limit` calls in flight. On the first failure no new call starts, and the
 * promise rejects only once the calls in flight have settled, so the caller can clean up after
 * a known set of writes.
 * @param items - Inputs.
 * @param limit - Largest number of concurrent calls.
 * @param fn - The call.
 * @returns Results in input order.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

/**
 * Whether an error is DynamoDB's ConditionalCheckFailedException.
 * @param err - Any thrown value.
 * @returns True for a failed condition.
 */
export function isConditionalCheckFailed(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

const THROTTLING = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);

/**
 * Writes any number of requests with BatchWriteItem, 25 at a time, retrying unprocessed items
 * (and throttling the SDK's own retries gave up on) with backoff.
 * @param client - DocumentClient.
 * @param table - Table name.
 * @param requests - Puts and deletes; keys must be unique within the call.
 * @param concurrency - Batches in flight.
 * @param maxAttempts - Attempts per batch before giving up.
 */
export async function batchWriteAll(
  client: DynamoDBDocumentClient,
  table: string,
  requests: readonly WriteRequest[],
  concurrency: number,
  maxAttempts = 10,
): Promise<void> {
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += BATCH_WRITE_MAX) batches.push(requests.slice(i, i + BATCH_WRITE_MAX));
  await mapLimit(batches, concurrency, async (batch) => {
    let pending: WriteRequest[] = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= maxAttempts) throw new StoreThrottledError(`${pending.length} writes still unprocessed after ${maxAttempts} attempts`);
      if (attempt > 0) await sleep(backoffMs(attempt - 1, 50));
      try {
        const out = await client.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
        pending = (out.UnprocessedItems?.[table] ?? []) as WriteRequest[];
      } catch (err) {
        if (!(err instanceof Error && THROTTLING.has(err.name))) throw err;
      }
    }
  });
}

/**
 * Runs a query to its end, following LastEvaluatedKey.
 * @param client - DocumentClient.
 * @param input - The query.
 * @yields Each item in order.
 */
export async function* queryAll(client: DynamoDBDocumentClient, input: QueryCommandInput): AsyncGenerator<Item> {
  let start: Item | undefined;
  do {
    const out = await client.send(new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
    for (const item of out.Items ?? []) yield item;
    start = out.LastEvaluatedKey;
  } while (start);
}

/** BatchGetItem takes at most 100 keys. */
export const BATCH_GET_MAX = 100;

/**
 * Reads any number of items by key with strongly consistent BatchGetItem, 100 keys a call,
 * retrying unprocessed keys (a large answer is cut at 16 MB) with backoff.
 * @param client - DocumentClient.
 * @param table - Table name.
 * @param keys - `{ pk, sk }` keys; duplicates are read once.
 * @param concurrency - Calls in flight.
 * @param maxAttempts - Attempts per call before giving up.
 * @returns The items found, by `itemKey(pk, sk)`.
 */
export async function batchGetAll(
  client: DynamoDBDocumentClient,
  table: string,
  keys: readonly { pk: string; sk: string }[],
  concurrency: number,
  maxAttempts = 10,
): Promise<Map<string, Item>> {
  const unique = new Map<string, { pk: string; sk: string }>();
  for (const key of keys) unique.set(itemKey(key.pk, key.sk), { pk: key.pk, sk: key.sk });
  const all = [...unique.values()];
  const batches: { pk: string; sk: string }[][] = [];
  for (let i = 0; i < all.length; i += BATCH_GET_MAX) batches.push(all.slice(i, i + BATCH_GET_MAX));
  const found = new Map<string, Item>();
  await mapLimit(batches, concurrency, async (batch) => {
    let pending: Item[] = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= maxAttempts) throw new StoreThrottledError(`${pending.length} reads still unprocessed after ${maxAttempts} attempts`);
      if (attempt > 0) await sleep(backoffMs(attempt - 1, 50));
      try {
        const out = await client.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }));
        for (const item of out.Responses?.[table] ?? []) found.set(itemKey(item.pk as string, item.sk as string), item);
        pending = (out.UnprocessedKeys?.[table]?.Keys ?? []) as Item[];
      } catch (err) {
        if (!(err instanceof Error && THROTTLING.has(err.name))) throw err;
      }
    }
  });
  return found;
}

/**
 * The map key `batchGetAll` answers under.
 * @param pk - Partition key.
 * @param sk - Sort key.
 * @returns `pk` and `sk` joined.
 */
export const itemKey = (pk: string, sk: string): string => `${pk}\u0000${sk}`;
