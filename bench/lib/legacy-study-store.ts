/*
 * The study store as it was before issue 13 (commit f38f27f): one commit per resource claim (a Query
 * for the top version and a conditional Put each), index items beside, no subject partition. Kept
 * only as the bench's baseline, measured in the same run as the new store, on its own table.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { Resource } from '@medplum/fhirtypes';
import {
  backoffMs,
  batchWriteAll,
  isConditionalCheckFailed,
  mapLimit,
  queryAll,
  sleep,
  type Item,
  type WriteRequest,
} from '../../lambdas/commons/store/dynamo-io.js';
import { InvalidQueryError, InvalidResourceError, StoreConflictError } from '../../lambdas/commons/store/errors.js';
import { indexEntries, indexFacts, indexOrder, matchesQuery, parseIndexSk, planSearch, sortKeyBounds, type IndexEntry, type SearchPlan } from '../../lambdas/commons/store/index-keys.js';
import type { CommitOptions, SearchPage, StoredResource, StoreQuery, StudyDataChanged, StudyStore, WriteResult } from '../../lambdas/commons/store/port.js';
import { assertStorable, contentHash, decodeBody, encodeBody, type EncodedBody } from '../../lambdas/commons/store/resource-codec.js';
import { STUDY_GSI } from '../../lambdas/commons/store/tables.js';
import { TxLog } from '../../lambdas/commons/store/tx-log.js';

/** Settings of `DynamoStudyStore`. Nothing is read from the environment. */
export interface LegacyStudyStoreOptions {
  /** A DocumentClient, or a plain client to wrap in one. */
  readonly client: DynamoDBDocumentClient | DynamoDBClient;
  /** The study table (see `STUDY_TABLE`). */
  readonly tableName: string;
  /** A pending transaction older than this may be aborted by the sweep or by a writer it blocks. Default 2 minutes. */
  readonly txTimeoutMs?: number;
  /** How long a write waits for another transaction holding the same resource. Default 5 s. */
  readonly lockWaitMs?: number;
  /** Requests in flight per commit or search. Default 32. */
  readonly concurrency?: number;
  /** Outbox GSI partitions (spreads event writes). Default 4. Changing it hides events in dropped shards. */
  readonly outboxShards?: number;
  /** How long finalised transaction records stay before TTL removes them. Default 7 days. */
  readonly finalisedTxTtlSeconds?: number;
  /** Clock for lastUpdated and transaction ages. */
  readonly clock?: () => Date;
  /** Where failures of best-effort steps (roll-forward after commit, cleanup after a failure) are reported. */
  readonly logger?: { warn(message: string, detail?: unknown): void };
}

/** What one `sweep` did. */
interface SweepReport {
  /** Committed transactions finalised. */
  rolledForward: number;
  /** Aborted (or expired) transactions whose writes were removed. */
  cleaned: number;
  /** Pending transactions younger than the timeout, left alone. */
  inFlight: number;
  /** Transactions the sweep failed on (left for the next run). */
  failed: number;
}

/** A version item: partition `R#{type}#{id}`, sort key `V#{version, 10 digits}`. */
interface VersionItem extends EncodedBody {
  pk: string;
  sk: string;
  rt: string;
  rid: string;
  v: number;
  /** The transaction that wrote the version. */
  tx: string;
  /** Equal to `tx` until roll-forward: the version is visible only if that transaction committed. */
  pend?: string;
  lu: string;
  /** Content hash (see `contentHash`). */
  h: string;
}

/** An outbox item: partition `EV#{eventId}`, sort key `TX#{tx}`, in GSI partition `OUTBOX#{shard}`. */
interface EventItem {
  pk: string;
  sk: string;
  tx: string;
  pend?: string;
  gsi1pk: string;
  gsi1sk: string;
  ev: StudyDataChanged;
}

interface PreparedEntry {
  readonly resource: Resource & { id: string };
  readonly type: string;
  readonly id: string;
  readonly ref: string;
  readonly hash: string;
}

interface TxContext {
  readonly tx: string;
  readonly startedAt: string;
  /** More than one resource: wait-die applies when another transaction holds a slot. */
  readonly multi: boolean;
  /** Wall-clock ms after which waiting for a slot gives up. */
  readonly deadline: number;
  /** Set when another claim of the transaction failed: the rest stop waiting. */
  failed: boolean;
}

interface Claimed {
  readonly kind: 'claimed';
  readonly item: VersionItem;
  readonly stored: StoredResource;
  /** The committed version this one follows. */
  readonly prev?: VersionItem;
}

type Claim = { readonly kind: 'unchanged'; readonly current: VersionItem } | Claimed;

/** One candidate of a search: the sort key it was found under, the resource id, and the transaction of the indexed version. */
interface Hit {
  readonly key: string;
  readonly id: string;
  readonly tx?: string;
}

const resourcePk = (type: string, id: string): string => `R#${type}#${id}`;
const versionSk = (version: number): string => `V#${String(version).padStart(10, '0')}`;
const eventPk = (eventId: string): string => `EV#${eventId}`;

/**
 * The study store on one DynamoDB table, with atomic multi-item commits that need neither
 * TransactWriteItems nor its 100-action limit.
 *
 * Protocol (per commit): (1) write a pending transaction record and a manifest of what it may
 * write; (2) claim each resource's next version slot with a conditional put (items carry the
 * pending marker `pend`); (3) write index entries and outbox events; (4) commit with one
 * conditional write of the record (`pending` → `committed`); (5) roll forward: drop the markers,
 * delete the superseded version's index entries, finalise the record. Readers show a marked item
 * only if its transaction committed, so everything becomes visible at step 4 at once. A crash
 * before 4 leaves only invisible items, which `sweep` (or a writer they block) removes once the
 * transaction is older than `txTimeoutMs`; a crash after 4 is completed by `rollForward`/`sweep`.
 *
 * @example
 * const store = new DynamoStudyStore({ client: new DynamoDBClient({}), tableName: config.studyTable });
 * const [result] = await store.commit([observation], { atomic: true, events });
 */
export class LegacyDynamoStudyStore implements StudyStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly txTimeoutMs: number;
  private readonly lockWaitMs: number;
  private readonly concurrency: number;
  private readonly outboxShards: number;
  private readonly clock: () => Date;
  private readonly logger: { warn(message: string, detail?: unknown): void };
  private readonly txLog: TxLog;

  /** @param options - Client, table name and protocol settings. */
  public constructor(options: LegacyStudyStoreOptions) {
    this.client =
      options.client instanceof DynamoDBClient
        ? DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } })
        : options.client;
    this.table = options.tableName;
    this.txTimeoutMs = options.txTimeoutMs ?? 120_000;
    this.lockWaitMs = options.lockWaitMs ?? 5_000;
    this.concurrency = options.concurrency ?? 32;
    this.outboxShards = Math.max(1, options.outboxShards ?? 4);
    this.clock = options.clock ?? ((): Date => new Date());
    this.logger = options.logger ?? { warn: (message, detail): void => console.warn(message, detail) };
    this.txLog = new TxLog(this.client, this.table, {
      clock: this.clock,
      concurrency: this.concurrency,
      finalisedTtlSeconds: options.finalisedTxTtlSeconds ?? 7 * 24 * 3600,
    });
  }

  /**
   * Writes resources. Atomic: all land or none does; a failure throws (`StoreConflictError`,
   * `ResourceTooLargeError`, `InvalidResourceError`, or the SDK's error). Batch: each resource
   * commits on its own and a failure is that entry's `{ status: 'error' }`; the events then commit
   * after the entries unless every entry failed.
   */
  public async commit(resources: readonly (Resource & { id: string })[], options: CommitOptions): Promise<WriteResult[]> {
    const events = options.events ?? [];
    if (options.atomic) {
      const entries = resources.map((r) => this.prepare(r));
      const refs = new Set<string>();
      for (const entry of entries) {
        if (refs.has(entry.ref)) throw new InvalidResourceError(`${entry.ref} appears twice in one transaction`);
        refs.add(entry.ref);
      }
      return this.commitTx(entries, events, entries.length > 1);
    }
    const results = await mapLimit(resources, this.concurrency, async (resource): Promise<WriteResult> => {
      try {
        const [result] = await this.commitTx([this.prepare(resource)], [], false);
        if (!result) throw new Error('Commit returned no result');
        return result;
      } catch (err) {
        return { status: 'error', error: err instanceof Error ? err : new Error(String(err)) };
      }
    });
    if (events.length > 0 && (resources.length === 0 || results.some((r) => r.status !== 'error'))) {
      await this.commitTx([], events, false);
    }
    return results;
  }

  /** The current version, or undefined when the resource has no committed version. */
  public async read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<StoredResource<T> | undefined> {
    const item = await this.currentVersion(resourceType, id);
    return item ? (this.decode(item) as StoredResource<T>) : undefined;
  }

  /** One committed version. */
  public async vread<T extends Resource>(resourceType: T['resourceType'], id: string, versionId: string): Promise<StoredResource<T> | undefined> {
    if (!/^[1-9]\d{0,9}$/.test(versionId)) return undefined;
    const item = await this.getVersion(resourcePk(resourceType, id), Number(versionId));
    return item && (await this.isVisible(item)) ? (this.decode(item) as StoredResource<T>) : undefined;
  }

  /** Every committed version, newest first. */
  public async history<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<StoredResource<T>[]> {
    const versions: StoredResource<T>[] = [];
    for await (const item of this.versionItems(resourcePk(resourceType, id))) {
      if (await this.isVisible(item)) versions.push(this.decode(item) as StoredResource<T>);
    }
    return versions;
  }

  /**
   * Answers a search from one index (see `planSearch`), re-checking every filter on the current
   * version so stale or uncommitted entries never show. Order: the index's sort key (clinical date
   * then id; lastUpdated then id; or id for `ids`).
   */
  public async search(query: StoreQuery): Promise<SearchPage> {
    const count = Math.floor(query.count);
    if (!(count > 0)) return { resources: [] };
    const plan = planSearch(query);
    if (query.sort && indexOrder(plan) !== query.sort.by) {
      throw new InvalidQueryError(`This search reads an index ordered by ${indexOrder(plan)}: it cannot be sorted by ${query.sort.by}`);
    }
    const descending = query.sort?.descending === true;
    // The direction is part of the cursor's plan: a cursor of one direction cannot resume the other.
    const planName = `${plan.kind === 'ids' ? 'ids' : plan.name}${descending ? '-desc' : ''}`;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, planName);
    const stream = this.hitStream(plan, after, descending);
    const resources: StoredResource[] = [];
    let lastKey: string | undefined;
    while (resources.length < count) {
      const batch: Hit[] = [];
      while (batch.length < Math.min(count - resources.length, 100)) {
        const hit = await stream.next();
        if (!hit) break;
        batch.push(hit);
      }
      if (batch.length === 0) break;
      const loaded = await mapLimit(batch, this.concurrency, (hit) => this.loadHit(query, hit));
      for (const [i, hit] of batch.entries()) {
        lastKey = hit.key;
        const resource = loaded[i];
        if (resource) resources.push(resource);
      }
    }
    const more = resources.length >= count && (await stream.hasMore());
    return more && lastKey !== undefined ? { resources, next: encodeCursor(planName, lastKey) } : { resources };
  }

  /**
   * Counts what `search` would return over all its pages, reading as little as the query allows:
   * - its filters are exactly one index partition and its range: one `Select: 'COUNT'` query (a page
   *   per MB of index entries), no item read. After a commit is rolled forward its superseded entries
   *   are gone, so old versions are not counted; while a commit is in flight (or for the minute
   *   between a crash after its commit and the sweep) its resources may count twice;
   * - its filters are exactly the plan's but over several partitions (codes ORed) or ids: the merged
   *   hits' keys, each checked against the resource's current version (keys only, no body);
   * - otherwise (a filter no index holds): every candidate loaded and matched, as `search` does.
   */
  public async count(query: StoreQuery): Promise<number> {
    const plan = planSearch(query);
    if (!planIsExact(query, plan)) return this.countByLoading(query);
    if (plan.kind === 'index' && plan.partitions.length === 1) {
      const bounds = sortKeyBounds(plan.range);
      return bounds ? this.countPartition(plan.partitions[0]!, bounds) : 0;
    }
    const stream = this.hitStream(plan, undefined);
    let total = 0;
    for (;;) {
      const batch: Hit[] = [];
      for (let hit = await stream.next(); hit; hit = batch.length < 100 ? await stream.next() : undefined) batch.push(hit);
      if (batch.length === 0) return total;
      const current = await mapLimit(batch, this.concurrency, (hit) => this.currentTx(query.resourceType, hit.id));
      total += batch.filter((hit, i) => current[i] !== undefined && (hit.tx === undefined || current[i] === hit.tx)).length;
    }
  }

  private async countPartition(pk: string, bounds: { lo: string; hi: string }): Promise<number> {
    let total = 0;
    let start: Item | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
          ExpressionAttributeValues: { ':pk': pk, ':lo': bounds.lo, ':hi': bounds.hi },
          Select: 'COUNT',
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      total += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    return total;
  }

  private async countByLoading(query: StoreQuery): Promise<number> {
    let total = 0;
    let page = await this.search({ ...query, count: 1000, cursor: undefined });
    for (;;) {
      total += page.resources.length;
      if (!page.next) return total;
      page = await this.search({ ...query, count: 1000, cursor: page.next });
    }
  }

  /** The transaction of a resource's current version (its key attributes only, never its body). */
  private async currentTx(type: string, id: string): Promise<string | undefined> {
    for await (const item of queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :v)',
      ExpressionAttributeValues: { ':pk': resourcePk(type, id), ':v': 'V#' },
      ExpressionAttributeNames: { '#tx': 'tx', '#pend': 'pend' },
      ProjectionExpression: '#tx, #pend',
      ScanIndexForward: false,
      ConsistentRead: true,
      Limit: 2,
    })) {
      const version = item as { tx: string; pend?: string };
      if (await this.isVisible(version)) return version.tx;
    }
    return undefined;
  }

  /** Committed, unacknowledged outbox events, oldest `occurredAt` first. */
  public async pendingEvents(limit: number): Promise<StudyDataChanged[]> {
    if (!(limit > 0)) return [];
    const readers = Array.from(
      { length: this.outboxShards },
      (_, shard) =>
        new SortedReader(this.client, (start, pageSize) => ({
          TableName: this.table,
          IndexName: STUDY_GSI,
          KeyConditionExpression: 'gsi1pk = :shard',
          ExpressionAttributeValues: { ':shard': `OUTBOX#${shard}` },
          Limit: pageSize,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }), (item) => item.gsi1sk as string),
    );
    const merged = new MergedStream(readers);
    const events: StudyDataChanged[] = [];
    while (events.length < limit) {
      const next = await merged.nextItem();
      if (!next) break;
      const item = next as unknown as EventItem;
      if (!item.pend || (await this.txLog.isCommitted(item.tx))) events.push(item.ev);
    }
    return events;
  }

  /** Removes an event from the outbox (every committed copy of that id). */
  public async ackEvent(eventId: string): Promise<void> {
    const items = queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': eventPk(eventId) },
      ConsistentRead: true,
    });
    for await (const raw of items) {
      const item = raw as unknown as EventItem;
      // An uncommitted copy belongs to a transaction still in flight; it is not ours to acknowledge yet.
      if (item.pend && !(await this.txLog.isCommitted(item.tx))) continue;
      await this.client.send(new DeleteCommand({ TableName: this.table, Key: { pk: item.pk, sk: item.sk } }));
    }
  }

  /**
   * Completes a committed transaction: clears pending markers, deletes the index entries of the
   * versions it superseded, finalises the record. Idempotent; safe to run concurrently or again.
   * @param tx - Transaction id.
   * @returns False when the transaction is not committed.
   */
  public async rollForward(tx: string): Promise<boolean> {
    const record = await this.txLog.record(tx);
    if (record?.status !== 'committed') return false;
    if (record.finalised) return true;
    const manifest = await this.txLog.manifest(tx);
    const versions = record.versions ?? [];
    const claimed = await mapLimit(manifest.resources, this.concurrency, async (ref, i) => {
      const version = versions[i] ?? 0;
      if (version === 0) return undefined;
      const [type = '', id = ''] = ref.split('/');
      const pk = resourcePk(type, id);
      const item = await this.getVersion(pk, version);
      if (item?.tx !== tx) return undefined;
      const prev = version > 1 ? await this.getVersion(pk, version - 1) : undefined;
      return { item, prev };
    });
    await this.finishCommitted(
      tx,
      claimed.flatMap((c) => (c ? [c] : [])),
      manifest.events,
    );
    return true;
  }

  /**
   * Recovery, run on a schedule: rolls committed transactions forward, aborts pending ones older
   * than `txTimeoutMs` and removes everything they wrote. Finds them with a GSI query, never a scan.
   * @returns What it did.
   */
  public async sweep(): Promise<SweepReport> {
    const report: SweepReport = { rolledForward: 0, cleaned: 0, inFlight: 0, failed: 0 };
    for await (const tx of this.txLog.openTransactions()) {
      try {
        const record = await this.txLog.record(tx);
        if (!record) continue;
        let status = record.status;
        if (status === 'pending') {
          if (this.clock().getTime() - Date.parse(record.startedAt) < this.txTimeoutMs) {
            report.inFlight++;
            continue;
          }
          status = await this.txLog.abort(tx);
        }
        if (status === 'committed') {
          await this.rollForward(tx);
          report.rolledForward++;
        } else {
          await this.cleanupAborted(tx);
          report.cleaned++;
        }
      } catch (err) {
        report.failed++;
        this.logger.warn(`Sweep failed on transaction ${tx}`, err);
      }
    }
    return report;
  }

  private prepare(resource: Resource & { id: string }): PreparedEntry {
    assertStorable(resource);
    const ref = `${resource.resourceType}/${resource.id}`;
    // Fail before writing anything when even the compressed body cannot fit.
    encodeBody(ref, JSON.stringify(resource));
    return { resource, type: resource.resourceType, id: resource.id, ref, hash: contentHash(resource) };
  }

  private async commitTx(entries: readonly PreparedEntry[], events: readonly StudyDataChanged[], multi: boolean): Promise<WriteResult[]> {
    const tx = TxLog.newId();
    const startedAt = this.clock().toISOString();
    const context: TxContext = { tx, startedAt, multi, deadline: Date.now() + this.lockWaitMs, failed: false };
    await this.txLog.begin(tx, startedAt, { resources: entries.map((e) => e.ref), events: events.map((e) => e.eventId) });
    let claims: Claim[] = [];
    try {
      claims = await mapLimit(entries, this.concurrency, async (entry) => {
        try {
          return await this.claim(context, entry);
        } catch (err) {
          context.failed = true;
          throw err;
        }
      });
      const writes: WriteRequest[] = [];
      for (const claim of claims) {
        if (claim.kind !== 'claimed') continue;
        for (const key of this.entriesOf(claim.item, claim.stored)) writes.push({ PutRequest: { Item: { ...key } } });
      }
      for (const event of events) writes.push({ PutRequest: { Item: { ...this.eventItem(tx, event) } } });
      await batchWriteAll(this.client, this.table, writes, this.concurrency);
      const status = await this.txLog.commit(
        tx,
        claims.map((c) => (c.kind === 'claimed' ? c.item.v : 0)),
      );
      if (status !== 'committed') throw new StoreConflictError(`Transaction ${tx} was aborted (it ran longer than ${this.txTimeoutMs} ms)`);
    } catch (err) {
      // The commit write may have landed even though its answer was lost: then the data is in.
      if ((await this.abandon(tx)) !== 'committed' || claims.length !== entries.length) throw err;
    }
    const claimed = claims.filter((c): c is Claimed => c.kind === 'claimed');
    try {
      await this.finishCommitted(tx, claimed, events.map((e) => e.eventId));
    } catch (err) {
      this.logger.warn(`Roll-forward of committed transaction ${tx} failed; the sweep will complete it`, err);
    }
    return claims.map((claim) =>
      claim.kind === 'unchanged'
        ? { status: 'unchanged', resource: this.decode(claim.current) }
        : { status: claim.prev ? 'updated' : 'created', resource: claim.stored },
    );
  }

  /** Claims the next version slot of one resource, or finds the content unchanged. */
  private async claim(context: TxContext, entry: PreparedEntry): Promise<Claim> {
    const pk = resourcePk(entry.type, entry.id);
    for (let attempt = 0; ; attempt++) {
      if (context.failed) throw new StoreConflictError(`${entry.ref}: the transaction already failed`);
      const top = await this.topVersion(pk);
      if (top?.tx === context.tx) {
        // An earlier attempt of this claim landed although its answer was lost (SDK retry).
        const prev = top.v > 1 ? await this.getVersion(pk, top.v - 1) : undefined;
        return { kind: 'claimed', item: top, stored: this.decode(top), prev };
      }
      if (top && !(await this.isVisible(top))) {
        await this.resolveBlocker(context, top, attempt);
        continue;
      }
      if (top && top.h === entry.hash) return { kind: 'unchanged', current: top };
      const version = (top?.v ?? 0) + 1;
      let lastUpdated = context.startedAt;
      // lastUpdated never goes back within one resource's history, even when transactions overlap.
      if (top && lastUpdated <= top.lu) lastUpdated = new Date(Date.parse(top.lu) + 1).toISOString();
      const stored: StoredResource = {
        ...entry.resource,
        meta: { ...entry.resource.meta, versionId: String(version), lastUpdated },
      };
      const item: VersionItem = {
        pk,
        sk: versionSk(version),
        rt: entry.type,
        rid: entry.id,
        v: version,
        tx: context.tx,
        pend: context.tx,
        lu: lastUpdated,
        h: entry.hash,
        ...encodeBody(entry.ref, JSON.stringify(stored)),
      };
      try {
        await this.client.send(
          new PutCommand({ TableName: this.table, Item: { ...item }, ConditionExpression: 'attribute_not_exists(pk)' }),
        );
        return { kind: 'claimed', item, stored, prev: top };
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
        if (Date.now() > context.deadline) throw new StoreConflictError(`${entry.ref}: version ${version} keeps being taken by other commits`);
      }
    }
  }

  /** Deals with an uncommitted version on top of a resource another transaction holds. */
  private async resolveBlocker(context: TxContext, blocker: VersionItem, attempt: number): Promise<void> {
    const holder = await this.txLog.record(blocker.tx);
    if (!holder || holder.status === 'aborted') {
      await this.removeVersion(blocker);
      return;
    }
    if (holder.status === 'committed') return;
    if (this.clock().getTime() - Date.parse(holder.startedAt) > this.txTimeoutMs) {
      await this.txLog.abort(blocker.tx);
      return;
    }
    const ref = `${blocker.rt}/${blocker.rid}`;
    // Wait-die: a multi-resource transaction younger than the holder gives up at once, so two
    // transactions that each hold what the other needs cannot wait for each other.
    const younger = context.startedAt > holder.startedAt || (context.startedAt === holder.startedAt && context.tx > holder.tx);
    if (context.multi && younger) throw new StoreConflictError(`${ref} is being written by another transaction`);
    if (Date.now() > context.deadline) throw new StoreConflictError(`${ref} stayed locked by transaction ${blocker.tx} for ${this.lockWaitMs} ms`);
    await sleep(backoffMs(attempt, 10, 250));
  }

  /** Aborts a failed transaction and removes its writes; reports the final status (or pending when that failed too). */
  private async abandon(tx: string): Promise<'committed' | 'aborted' | 'pending'> {
    try {
      const status = await this.txLog.abort(tx);
      if (status === 'committed') return 'committed';
      await this.cleanupAborted(tx);
      return 'aborted';
    } catch (err) {
      this.logger.warn(`Could not clean up transaction ${tx}; the sweep will`, err);
      return 'pending';
    }
  }

  private async cleanupAborted(tx: string): Promise<void> {
    const manifest = await this.txLog.manifest(tx);
    await mapLimit(manifest.resources, this.concurrency, async (ref) => {
      const [type = '', id = ''] = ref.split('/');
      // An uncommitted version is always the newest item: nobody claims above one.
      const top = await this.topVersion(resourcePk(type, id));
      if (top?.tx === tx && top.pend) await this.removeVersion(top);
    });
    await batchWriteAll(
      this.client,
      this.table,
      manifest.events.map((eventId) => ({ DeleteRequest: { Key: { pk: eventPk(eventId), sk: `TX#${tx}` } } })),
      this.concurrency,
    );
    await this.txLog.finalise(tx);
  }

  /** Removes an uncommitted version: its index entries first, so a crash halfway can be retried from the version item. */
  private async removeVersion(item: VersionItem): Promise<void> {
    const deletes = this.entriesOf(item, this.decode(item)).map((key) => ({ DeleteRequest: { Key: { ...key } } }));
    await batchWriteAll(this.client, this.table, deletes, this.concurrency);
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: item.pk, sk: item.sk },
          ConditionExpression: 'tx = :tx AND attribute_exists(pend)',
          ExpressionAttributeValues: { ':tx': item.tx },
        }),
      );
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
    }
  }

  private async finishCommitted(
    tx: string,
    claimed: readonly { readonly item: VersionItem; readonly prev?: VersionItem }[],
    eventIds: readonly string[],
  ): Promise<void> {
    const writes: WriteRequest[] = [];
    for (const { item, prev } of claimed) {
      const finished: Item = { ...item };
      delete finished.pend;
      // Committed versions never change again, so a blind re-put without the marker is safe and batchable.
      writes.push({ PutRequest: { Item: finished } });
      if (prev) for (const key of this.entriesOf(prev, this.decode(prev))) writes.push({ DeleteRequest: { Key: { ...key } } });
    }
    await batchWriteAll(this.client, this.table, writes, this.concurrency);
    await mapLimit(eventIds, this.concurrency, async (eventId) => {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: eventPk(eventId), sk: `TX#${tx}` },
            UpdateExpression: 'REMOVE pend',
            // Acknowledged meanwhile: do not bring it back.
            ConditionExpression: 'attribute_exists(pk)',
          }),
        );
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
      }
    });
    await this.txLog.finalise(tx);
  }

  private eventItem(tx: string, event: StudyDataChanged): EventItem {
    const ev: StudyDataChanged = {
      eventId: event.eventId,
      patient: event.patient,
      kinds: [...event.kinds],
      occurredAt: event.occurredAt,
      ...(event.origin ? { origin: event.origin } : {}),
      ...(event.changed ? { changed: [...event.changed] } : {}),
    };
    return {
      pk: eventPk(event.eventId),
      sk: `TX#${tx}`,
      tx,
      pend: tx,
      gsi1pk: `OUTBOX#${shardOf(event.eventId, this.outboxShards)}`,
      gsi1sk: `${event.occurredAt}#${event.eventId}#${tx}`,
      ev,
    };
  }

  private entriesOf(item: VersionItem, stored: Resource): IndexEntry[] {
    return indexEntries(item.rt, item.rid, item.tx, indexFacts(stored));
  }

  private async isVisible(item: { pend?: string; tx: string }): Promise<boolean> {
    return !item.pend || this.txLog.isCommitted(item.tx);
  }

  private decode(item: VersionItem): StoredResource {
    return JSON.parse(decodeBody(item)) as StoredResource;
  }

  private async getVersion(pk: string, version: number): Promise<VersionItem | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.table, Key: { pk, sk: versionSk(version) }, ConsistentRead: true }));
    return out.Item as VersionItem | undefined;
  }

  private async topVersion(pk: string): Promise<VersionItem | undefined> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :v)',
        ExpressionAttributeValues: { ':pk': pk, ':v': 'V#' },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return out.Items?.[0] as VersionItem | undefined;
  }

  private versionItems(pk: string, pageSize?: number): AsyncGenerator<VersionItem> {
    return queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :v)',
      ExpressionAttributeValues: { ':pk': pk, ':v': 'V#' },
      ScanIndexForward: false,
      ConsistentRead: true,
      ...(pageSize ? { Limit: pageSize } : {}),
    }) as AsyncGenerator<unknown> as AsyncGenerator<VersionItem>;
  }

  private async currentVersion(type: string, id: string): Promise<VersionItem | undefined> {
    // At most the newest item is uncommitted, so this usually ends within the first page of two.
    for await (const item of this.versionItems(resourcePk(type, id), 2)) {
      if (await this.isVisible(item)) return item;
    }
    return undefined;
  }

  private async loadHit(query: StoreQuery, hit: Hit): Promise<StoredResource | undefined> {
    const current = await this.currentVersion(query.resourceType, hit.id);
    // An entry of an older, newer-but-uncommitted or aborted version names another transaction.
    if (!current || (hit.tx !== undefined && current.tx !== hit.tx)) return undefined;
    const resource = this.decode(current);
    return matchesQuery(resource, query) ? resource : undefined;
  }

  private hitStream(plan: SearchPlan, after: string | undefined, descending = false): HitStream {
    if (plan.kind === 'ids') {
      const ids = plan.ids.filter((id) => after === undefined || id > after);
      let index = 0;
      return {
        next: (): Promise<Hit | undefined> => {
          const id = ids[index++];
          return Promise.resolve(id === undefined ? undefined : { key: id, id });
        },
        hasMore: (): Promise<boolean> => Promise.resolve(index < ids.length),
      };
    }
    const bounds = sortKeyBounds(plan.range, after, descending);
    if (!bounds) return { next: () => Promise.resolve(undefined), hasMore: () => Promise.resolve(false) };
    const readers = plan.partitions.map(
      (pk) =>
        new SortedReader(
          this.client,
          (start, pageSize) => ({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
            ExpressionAttributeValues: { ':pk': pk, ':lo': bounds.lo, ':hi': bounds.hi },
            ConsistentRead: true,
            Limit: pageSize,
            ...(descending ? { ScanIndexForward: false } : {}),
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
          (item) => item.sk as string,
        ),
    );
    const merged = new MergedStream(readers, descending);
    return {
      next: async (): Promise<Hit | undefined> => {
        const item = await merged.nextItem();
        if (!item) return undefined;
        const key = item.sk as string;
        return { key, ...parseIndexSk(key) };
      },
      hasMore: () => merged.hasMore(),
    };
  }
}

interface HitStream {
  next(): Promise<Hit | undefined>;
  hasMore(): Promise<boolean>;
}

/** Reads one partition (base table or GSI) in sort key order, a page at a time. */
class SortedReader {
  private buffer: Item[] = [];
  private start: Item | undefined;
  private done = false;
  private pageSize = 25;

  public constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly input: (start: Item | undefined, pageSize: number) => QueryCommandInput,
    public readonly keyOf: (item: Item) => string,
  ) {}

  public async peek(): Promise<Item | undefined> {
    while (this.buffer.length === 0 && !this.done) {
      const out = await this.client.send(new QueryCommand(this.input(this.start, this.pageSize)));
      this.buffer = out.Items ?? [];
      this.start = out.LastEvaluatedKey;
      this.done = this.start === undefined;
      // Later pages are larger: a long scan through stale or filtered entries costs fewer round trips.
      this.pageSize = Math.min(this.pageSize * 2, 500);
    }
    return this.buffer[0];
  }

  public shift(): void {
    this.buffer.shift();
  }
}

/** Merges sorted readers into one sorted stream; items with equal keys (one resource under two codings) come once. */
class MergedStream {
  public constructor(
    private readonly readers: readonly SortedReader[],
    /** The readers run in descending key order: take the highest head first. */
    private readonly descending = false,
  ) {}

  public async nextItem(): Promise<Item | undefined> {
    const heads = await Promise.all(this.readers.map((r) => r.peek()));
    let min: string | undefined;
    let minItem: Item | undefined;
    for (const [i, head] of heads.entries()) {
      if (!head) continue;
      const key = this.readers[i]!.keyOf(head);
      if (min === undefined || (this.descending ? key > min : key < min)) {
        min = key;
        minItem = head;
      }
    }
    if (min === undefined) return undefined;
    for (const [i, head] of heads.entries()) if (head && this.readers[i]!.keyOf(head) === min) this.readers[i]!.shift();
    return minItem;
  }

  public async hasMore(): Promise<boolean> {
    const heads = await Promise.all(this.readers.map((r) => r.peek()));
    return heads.some((h) => h !== undefined);
  }
}

/**
 * Whether a plan's index entries are the query's matches (up to stale entries of the resource's own
 * versions): no filter of the query is left to check on the resource itself.
 * @param query - The search.
 * @param plan - Its plan (`planSearch`).
 * @returns True when the index alone answers the query.
 */
function planIsExact(query: StoreQuery, plan: SearchPlan): boolean {
  const given = {
    ids: query.ids !== undefined,
    patient: query.patient !== undefined,
    code: (query.codes?.length ?? 0) > 0,
    profile: query.profile !== undefined,
    status: query.statuses !== undefined,
    target: query.targets !== undefined,
    date: query.date !== undefined,
    lastUpdated: query.lastUpdated !== undefined,
  };
  // Filters no index holds: always checked on the resource.
  if ((query.andCodes ?? []).some((codes) => codes.length > 0) || (query.andProfiles?.length ?? 0) > 0) return false;
  const covered = plan.kind === 'ids' ? ['ids'] : plan.name === 'lastUpdated' ? ['lastUpdated'] : [plan.name, 'date'];
  return Object.entries(given).every(([filter, isGiven]) => !isGiven || covered.includes(filter));
}

function encodeCursor(plan: string, key: string): string {
  return Buffer.from(JSON.stringify({ p: plan, k: key }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, plan: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { p?: unknown; k?: unknown };
    if (parsed.p === plan && typeof parsed.k === 'string') return parsed.k;
  } catch {
    // fall through
  }
  throw new InvalidQueryError('The cursor does not belong to this search');
}

/** FNV-1a: spreads event ids over outbox shards. */
function shardOf(eventId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < eventId.length; i++) {
    hash ^= eventId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}
