import type { Observation } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStudyStore } from '../../../../lambdas/commons/store/dynamo-study-store.js';
import { StoreConflictError } from '../../../../lambdas/commons/store/errors.js';
import type { StudyDataChanged, WriteResult } from '../../../../lambdas/commons/store/port.js';
import { startDynalite, type LocalDynamo } from '../../../support/dynalite.js';
import { faultyClient, SimulatedCrashError, type Call } from '../../../support/fault-injection.js';
import { ids, LOINC, observation, patient, scanAll } from './fixtures.js';

let local: LocalDynamo;
const warnings: string[] = [];
const logger = { warn: (message: string): void => void warnings.push(message) };

beforeAll(async () => {
  local = await startDynalite();
});

afterAll(async () => {
  await local.stop();
});

/** A store on the real client. */
const healthyStore = (options: { clock?: () => Date; txTimeoutMs?: number } = {}): DynamoStudyStore =>
  new DynamoStudyStore({ client: local.documentClient, tableName: local.tables.study, logger, ...options });

/** 1,000 Observations for one patient, each with two codings. */
function thousand(prefix: string, patientId: string): (Observation & { id: string })[] {
  return Array.from({ length: 1_000 }, (_, i) =>
    observation(`${prefix}-${String(i).padStart(4, '0')}`, patientId, `2023-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`, [
      { system: LOINC, code: `${prefix}-code` },
      { system: 'urn:local', code: `${prefix}-${i % 7}` },
    ]),
  );
}

function eventsFor(prefix: string, patientId: string, n = 3): StudyDataChanged[] {
  return Array.from({ length: n }, (_, i) => ({
    eventId: `${prefix}-event-${i}`,
    patient: patientId,
    kinds: ['Observation'],
    occurredAt: `2023-01-01T00:00:0${i}Z`,
  }));
}

async function searchAll(store: DynamoStudyStore, patientId: string): Promise<string[]> {
  const found: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.search({ resourceType: 'Observation', patient: patientId, count: 400, ...(cursor ? { cursor } : {}) });
    found.push(...ids(page.resources));
    cursor = page.next;
  } while (cursor);
  return found;
}

async function itemsMentioning(text: string): Promise<Record<string, unknown>[]> {
  const items = await scanAll(local.documentClient, local.tables.study);
  return items.filter((item) => JSON.stringify([item.pk, item.sk, item.ev ?? null]).includes(text));
}

describe('DynamoStudyStore: atomic commits', () => {
  it('lands a 1,000-resource transaction whole, with its events', async () => {
    // Prepare
    const store = healthyStore();
    const resources = thousand('big', 'S-THOUSAND001');
    const events = eventsFor('big', 'S-THOUSAND001');

    // Act
    const started = performance.now();
    const results = await store.commit(resources, { atomic: true, events });
    const elapsed = performance.now() - started;
    console.log(`1,000-entry atomic commit on dynalite: ${elapsed.toFixed(0)} ms`);

    // Assess
    expect(results.every((r) => r.status === 'created')).toBe(true);
    expect(new Set(results.map((r: WriteResult) => (r.status === 'error' ? '' : r.resource.meta.lastUpdated))).size).toBe(1);
    expect((await searchAll(store, 'S-THOUSAND001')).sort()).toEqual(resources.map((r) => r.id).sort());
    const byCode = await store.search({ resourceType: 'Observation', codes: [{ system: 'urn:local', code: 'big-3' }], count: 1_000 });
    expect(byCode.resources).toHaveLength(143);
    expect((await store.read('Observation', 'big-0999'))?.meta.versionId).toBe('1');
    expect((await store.pendingEvents(100)).map((e) => e.eventId)).toEqual(expect.arrayContaining(events.map((e) => e.eventId)));
    expect(await itemsMentioning('"pend"')).toEqual([]);

    // Re-committing the same content is a no-op
    const again = await store.commit(resources, { atomic: true });
    expect(again.every((r) => r.status === 'unchanged')).toBe(true);
  });

  // 1,000 resources committed, crashed, read back and swept or rolled forward: on two shared cores
  // this can take longer than the default 30 s, hence the explicit timeouts below.
  it.each([
    // Write calls of one commit: 1 the record and manifest, 2 the lock, then versions (40 calls), index entries, heads.
    ['while writing versions', 6],
    ['while writing index entries', 200],
  ])('leaves nothing visible after a crash %s, and the sweep removes it', { timeout: 120_000 }, async (_phase, crashAt) => {
    // Prepare
    const prefix = `crash${crashAt}`;
    const patientId = `S-CRASH${crashAt}`;
    const resources = thousand(prefix, patientId);
    const events = eventsFor(prefix, patientId);
    const faulty = faultyClient(local.clientConfig, { crashBefore: (call: Call) => call.writeNumber === crashAt });
    const doomed = new DynamoStudyStore({ client: faulty.client, tableName: local.tables.study, logger });

    // Act
    await expect(doomed.commit(resources, { atomic: true, events })).rejects.toThrow(SimulatedCrashError);

    // Assess: readers see nothing
    const reader = healthyStore();
    expect(faulty.crashed()).toBe(true);
    expect(await itemsMentioning(`R#Observation#${prefix}`)).not.toEqual([]);
    expect(await reader.read('Observation', `${prefix}-0000`)).toBeUndefined();
    expect(await reader.read('Observation', `${prefix}-0999`)).toBeUndefined();
    expect(await reader.history('Observation', `${prefix}-0001`)).toEqual([]);
    expect(await searchAll(reader, patientId)).toEqual([]);
    expect((await reader.search({ resourceType: 'Observation', codes: [{ code: `${prefix}-code` }], count: 10 })).resources).toEqual([]);
    expect((await reader.pendingEvents(1_000)).filter((e) => e.eventId.startsWith(prefix))).toEqual([]);

    // Act: a sweep before the timeout leaves the transaction alone, one after it removes everything
    expect((await reader.sweep()).inFlight).toBeGreaterThanOrEqual(1);
    const later = healthyStore({ clock: () => new Date(Date.now() + 10 * 60_000) });
    const report = await later.sweep();

    // Assess
    expect(report.cleaned).toBe(1);
    expect(await itemsMentioning(prefix)).toEqual([]);
    expect(await itemsMentioning('OPENTX')).toEqual([]);
    const [retry] = await reader.commit([resources[0]!], { atomic: true });
    expect(retry?.status === 'created' && retry.resource.meta.versionId).toBe('1');
  });

  it.each([
    ['right after the commit record', 0],
    ['halfway through the roll-forward', 20],
  ])('shows everything after a crash %s, and roll-forward completes it', { timeout: 120_000 }, async (_phase, extraWrites) => {
    // Prepare
    const prefix = `rf${extraWrites}`;
    const patientId = `S-ROLLFWD${extraWrites}`;
    const resources = thousand(prefix, patientId);
    await healthyStore().commit(resources.slice(0, 100), { atomic: true });
    const changed = resources.map((r) => ({ ...r, status: 'amended' as const }));
    let tx = '';
    let commitWrite = Number.POSITIVE_INFINITY;
    const isCommit = (call: Call): boolean => (call.input.UpdateExpression as string | undefined)?.includes(':committed') === true;
    const faulty = faultyClient(local.clientConfig, {
      crashAfter: (call) => {
        if (!isCommit(call)) return false;
        tx = String((call.input.Key as { pk: string }).pk).slice(3);
        commitWrite = call.writeNumber;
        return extraWrites === 0;
      },
      crashBefore: (call) => call.writeNumber === commitWrite + extraWrites,
    });
    const store = new DynamoStudyStore({ client: faulty.client, tableName: local.tables.study, logger });

    // Act
    const results = await store.commit(changed, { atomic: true, events: eventsFor(prefix, patientId) });

    // Assess: committed, so the caller is told so and readers see all of it
    expect(faulty.crashed()).toBe(true);
    expect(warnings.some((w) => w.includes(tx))).toBe(true);
    expect(results.filter((r) => r.status === 'updated')).toHaveLength(100);
    expect(results.filter((r) => r.status === 'created')).toHaveLength(900);
    const reader = healthyStore();
    expect((await reader.read<Observation>('Observation', `${prefix}-0050`))?.status).toBe('amended');
    expect((await reader.read<Observation>('Observation', `${prefix}-0050`))?.meta.versionId).toBe('2');
    expect((await reader.history('Observation', `${prefix}-0050`)).map((o) => o.meta.versionId)).toEqual(['2', '1']);
    expect((await searchAll(reader, patientId)).sort()).toEqual(resources.map((r) => r.id).sort());
    expect((await reader.pendingEvents(1_000)).filter((e) => e.eventId.startsWith(prefix))).toHaveLength(3);
    expect((await itemsMentioning(`R#Observation#${prefix}`)).length).toBeGreaterThan(0);

    // Act: roll forward (twice: it is idempotent), then a sweep finds nothing left to do
    expect(await reader.rollForward(tx)).toBe(true);
    expect(await reader.rollForward(tx)).toBe(true);
    const report = await reader.sweep();

    // Assess
    expect(report.rolledForward + report.cleaned).toBe(0);
    const items = await itemsMentioning(prefix);
    expect(items.filter((i) => 'pend' in i)).toEqual([]);
    // Superseded index entries of version 1 are gone: one patient entry per resource remains.
    expect(items.filter((i) => String(i.pk) === `IX#Observation#PT#${patientId}`)).toHaveLength(1_000);
    expect((await searchAll(reader, patientId)).sort()).toEqual(resources.map((r) => r.id).sort());
  });

  it('keeps showing the committed version while a newer one is uncommitted', async () => {
    // Prepare
    const store = healthyStore();
    await store.commit([observation('shadow-1', 'S-SHADOW0001', '2021-01-01', [{ system: LOINC, code: 'before' }])], { atomic: true });
    const faulty = faultyClient(local.clientConfig, {
      crashBefore: (call) => (call.input.UpdateExpression as string | undefined)?.includes(':committed') === true,
    });
    const doomed = new DynamoStudyStore({ client: faulty.client, tableName: local.tables.study, logger });

    // Act
    await expect(
      doomed.commit([observation('shadow-1', 'S-SHADOW0002', '2022-02-02', [{ system: LOINC, code: 'after' }])], { atomic: true }),
    ).rejects.toThrow(SimulatedCrashError);

    // Assess
    const search = async (query: object): Promise<string[]> => ids((await store.search({ resourceType: 'Observation', count: 10, ...query })).resources);
    expect((await store.read('Observation', 'shadow-1'))?.meta.versionId).toBe('1');
    expect(await store.history('Observation', 'shadow-1')).toHaveLength(1);
    expect(await search({ codes: [{ code: 'before' }] })).toEqual(['shadow-1']);
    expect(await search({ codes: [{ code: 'after' }] })).toEqual([]);
    expect(await search({ patient: 'S-SHADOW0002' })).toEqual([]);
    expect(await search({ patient: 'S-SHADOW0001' })).toEqual(['shadow-1']);
    expect(await store.vread('Observation', 'shadow-1', '2')).toBeUndefined();
  });

  it('retries unprocessed BatchWriteItem requests until all land', async () => {
    // Prepare: the first calls of every BatchWriteItem only take 5 items and return the rest as unprocessed
    const faulty = faultyClient(local.clientConfig, {});
    let deferred = 0;
    faulty.client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { RequestItems?: Record<string, unknown[]> };
        if (context.commandName !== 'BatchWriteItemCommand' || deferred >= 20 || !input.RequestItems) return next(args);
        const [table, requests] = Object.entries(input.RequestItems)[0]!;
        if (requests.length <= 5) return next(args);
        deferred++;
        const result = await next({ ...args, input: { ...input, RequestItems: { [table]: requests.slice(0, 5) } } });
        (result.output as { UnprocessedItems?: unknown }).UnprocessedItems = { [table]: requests.slice(5) };
        return result;
      },
      { step: 'initialize', name: 'throttle' },
    );
    const store = new DynamoStudyStore({ client: faulty.client, tableName: local.tables.study, logger });
    const resources = Array.from({ length: 60 }, (_, i) => observation(`thr-${i}`, 'S-THROTTLED01', '2023-05-05'));

    // Act
    await store.commit(resources, { atomic: true });

    // Assess
    expect(deferred).toBe(20);
    expect(await searchAll(healthyStore(), 'S-THROTTLED01')).toHaveLength(60);
  });
});

describe('DynamoStudyStore: concurrency', () => {
  it('gives concurrent commits to one resource distinct versions', async () => {
    // Prepare
    const stores = Array.from({ length: 10 }, () => healthyStore());

    // Act
    const results = await Promise.all(
      stores.map((store, i) => store.commit([patient('contended-1', { birthDate: `19${50 + i}-01-01` })], { atomic: i % 2 === 0 })),
    );

    // Assess
    const versions = results.map(([r]) => (r?.status === 'error' ? r.error.message : r?.resource.meta.versionId));
    expect(versions.sort((a, b) => Number(a) - Number(b))).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    const history = await healthyStore().history('Patient', 'contended-1');
    expect(history.map((p) => p.meta.versionId)).toEqual(['10', '9', '8', '7', '6', '5', '4', '3', '2', '1']);
  });

  it('never deadlocks two transactions that take the same resources in opposite order', async () => {
    // Prepare
    const a = Array.from({ length: 20 }, (_, i) => observation(`dl-${i}`, 'S-DEADLOCK01', '2023-02-02'));
    const b = [...a].reverse().map((o) => ({ ...o, status: 'amended' as const }));

    // Act
    const outcomes = await Promise.allSettled([healthyStore().commit(a, { atomic: true }), healthyStore().commit(b, { atomic: true })]);

    // Assess: at least one lands; a loser fails with a retryable conflict and leaves nothing behind
    const landed = outcomes.filter((o) => o.status === 'fulfilled');
    expect(landed.length).toBeGreaterThanOrEqual(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(StoreConflictError);
    const history = await healthyStore().history('Observation', 'dl-0');
    expect(history).toHaveLength(landed.length);
    expect(await itemsMentioning('OPENTX')).toEqual([]);
  });

  it('lets a writer take over a resource from a transaction that died holding it', async () => {
    // Prepare: a transaction dies after claiming its first version slot
    const faulty = faultyClient(local.clientConfig, { crashBefore: (call) => call.writeNumber === 3 });
    const doomed = new DynamoStudyStore({ client: faulty.client, tableName: local.tables.study, logger, concurrency: 1 });
    await expect(doomed.commit([patient('orphan-1'), patient('orphan-2')], { atomic: true })).rejects.toThrow(SimulatedCrashError);
    const later = healthyStore({ clock: () => new Date(Date.now() + 10 * 60_000) });

    // Act
    const [result] = await later.commit([patient('orphan-1', { gender: 'unknown' })], { atomic: false });

    // Assess
    expect(result?.status === 'created' && result.resource.meta.versionId).toBe('1');
    expect((await later.sweep()).cleaned).toBeGreaterThanOrEqual(1);
    expect(await later.history('Patient', 'orphan-1')).toHaveLength(1);
    expect((await itemsMentioning('orphan-')).filter((i) => 'pend' in i)).toEqual([]);
  });
});

describe('DynamoStudyStore: outbox', () => {
  it('publishes events of committed commits only, oldest first, until acknowledged', async () => {
    // Prepare
    const store = healthyStore();
    const events: StudyDataChanged[] = [
      { eventId: 'ob-2', patient: 'S-OUTBOX00001', kinds: ['Observation'], occurredAt: '2020-01-01T00:00:02Z' },
      { eventId: 'ob-1', patient: 'S-OUTBOX00001', kinds: ['Observation', 'Condition'], occurredAt: '2020-01-01T00:00:01Z' },
    ];
    const faulty = faultyClient(local.clientConfig, { crashBefore: (call) => (call.input.UpdateExpression as string | undefined)?.includes(':committed') === true });
    const doomed = new DynamoStudyStore({ client: faulty.client, tableName: local.tables.study, logger });

    // Act
    await expect(
      doomed.commit([observation('ob-lost', 'S-OUTBOX00002', '2020-01-01')], {
        atomic: true,
        events: [{ eventId: 'ob-lost', patient: 'S-OUTBOX00002', kinds: ['Observation'], occurredAt: '2019-01-01T00:00:00Z' }],
      }),
    ).rejects.toThrow(SimulatedCrashError);
    await store.commit([observation('ob-kept', 'S-OUTBOX00001', '2020-01-01')], { atomic: true, events });
    const pending = (await store.pendingEvents(1_000)).filter((e) => e.eventId.startsWith('ob-'));

    // Assess
    expect(pending).toEqual([events[1], events[0]]);
    await store.ackEvent('ob-1');
    expect((await store.pendingEvents(1_000)).map((e) => e.eventId).filter((id) => id.startsWith('ob-'))).toEqual(['ob-2']);
    await store.ackEvent('ob-2');
    expect((await store.pendingEvents(1_000)).map((e) => e.eventId).filter((id) => id.startsWith('ob-'))).toEqual([]);
  });

  it('commits the events of a batch after its entries', async () => {
    // Prepare
    const store = healthyStore();

    // Act
    await store.commit([observation('obb-1', 'S-OUTBOX00003', '2020-01-01')], {
      atomic: false,
      events: [{ eventId: 'obb-event', patient: 'S-OUTBOX00003', kinds: ['Observation'], occurredAt: '2020-02-02T00:00:00Z' }],
    });

    // Assess
    expect((await store.pendingEvents(1_000)).map((e) => e.eventId)).toContain('obb-event');
    await store.ackEvent('obb-event');
  });
});
