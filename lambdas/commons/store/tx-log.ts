import { randomBytes } from 'node:crypto';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchWriteAll, isConditionalCheckFailed, queryAll, type Item, type WriteRequest } from './dynamo-io.js';
import { STUDY_GSI } from './tables.js';

/**
 * Transaction records of the study store: the commit point of the protocol in
 * `dynamo-study-store.ts`. A record goes `pending` → `committed` or `pending` → `aborted` with one
 * conditional write each, so exactly one of the two wins and both states are final.
 *
 * Items (partition `TX#{tx}`):
 * - `TX`: status `st`, start `t0`, claimed versions `vers` (after commit); while the transaction is
 *   not finalised it sits in the sparse GSI partition `OPENTX` (sorted by start) for the sweep.
 * - `M#{nnnn}`: manifest chunks, written before any other item of the transaction: the resources
 *   (`Type/id`) it may write, the event ids it writes and the home partitions it locks, so a sweep
 *   can find everything.
 */

/** State of a transaction. */
export type TxStatus = 'pending' | 'committed' | 'aborted';

/** A transaction record. */
export interface TxRecord {
  readonly tx: string;
  readonly status: TxStatus;
  readonly startedAt: string;
  /** Claimed version per manifest resource, 0 where nothing was written; set at commit. */
  readonly versions?: readonly number[];
  /** When the commit write landed (committed records only). */
  readonly committedAt?: string;
  readonly finalised: boolean;
}

/** What a transaction may write. */
export interface TxManifest {
  /** `Type/id` of each resource the transaction may write a version of. */
  readonly resources: readonly string[];
  readonly events: readonly string[];
  /** Home partitions whose lock the transaction takes (see `dynamo-study-store.ts`). */
  readonly homes?: readonly string[];
}

/** Settings of the log. */
export interface TxLogOptions {
  readonly clock: () => Date;
  readonly concurrency: number;
  /** How long a finalised record stays (TTL), in seconds. */
  readonly finalisedTtlSeconds: number;
}

const RECORD_SK = 'TX';
const OPEN_PARTITION = 'OPENTX';
const MANIFEST_CHUNK = 1_000;
const CACHE_MAX = 50_000;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

const txPk = (tx: string): string => `TX#${tx}`;

interface RecordItem {
  st: TxStatus;
  t0: string;
  vers?: string;
  tc?: string;
  fin?: string;
}

/** Transaction records, with a cache of final states (committed and aborted never change). */
export class TxLog {
  private readonly finalStates = new Map<string, 'committed' | 'aborted'>();

  /**
   * @param client - DocumentClient.
   * @param table - Study table name.
   * @param options - Clock, parallelism and TTL of finalised records.
   */
  public constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly options: TxLogOptions,
  ) {}

  /**
   * A new transaction id: 20 lowercase base32 characters (100 random bits). Fixed length and no
   * `#`, which the index sort keys rely on.
   * @returns The id.
   */
  public static newId(): string {
    const bytes = randomBytes(20);
    let id = '';
    for (const byte of bytes) id += BASE32[byte & 31];
    return id;
  }

  /**
   * Writes the pending record and the manifest, before anything else of the transaction.
   * @param tx - Transaction id.
   * @param startedAt - ISO start time.
   * @param manifest - What the transaction may write.
   * @returns The manifest items' sort keys (for `finalise`).
   */
  public async begin(tx: string, startedAt: string, manifest: TxManifest): Promise<string[]> {
    const sortKeys: string[] = [];
    const requests: WriteRequest[] = [
      {
        PutRequest: {
          Item: { pk: txPk(tx), sk: RECORD_SK, st: 'pending', t0: startedAt, gsi1pk: OPEN_PARTITION, gsi1sk: `${startedAt}#${tx}` },
        },
      },
    ];
    const all = [...manifest.resources.map((r) => ({ r })), ...manifest.events.map((e) => ({ e })), ...(manifest.homes ?? []).map((l) => ({ l }))];
    for (let i = 0, chunk = 0; i < all.length; i += MANIFEST_CHUNK, chunk++) {
      const part = all.slice(i, i + MANIFEST_CHUNK);
      sortKeys.push(`M#${String(chunk).padStart(6, '0')}`);
      requests.push({
        PutRequest: {
          Item: {
            pk: txPk(tx),
            sk: `M#${String(chunk).padStart(6, '0')}`,
            r: part.flatMap((p) => ('r' in p ? [p.r] : [])),
            e: part.flatMap((p) => ('e' in p ? [p.e] : [])),
            l: part.flatMap((p) => ('l' in p ? [p.l] : [])),
          },
        },
      });
    }
    await batchWriteAll(this.client, this.table, requests, this.options.concurrency);
    return sortKeys;
  }

  /**
   * Adds home partitions to the manifest, before the transaction locks them.
   * @param tx - Transaction id.
   * @param homes - Home partition keys.
   * @returns The sort key of the manifest item written (none when there were no homes).
   */
  public async addHomes(tx: string, homes: readonly string[]): Promise<string[]> {
    if (homes.length === 0) return [];
    const sk = `M#L${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
    await batchWriteAll(this.client, this.table, [{ PutRequest: { Item: { pk: txPk(tx), sk, r: [], e: [], l: [...homes] } } }], 1);
    return [sk];
  }

  /**
   * The commit point: one conditional write from pending to committed.
   * @param tx - Transaction id.
   * @param versions - Claimed version per manifest resource (0 for none).
   * @returns The final status: committed, or aborted when the sweep got there first.
   */
  public async commit(tx: string, versions: readonly number[]): Promise<TxStatus> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: txPk(tx), sk: RECORD_SK },
          UpdateExpression: 'SET st = :committed, vers = :vers, tc = :now',
          ConditionExpression: 'st = :pending',
          ExpressionAttributeValues: {
            ':committed': 'committed',
            ':pending': 'pending',
            ':vers': versions.join(','),
            ':now': this.options.clock().toISOString(),
          },
        }),
      );
      this.remember(tx, 'committed');
      return 'committed';
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
      return (await this.record(tx))?.status ?? 'aborted';
    }
  }

  /**
   * Aborts a pending transaction (conditional, so a concurrent commit and abort cannot both win).
   * @param tx - Transaction id.
   * @returns The final status: aborted, or committed when the commit got there first.
   */
  public async abort(tx: string): Promise<TxStatus> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: txPk(tx), sk: RECORD_SK },
          UpdateExpression: 'SET st = :aborted, ta = :now',
          ConditionExpression: 'st = :pending',
          ExpressionAttributeValues: { ':aborted': 'aborted', ':pending': 'pending', ':now': this.options.clock().toISOString() },
        }),
      );
      this.remember(tx, 'aborted');
      return 'aborted';
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
      // A missing record (expired by TTL) belongs to a finalised transaction whose leftovers are not committed.
      return (await this.record(tx))?.status ?? 'aborted';
    }
  }

  /**
   * Reads a record (strongly consistent).
   * @param tx - Transaction id.
   * @returns The record, or undefined when absent.
   */
  public async record(tx: string): Promise<TxRecord | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.table, Key: { pk: txPk(tx), sk: RECORD_SK }, ConsistentRead: true }));
    if (!out.Item) return undefined;
    const item = out.Item as RecordItem;
    if (item.st !== 'pending') this.remember(tx, item.st);
    return {
      tx,
      status: item.st,
      startedAt: item.t0,
      versions: item.vers === undefined ? undefined : item.vers === '' ? [] : item.vers.split(',').map(Number),
      ...(item.tc === undefined ? {} : { committedAt: item.tc }),
      finalised: item.fin !== undefined,
    };
  }

  /**
   * Whether a transaction committed, from the cache when it is known to have.
   * @param tx - Transaction id.
   * @returns True once committed.
   */
  public async isCommitted(tx: string): Promise<boolean> {
    const known = this.finalStates.get(tx);
    if (known) return known === 'committed';
    return (await this.record(tx))?.status === 'committed';
  }

  /**
   * Reads the manifest.
   * @param tx - Transaction id.
   * @returns Resources and events, empty once finalised.
   */
  public async manifest(tx: string): Promise<TxManifest> {
    const resources: string[] = [];
    const events: string[] = [];
    const homes: string[] = [];
    for await (const item of this.manifestItems(tx)) {
      resources.push(...((item.r as string[] | undefined) ?? []));
      events.push(...((item.e as string[] | undefined) ?? []));
      homes.push(...((item.l as string[] | undefined) ?? []));
    }
    return { resources, events, homes: [...new Set(homes)] };
  }

  /**
   * Marks the transaction done: drops the manifest, takes the record out of `OPENTX` and lets TTL
   * remove it later. Call only when no item of the transaction carries a pending marker any more.
   * @param tx - Transaction id.
   * @param manifestSortKeys - The manifest items' sort keys when the caller wrote them itself (saves reading them).
   */
  public async finalise(tx: string, manifestSortKeys?: readonly string[]): Promise<void> {
    const keys: WriteRequest[] = (manifestSortKeys ?? []).map((sk) => ({ DeleteRequest: { Key: { pk: txPk(tx), sk } } }));
    if (!manifestSortKeys) for await (const item of this.manifestItems(tx)) keys.push({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } });
    await batchWriteAll(this.client, this.table, keys, this.options.concurrency);
    const now = this.options.clock();
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: txPk(tx), sk: RECORD_SK },
          UpdateExpression: 'REMOVE gsi1pk, gsi1sk SET fin = :now, #ttl = :ttl',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':now': now.toISOString(), ':ttl': Math.floor(now.getTime() / 1000) + this.options.finalisedTtlSeconds },
        }),
      );
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
    }
  }

  /**
   * Transactions not yet finalised, oldest first (GSI query, eventually consistent: a transaction
   * that just began may be missing and is picked up by the next sweep).
   * @yields Transaction ids.
   */
  public async *openTransactions(): AsyncGenerator<string> {
    const items = queryAll(this.client, {
      TableName: this.table,
      IndexName: STUDY_GSI,
      KeyConditionExpression: 'gsi1pk = :open',
      ExpressionAttributeValues: { ':open': OPEN_PARTITION },
    });
    for await (const item of items) yield (item.pk as string).slice('TX#'.length);
  }

  private manifestItems(tx: string): AsyncGenerator<Item> {
    return queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :m)',
      ExpressionAttributeValues: { ':pk': txPk(tx), ':m': 'M#' },
      ConsistentRead: true,
    });
  }

  private remember(tx: string, status: 'committed' | 'aborted'): void {
    if (this.finalStates.size >= CACHE_MAX) {
      const oldest = this.finalStates.keys().next();
      if (!oldest.done) this.finalStates.delete(oldest.value);
    }
    this.finalStates.set(tx, status);
  }
}
