/**
 * The local relay never overlaps itself (issue 14): its timer fired every 5 s whether or not the last
 * drain had ended, and the ingest's own publish raced the relay for events not yet acknowledged; 60
 * events were delivered 180 times. A slow consumer must receive each event once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinInFlight, relayOutbox, singleFlight } from '../../lambdas/commons/events/relay.js';
import type { StudyDataChanged, StudyStore } from '../../lambdas/commons/store/port.js';
import { startTestApp, type TestApp } from '../support/local-app.js';
import { labBundle, printSummary } from './support.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An outbox in memory: pending until acknowledged. */
function memoryOutbox(events: StudyDataChanged[]): Pick<StudyStore, 'pendingEvents' | 'ackEvent'> & { acked: Set<string> } {
  const acked = new Set<string>();
  return {
    acked,
    pendingEvents: (limit) => Promise.resolve(events.filter((e) => !acked.has(e.eventId)).slice(0, limit)),
    ackEvent: (id) => {
      acked.add(id);
      return Promise.resolve();
    },
  };
}

const studyEvent = (i: number): StudyDataChanged => ({ eventId: `ev-${i}`, patient: `p-${i}`, kinds: ['Observation'], occurredAt: '2026-01-01T00:00:00Z' });

describe('one drain at a time', () => {
  it('a drain started while one runs joins it: a slow consumer gets each event once', async () => {
    const outbox = memoryOutbox(Array.from({ length: 6 }, (_, i) => studyEvent(i)));
    const delivered: string[] = [];
    const slow = { publish: async (batch: readonly StudyDataChanged[]) => {
      for (const e of batch) {
        await sleep(20);
        delivered.push(e.eventId);
      }
    } };
    const drain = singleFlight(() => relayOutbox(outbox as unknown as StudyStore, slow));
    // A timer faster than the drain, as the local run's 5 s timer against a slow consumer.
    const results = await Promise.all([drain(), sleep(10).then(drain), sleep(30).then(drain), sleep(60).then(drain)]);
    expect(delivered.sort()).toEqual(Array.from({ length: 6 }, (_, i) => `ev-${i}`).sort());
    expect(new Set(results).size).toBe(1);
  });

  it('without it, overlapping drains deliver events twice (the control: the test can fail)', async () => {
    const outbox = memoryOutbox(Array.from({ length: 6 }, (_, i) => studyEvent(i)));
    const delivered: string[] = [];
    const slow = { publish: async (batch: readonly StudyDataChanged[]) => {
      for (const e of batch) {
        await sleep(20);
        delivered.push(e.eventId);
      }
    } };
    const drain = () => relayOutbox(outbox as unknown as StudyStore, slow);
    await Promise.all([drain(), sleep(10).then(drain)]);
    expect(delivered.length).toBeGreaterThan(6);
  });

  it('an event already being delivered is waited for, not delivered again, and a failed delivery can be retried', async () => {
    const delivered: string[] = [];
    let fail = true;
    const port = joinInFlight({ publish: async (batch) => {
      await sleep(30);
      if (fail) throw new Error('consumer down');
      for (const e of batch) delivered.push(e.eventId);
    } });
    const both = await Promise.allSettled([port.publish([studyEvent(1)]), port.publish([studyEvent(1)])]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await Promise.all([port.publish([studyEvent(1)]), sleep(5).then(() => port.publish([studyEvent(1), studyEvent(2)]))]);
    expect(delivered.sort()).toEqual(['ev-1', 'ev-2']);
  });
});

describe('the local run with a slow consumer and a fast relay timer', () => {
  let app: TestApp;
  const deliveries = new Map<string, number>();

  beforeAll(async () => {
    app = await startTestApp({
      relayIntervalMs: 25,
      consumers: [
        async (event) => {
          deliveries.set(event.eventId, (deliveries.get(event.eventId) ?? 0) + 1);
          await sleep(150);
        },
      ],
    });
  });

  afterAll(async () => {
    printSummary('relay', { events: deliveries.size, deliveries: [...deliveries.values()].reduce((a, b) => a + b, 0) });
    await app?.close();
  });

  it('delivers every event of concurrent ingests exactly once', async () => {
    const pushed = await Promise.all(
      Array.from({ length: 6 }, (_, i) => app.fetchFhir('', { method: 'POST', body: JSON.stringify(labBundle(`relay-${i}`, 2)) })),
    );
    expect(pushed.map((p) => p.status)).toEqual(Array(6).fill(200));
    // Let the timer tick many times over the slow deliveries, then drain what is left.
    await sleep(500);
    await app.drainOutbox();
    expect(deliveries.size).toBe(6);
    expect([...deliveries.entries()].filter(([, n]) => n > 1)).toEqual([]);
  }, 60_000);
});
