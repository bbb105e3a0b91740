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
  batchGetAll,
  batchWriteAll,
  isConditionalCheckFailed,
  itemKey,
  mapLimit,
  queryAll,
  sleep,
  type Item,
  type WriteRequest,
} from './dynamo-io.js';
import { InvalidQueryError, InvalidResourceError, StoreConflictError } from './errors.js';
import { indexEntries, indexFacts, indexOrder, matchesQuery, parseIndexSk, planSearch, sortKeyBounds, type IndexEntry, type SearchPlan } from './index-keys.js';
import type { CommitOptions, SearchPage, StoredResource, StoreQuery, StudyDataChanged, StudyStore, WriteResult } from './port.js';
import { assertStorable, contentHash, decodeBody, encodeBody, type EncodedBody } from './resource-codec.js';
import { CURRENT_PREFIX, currentSk, HEAD_SK, homeOf, isSubjectHome, LOCK_SK, resourcePk, subjectPk, versionSk } from './home-keys.js';
import { STUDY_GSI } from './tables.js';
import { TxLog } from './tx-log.js';

/** Settings of `DynamoStudyStore`. Nothing is read from the environment. */
export interface DynamoStudyStoreOptions {
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
export interface SweepReport {
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
  /** The version's home partition (see `home-keys.ts`). */
  hm: string;
}

/**
 * A resource's head: partition `R#{type}#{id}`, sort key `H`. Written only by the holder of the
 * home's lock, and settled (rolled forward or restored) before anyone else takes that lock, so a
 * commit that holds the lock reads it as the truth.
 */
interface HeadItem {
  pk: string;
  sk: string;
  v: number;
  h: string;
  tx: string;
  lu: string;
  hm: string;
}

/**
 * The current version of a compartment resource in its subject's partition: `S#{patient}` /
 * `C#{type}#{id}`, with its body. `pend` as on a version item; `mv` names a transaction that moves the
 * resource into another compartment (once it commits, this copy no longer counts).
 */
interface CurrentItem extends EncodedBody {
  pk: string;
  sk: string;
  rt: string;
  rid: string;
  v: number;
  tx: string;
  pend?: string;
  mv?: string;
  lu: string;
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
  /** Home partition of the new content. */
  readonly home: string;
}

interface TxContext {
  readonly tx: string;
  readonly startedAt: string;
  /** Wall-clock ms after which waiting for a lock gives up. */
  readonly deadline: number;
  /** Sort keys of the manifest items written so far. */
  readonly manifest: string[];
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

const eventPk = (eventId: string): string => `EV#${eventId}`;
const errorResult = (err: unknown): WriteResult => ({ status: 'error', error: err instanceof Error ? err : new Error(String(err)) });

/**
 * The study store on one DynamoDB table, with atomic multi-item commits that need neither
 * TransactWriteItems nor its 100-action limit, and one commit per bundle.
 *
 * Layout (see `home-keys.ts`): versions, heads and index entries per resource; a subject's current
 * versions with their bodies in its own partition, so `loadSubject` is one paged Query.
 *
 * Protocol (per commit): (1) write a pending transaction record and a manifest of what it may
 * write, including the home partitions it will lock; (2) lock each home (one conditional write per
 * home, in key order; a subject's visit bundle takes two: the subject and its Provenance); (3) read
 * the heads in one BatchGetItem and the versions they name in another: unchanged content makes no
 * version; (4) batch-write the new versions, index entries and outbox events, then the heads and
 * current versions (all marked `pend`); (5) commit with one conditional write of the record
 * (`pending` → `committed`); (6) roll forward: drop the markers, delete the superseded version's
 * index entries, finalise the record, release the locks. Readers show a marked item only if its
 * transaction committed, so everything becomes visible at step 5 at once. A crash before 5 leaves
 * only invisible items, which `sweep` (or a writer the lock blocks) removes once the transaction is
 * older than `txTimeoutMs`; a crash after 5 is completed by `rollForward`/`sweep`.
 *
 * @example
 * const store = new DynamoStudyStore({ client: new DynamoDBClient({}), tableName: config.studyTable });
 * const [result] = await store.commit([observation], { atomic: true, events });
 */
export class DynamoStudyStore implements StudyStore {
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
  public constructor(options: DynamoStudyStoreOptions) {
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
   * `ResourceTooLargeError`, `InvalidResourceError`, or the SDK's error). Batch: the valid entries
   * commit together in one transaction (a resource named twice goes in a second one), with the
   * events; an entry that cannot be stored is that entry's `{ status: 'error' }`. When the joint
   * commit fails, the entries are retried one by one so that each failure is its entry's own, and
   * the events then commit after them unless every entry failed.
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
      return this.commitTx(entries, events);
    }
    return this.commitBatch(resources, events);
  }

  private async commitBatch(resources: readonly (Resource & { id: string })[], events: readonly StudyDataChanged[]): Promise<WriteResult[]> {
    if (resources.length === 0) {
      if (events.length > 0) await this.commitTx([], events);
      return [];
    }
    const results = new Array<WriteResult | undefined>(resources.length);
    const rounds: { index: number; entry: PreparedEntry }[][] = [];
    const seen = new Map<string, number>();
    for (const [index, resource] of resources.entries()) {
      try {
        const entry = this.prepare(resource);
        const round = seen.get(entry.ref) ?? 0;
        seen.set(entry.ref, round + 1);
        (rounds[round] ??= []).push({ index, entry });
      } catch (err) {
        results[index] = errorResult(err);
      }
    }
    let eventsDone = events.length === 0;
    for (const round of rounds) {
      const withEvents = !eventsDone;
      try {
        const written = await this.commitTx(
          round.map((r) => r.entry),
          withEvents ? events : [],
        );
        for (const [i, r] of round.entries()) results[r.index] = written[i];
        eventsDone = true;
      } catch {
        // The joint commit left nothing behind: entry by entry, each failure is then its own.
        const single = await mapLimit(round, this.concurrency, async ({ entry }): Promise<WriteResult> => {
          try {
            const [result] = await this.commitTx([entry], []);
            if (!result) throw new Error('Commit returned no result');
            return result;
          } catch (err) {
            return errorResult(err);
          }
        });
        for (const [i, r] of round.entries()) results[r.index] = single[i];
      }
    }
    if (!eventsDone && results.some((r) => r !== undefined && r.status !== 'error')) await this.commitTx([], events);
    return results.map((r) => r ?? errorResult(new Error('Entry was not written')));
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
   * The current versions of every resource in a subject's patient compartment (the Patient itself
   * included): one paged Query of the subject's partition. A copy whose newer version is not
   * committed yet (or was aborted) is answered from the resource's committed version instead.
   * @param patient - The pseudonymous Patient id.
   * @returns The resources, in no particular order.
   */
  public async loadSubject(patient: string): Promise<StoredResource[]> {
    const home = subjectPk(patient);
    const items: CurrentItem[] = [];
    for await (const item of queryAll(this.client, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)',
      ExpressionAttributeValues: { ':pk': home, ':c': CURRENT_PREFIX },
      ConsistentRead: true,
    })) {
      items.push(item as unknown as CurrentItem);
    }
    const txs = new Set<string>();
    for (const item of items) {
      if (item.pend) txs.add(item.pend);
      if (item.mv) txs.add(item.mv);
    }
    const committed = new Map(await mapLimit([...txs], this.concurrency, async (tx) => [tx, await this.txLog.isCommitted(tx)] as const));
    const loaded = await mapLimit(items, this.concurrency, async (item): Promise<StoredResource | undefined> => {
      if (item.mv && committed.get(item.mv)) return undefined;
      if (!item.pend || committed.get(item.pend)) return JSON.parse(decodeBody(item)) as StoredResource;
      // A newer version not committed (yet): the committed one, if it still belongs here.
      const current = await this.read(item.rt as Resource['resourceType'], item.rid);
      return current && homeOf(current) === home ? current : undefined;
    });
    return loaded.filter((r): r is StoredResource => r !== undefined);
  }

  /**
   * Completes a committed transaction: clears pending markers, deletes the index entries of the
   * versions it superseded, finalises the record and releases its locks. Idempotent; safe to run
   * again.
   * @param tx - Transaction id.
   * @returns False when the transaction is not committed.
   */
  public async rollForward(tx: string): Promise<boolean> {
    const record = await this.txLog.record(tx);
    if (record?.status !== 'committed') return false;
    if (record.finalised) return true;
    const manifest = await this.txLog.manifest(tx);
    const versions = record.versions ?? [];
    const keys: { pk: string; sk: string }[] = [];
    for (const [i, ref] of manifest.resources.entries()) {
      const version = versions[i] ?? 0;
      if (version === 0) continue;
      const pk = refPk(ref);
      keys.push({ pk, sk: versionSk(version) });
      if (version > 1) keys.push({ pk, sk: versionSk(version - 1) });
    }
    const got = await batchGetAll(this.client, this.table, keys, this.concurrency);
    const claimed = manifest.resources.flatMap((ref, i) => {
      const version = versions[i] ?? 0;
      const pk = refPk(ref);
      const item = version > 0 ? (got.get(itemKey(pk, versionSk(version))) as VersionItem | undefined) : undefined;
      if (item?.tx !== tx) return [];
      const prev = version > 1 ? (got.get(itemKey(pk, versionSk(version - 1))) as VersionItem | undefined) : undefined;
      return [{ item, prev }];
    });
    await this.finishCommitted(tx, claimed, manifest.events, manifest.homes ?? []);
    return true;
  }

  /**
   * Recovery, run on a schedule: rolls committed transactions forward (once their own roll-forward
   * has had `lockWaitMs` to finish), aborts pending ones older than `txTimeoutMs` and removes
   * everything they wrote. Finds them with a GSI query, never a scan.
   * @returns What it did.
   */
  public async sweep(): Promise<SweepReport> {
    const report: SweepReport = { rolledForward: 0, cleaned: 0, inFlight: 0, failed: 0 };
    for await (const tx of this.txLog.openTransactions()) {
      try {
        const record = await this.txLog.record(tx);
        if (!record) continue;
        let status = record.status;
        const now = this.clock().getTime();
        if (status === 'pending') {
          if (now - Date.parse(record.startedAt) < this.txTimeoutMs) {
            report.inFlight++;
            continue;
          }
          status = await this.txLog.abort(tx);
        } else if (status === 'committed' && !record.finalised && now - Date.parse(record.committedAt ?? record.startedAt) < this.lockWaitMs) {
          report.inFlight++;
          continue;
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
    return { resource, type: resource.resourceType, id: resource.id, ref, hash: contentHash(resource), home: homeOf(resource) };
  }

  private async commitTx(entries: readonly PreparedEntry[], events: readonly StudyDataChanged[]): Promise<WriteResult[]> {
    const tx = TxLog.newId();
    const startedAt = this.clock().toISOString();
    const homes = [...new Set(entries.map((e) => e.home))].sort();
    const manifest = await this.txLog.begin(tx, startedAt, { resources: entries.map((e) => e.ref), events: events.map((e) => e.eventId), homes });
    const context: TxContext = { tx, startedAt, deadline: Date.now() + this.lockWaitMs, manifest };
    let claims: Claim[] | undefined;
    let held: readonly string[] = homes;
    try {
      const locked = await this.lockHomes(context, entries, homes);
      held = locked.held;
      const heads = [...locked.heads.values()];
      const versions = await batchGetAll(
        this.client,
        this.table,
        heads.map((h) => ({ pk: h.pk, sk: versionSk(h.v) })),
        this.concurrency,
      );
      claims = entries.map((entry) => this.claim(context, entry, locked.heads.get(entry.ref), versions));
      await this.writePending(tx, claims, events);
      const status = await this.txLog.commit(
        tx,
        claims.map((c) => (c.kind === 'claimed' ? c.item.v : 0)),
      );
      if (status !== 'committed') throw new StoreConflictError(`Transaction ${tx} was aborted (it ran longer than ${this.txTimeoutMs} ms)`);
    } catch (err) {
      // The commit write may have landed even though its answer was lost: then the data is in.
      if ((await this.abandon(tx)) !== 'committed' || claims === undefined) throw err;
    }
    const claimed = claims.filter((c): c is Claimed => c.kind === 'claimed');
    try {
      await this.finishCommitted(
        tx,
        claimed,
        events.map((e) => e.eventId),
        held,
        context.manifest,
      );
    } catch (err) {
      this.logger.warn(`Roll-forward of committed transaction ${tx} failed; the sweep will complete it`, err);
    }
    return claims.map((claim) =>
      claim.kind === 'unchanged'
        ? { status: 'unchanged', resource: this.decode(claim.current) }
        : { status: claim.prev ? 'updated' : 'created', resource: claim.stored },
    );
  }

  /**
   * Takes the locks of the homes the entries write, in key order (so commits never wait for each
   * other in a cycle), then reads the entries' heads. A head in a home not yet locked (the resource
   * moves to another compartment) adds that home, taken out of order under wait-die.
   */
  private async lockHomes(
    context: TxContext,
    entries: readonly PreparedEntry[],
    homes: readonly string[],
  ): Promise<{ heads: Map<string, HeadItem>; held: string[] }> {
    const held: string[] = [];
    let wanted = homes;
    let ordered = true;
    for (;;) {
      for (const home of wanted) {
        await this.lock(context, home, ordered);
        held.push(home);
      }
      const got = await batchGetAll(
        this.client,
        this.table,
        entries.map((e) => ({ pk: resourcePk(e.type, e.id), sk: HEAD_SK })),
        this.concurrency,
      );
      const heads = new Map<string, HeadItem>();
      for (const entry of entries) {
        const head = got.get(itemKey(resourcePk(entry.type, entry.id), HEAD_SK)) as HeadItem | undefined;
        if (head) heads.set(entry.ref, head);
      }
      const extra = [...new Set([...heads.values()].map((h) => h.hm))].filter((h) => !held.includes(h)).sort();
      if (extra.length === 0) return { heads, held };
      context.manifest.push(...(await this.txLog.addHomes(context.tx, extra)));
      wanted = extra;
      ordered = false;
    }
  }

  /** Takes one home's lock: a conditional write, and when another transaction holds it, `resolveLock`. */
  private async lock(context: TxContext, home: string, ordered: boolean): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: home, sk: LOCK_SK },
            UpdateExpression: 'SET lk = :tx, lt = :t0',
            ConditionExpression: 'attribute_not_exists(lk) OR lk = :tx',
            ExpressionAttributeValues: { ':tx': context.tx, ':t0': context.startedAt },
          }),
        );
        return;
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
      }
      const out = await this.client.send(new GetCommand({ TableName: this.table, Key: { pk: home, sk: LOCK_SK }, ConsistentRead: true }));
      const holder = out.Item?.lk as string | undefined;
      if (holder === undefined || holder === context.tx) continue;
      await this.resolveLock(context, home, holder, attempt, ordered);
    }
  }

  /**
   * Deals with a lock another transaction holds: an aborted (or vanished) holder is cleaned up and
   * its lock released; a committed one is rolled forward once its own roll-forward had `lockWaitMs`
   * (earlier, its late writes could overwrite ours); a pending one past `txTimeoutMs` is aborted;
   * otherwise the caller waits, up to `lockWaitMs` (wait-die for a lock taken out of order).
   */
  private async resolveLock(context: TxContext, home: string, holder: string, attempt: number, ordered: boolean): Promise<void> {
    const record = await this.txLog.record(holder);
    const now = this.clock().getTime();
    if (!record || record.status === 'aborted') {
      await this.cleanupAborted(holder, false);
      await this.releaseLocks(holder, [home]);
      return;
    }
    if (record.status === 'committed') {
      if (record.finalised || now - Date.parse(record.committedAt ?? record.startedAt) > this.lockWaitMs) {
        await this.rollForward(holder);
        await this.releaseLocks(holder, [home]);
        return;
      }
    } else if (now - Date.parse(record.startedAt) > this.txTimeoutMs) {
      await this.txLog.abort(holder);
      return;
    } else {
      // Wait-die for a lock taken out of key order: a younger transaction gives up at once, so two
      // transactions that each hold what the other needs cannot wait for each other.
      const younger = context.startedAt > record.startedAt || (context.startedAt === record.startedAt && context.tx > holder);
      if (!ordered && younger) throw new StoreConflictError('A resource of this commit is being written by another transaction');
    }
    if (Date.now() > context.deadline) throw new StoreConflictError(`A resource of this commit stayed locked by transaction ${holder} for ${this.lockWaitMs} ms`);
    await sleep(backoffMs(attempt, 10, 250));
  }

  private async releaseLocks(tx: string, homes: readonly string[]): Promise<void> {
    await mapLimit(homes, this.concurrency, async (home) => {
      try {
        await this.client.send(
          new DeleteCommand({
            TableName: this.table,
            Key: { pk: home, sk: LOCK_SK },
            ConditionExpression: 'lk = :tx',
            ExpressionAttributeValues: { ':tx': tx },
          }),
        );
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
      }
    });
  }

  /** The next version of one resource, or its content found unchanged (the lock is held: the head is settled). */
  private claim(context: TxContext, entry: PreparedEntry, head: HeadItem | undefined, versions: ReadonlyMap<string, Item>): Claim {
    const pk = resourcePk(entry.type, entry.id);
    const prev = head ? (versions.get(itemKey(pk, versionSk(head.v))) as VersionItem | undefined) : undefined;
    if (head && !prev) throw new StoreConflictError(`${entry.ref}: version ${head.v} is missing`);
    if (head && prev && head.h === entry.hash) return { kind: 'unchanged', current: prev };
    const version = (head?.v ?? 0) + 1;
    let lastUpdated = context.startedAt;
    // lastUpdated never goes back within one resource's history, even when transactions overlap.
    if (head && lastUpdated <= head.lu) lastUpdated = new Date(Date.parse(head.lu) + 1).toISOString();
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
      hm: entry.home,
      ...encodeBody(entry.ref, JSON.stringify(stored)),
    };
    return { kind: 'claimed', item, stored, prev };
  }

  /**
   * The uncommitted writes, in two rounds: versions, index entries and events first; heads and
   * current versions after, so a head or current copy naming this transaction always has its
   * version item (which `restore` works from).
   */
  private async writePending(tx: string, claims: readonly Claim[], events: readonly StudyDataChanged[]): Promise<void> {
    const first: WriteRequest[] = [];
    const second: WriteRequest[] = [];
    const moved: { pk: string; sk: string }[] = [];
    for (const claim of claims) {
      if (claim.kind !== 'claimed') continue;
      const { item, prev } = claim;
      first.push({ PutRequest: { Item: { ...item } } });
      const head: HeadItem = { pk: item.pk, sk: HEAD_SK, v: item.v, h: item.h, tx, lu: item.lu, hm: item.hm };
      second.push({ PutRequest: { Item: { ...head } } });
      if (isSubjectHome(item.hm)) second.push({ PutRequest: { Item: { ...currentOf(item, true) } } });
      if (prev && prev.hm !== item.hm && isSubjectHome(prev.hm)) moved.push({ pk: prev.hm, sk: currentSk(prev.rt, prev.rid) });
    }
    for (const claim of claims) {
      if (claim.kind !== 'claimed') continue;
      for (const key of this.entriesOf(claim.item, claim.stored)) first.push({ PutRequest: { Item: { ...key } } });
    }
    for (const event of events) first.push({ PutRequest: { Item: { ...this.eventItem(tx, event) } } });
    await batchWriteAll(this.client, this.table, first, this.concurrency);
    await batchWriteAll(this.client, this.table, second, this.concurrency);
    await mapLimit(moved, this.concurrency, async (key) => {
      await this.client.send(new UpdateCommand({ TableName: this.table, Key: key, UpdateExpression: 'SET mv = :tx', ExpressionAttributeValues: { ':tx': tx } }));
    });
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

  /**
   * Removes what an aborted transaction wrote and restores the heads and current versions it
   * changed, then releases its locks. `finalise: false` (a writer taking over a lock) leaves the
   * record open for the sweep, which runs this again and finds nothing left.
   */
  private async cleanupAborted(tx: string, finalise = true): Promise<void> {
    const manifest = await this.txLog.manifest(tx);
    if (await this.holdsAll(tx, manifest.homes ?? [])) {
      await this.restoreLocked(tx, manifest.resources);
    } else {
      await mapLimit(manifest.resources, this.concurrency, (ref) => this.restore(tx, ref));
    }
    await batchWriteAll(
      this.client,
      this.table,
      manifest.events.map((eventId) => ({ DeleteRequest: { Key: { pk: eventPk(eventId), sk: `TX#${tx}` } } })),
      this.concurrency,
    );
    if (finalise) await this.txLog.finalise(tx);
    await this.releaseLocks(tx, manifest.homes ?? []);
  }

  /** Whether the transaction still holds every one of these locks (then nobody else writes there). */
  private async holdsAll(tx: string, homes: readonly string[]): Promise<boolean> {
    const locks = await batchGetAll(
      this.client,
      this.table,
      homes.map((pk) => ({ pk, sk: LOCK_SK })),
      this.concurrency,
    );
    return homes.every((pk) => locks.get(itemKey(pk, LOCK_SK))?.lk === tx);
  }

  /**
   * `restore` for every resource of an aborted transaction that still holds its locks, in batches:
   * the heads and the versions they can name read with BatchGetItem, the restored heads and current
   * copies and the index deletions written blind (the locks keep everyone else out), and the
   * uncommitted versions deleted last, so a crash halfway can be retried from them.
   */
  private async restoreLocked(tx: string, refs: readonly string[]): Promise<void> {
    const heads = await batchGetAll(
      this.client,
      this.table,
      refs.map((ref) => ({ pk: refPk(ref), sk: HEAD_SK })),
      this.concurrency,
    );
    const headOf = (ref: string): HeadItem | undefined => heads.get(itemKey(refPk(ref), HEAD_SK)) as HeadItem | undefined;
    // The version this transaction wrote is the head's (when its head write landed) or the one after it.
    const candidates = refs.flatMap((ref) => {
      const head = headOf(ref);
      const numbers = head ? [head.v - 1, head.v, head.v + 1].filter((v) => v > 0) : [1];
      return numbers.map((v) => ({ pk: refPk(ref), sk: versionSk(v) }));
    });
    const versions = await batchGetAll(this.client, this.table, candidates, this.concurrency);
    const restores: WriteRequest[] = [];
    const removals: WriteRequest[] = [];
    for (const ref of refs) {
      const pk = refPk(ref);
      const head = headOf(ref);
      const at = (v: number): VersionItem | undefined => (v > 0 ? (versions.get(itemKey(pk, versionSk(v))) as VersionItem | undefined) : undefined);
      const mine = [at((head?.v ?? 0) + 1), head ? at(head.v) : undefined].find((item) => item?.tx === tx && item.pend !== undefined);
      if (!mine && head?.tx !== tx) continue;
      const base = at((mine?.v ?? head?.v ?? 1) - 1);
      restores.push(
        base
          ? { PutRequest: { Item: { pk, sk: HEAD_SK, v: base.v, h: base.h, tx: base.tx, lu: base.lu, hm: base.hm } } }
          : { DeleteRequest: { Key: { pk, sk: HEAD_SK } } },
      );
      if (base && isSubjectHome(base.hm)) restores.push({ PutRequest: { Item: { ...currentOf(base, false) } } });
      if (mine && isSubjectHome(mine.hm) && mine.hm !== base?.hm) restores.push({ DeleteRequest: { Key: { pk: mine.hm, sk: currentSk(mine.rt, mine.rid) } } });
      if (mine) {
        for (const key of this.entriesOf(mine, this.decode(mine))) restores.push({ DeleteRequest: { Key: { ...key } } });
        removals.push({ DeleteRequest: { Key: { pk: mine.pk, sk: mine.sk } } });
      }
    }
    await batchWriteAll(this.client, this.table, restores, this.concurrency);
    await batchWriteAll(this.client, this.table, removals, this.concurrency);
  }

  /**
   * Undoes an aborted transaction's writes to one resource: its head and current copies go back to
   * the committed version (every write conditional on still naming the transaction), and its
   * uncommitted version goes last, so a crash halfway can be retried from it.
   */
  private async restore(tx: string, ref: string): Promise<void> {
    const pk = refPk(ref);
    const top = await this.topVersion(pk);
    let mine: VersionItem | undefined;
    let base: VersionItem | undefined;
    if (top && top.tx === tx && top.pend) {
      mine = top;
      base = top.v > 1 ? await this.getVersion(pk, top.v - 1) : undefined;
    } else if (top?.pend && !(await this.txLog.isCommitted(top.tx))) {
      // Another transaction's version is on top: it took the lock after this one was cleaned up.
      return;
    } else {
      base = top;
    }
    const head = (await this.client.send(new GetCommand({ TableName: this.table, Key: { pk, sk: HEAD_SK }, ConsistentRead: true }))).Item as HeadItem | undefined;
    const guarded = { ConditionExpression: 'tx = :tx', ExpressionAttributeValues: { ':tx': tx } };
    const conditional = async (command: PutCommand | DeleteCommand | UpdateCommand): Promise<void> => {
      try {
        await this.client.send(command as PutCommand);
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
      }
    };
    if (head?.tx === tx) {
      await conditional(
        base
          ? new PutCommand({ TableName: this.table, Item: { pk, sk: HEAD_SK, v: base.v, h: base.h, tx: base.tx, lu: base.lu, hm: base.hm }, ...guarded })
          : new DeleteCommand({ TableName: this.table, Key: { pk, sk: HEAD_SK }, ...guarded }),
      );
    }
    const homes = new Set([mine?.hm, base?.hm, head?.hm].filter((h): h is string => h !== undefined && isSubjectHome(h)));
    const [type = '', id = ''] = ref.split('/');
    for (const home of homes) {
      const key = { pk: home, sk: currentSk(type, id) };
      const current = (await this.client.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }))).Item as CurrentItem | undefined;
      if (current?.tx === tx) {
        await conditional(
          base && base.hm === home
            ? new PutCommand({ TableName: this.table, Item: { ...currentOf(base, false) }, ...guarded })
            : new DeleteCommand({ TableName: this.table, Key: key, ...guarded }),
        );
      } else if (current?.mv === tx) {
        await conditional(
          new UpdateCommand({ TableName: this.table, Key: key, UpdateExpression: 'REMOVE mv', ConditionExpression: 'mv = :tx', ExpressionAttributeValues: { ':tx': tx } }),
        );
      }
    }
    if (mine) await this.removeVersion(mine);
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
    homes: readonly string[],
    manifestSortKeys?: readonly string[],
  ): Promise<void> {
    const writes: WriteRequest[] = [];
    for (const { item, prev } of claimed) {
      const finished: Item = { ...item };
      delete finished.pend;
      // Committed versions never change again, so a blind re-put without the marker is safe and batchable;
      // the current copy is ours alone while the lock is held.
      writes.push({ PutRequest: { Item: finished } });
      if (isSubjectHome(item.hm)) writes.push({ PutRequest: { Item: { ...currentOf(item, false) } } });
      if (prev) for (const key of this.entriesOf(prev, this.decode(prev))) writes.push({ DeleteRequest: { Key: { ...key } } });
      if (prev && prev.hm !== item.hm && isSubjectHome(prev.hm)) writes.push({ DeleteRequest: { Key: { pk: prev.hm, sk: currentSk(prev.rt, prev.rid) } } });
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
    // Finalised before the locks go: a lock of a finalised transaction is released by whoever meets it.
    await this.txLog.finalise(tx, manifestSortKeys);
    await this.releaseLocks(tx, homes);
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

/** The partition of a manifest reference `Type/id`. */
function refPk(ref: string): string {
  const [type = '', id = ''] = ref.split('/');
  return resourcePk(type, id);
}

/** The current copy of a version in its subject's partition (its home), marked pending or not. */
function currentOf(item: VersionItem, pending: boolean): CurrentItem {
  return {
    pk: item.hm,
    sk: currentSk(item.rt, item.rid),
    rt: item.rt,
    rid: item.rid,
    v: item.v,
    tx: item.tx,
    lu: item.lu,
    h: item.h,
    ...(item.b !== undefined ? { b: item.b } : {}),
    ...(item.bz !== undefined ? { bz: item.bz } : {}),
    ...(pending ? { pend: item.tx } : {}),
  };
}
