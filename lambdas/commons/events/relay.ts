import type { StudyDataChanged, StudyStore } from '../store/port.js';
import type { EventsPort } from './port.js';

/**
 * Publishes events that the outbox still holds and acknowledges them once published. The ingest
 * publishes right after its commit; this relay is what makes a crash between commit and publish
 * lose nothing (run on a schedule in AWS, on a timer locally).
 * @param store - The store holding the outbox.
 * @param events - Where to publish.
 * @param batchSize - How many events to take per round.
 * @returns How many events were published.
 */
export async function relayOutbox(store: StudyStore, events: EventsPort, batchSize = 100): Promise<number> {
  let total = 0;
  for (;;) {
    const pending = await store.pendingEvents(batchSize);
    if (pending.length === 0) {
      return total;
    }
    await publishAndAck(store, events, pending);
    total += pending.length;
    if (pending.length < batchSize) {
      return total;
    }
  }
}

/**
 * Publishes events, then acknowledges them; an event is acknowledged only after it was published, so
 * a failure leaves it in the outbox for the relay (consumers de-duplicate by `eventId`).
 * @param store - The store holding the outbox.
 * @param events - Where to publish.
 * @param batch - The events.
 */
export async function publishAndAck(store: StudyStore, events: EventsPort, batch: readonly StudyDataChanged[]): Promise<void> {
  if (batch.length === 0) {
    return;
  }
  await events.publish(batch);
  await Promise.all(batch.map((e) => store.ackEvent(e.eventId)));
}

/**
 * Makes an async job single-flight: a call while a run is under way joins that run instead of
 * starting another. The local relay's timer fires every few seconds whatever the last drain is
 * doing; overlapping drains delivered 60 events 180 times and grew the local server to 9 GB.
 * @param job - The job.
 * @returns The job, never running twice at once.
 */
export function singleFlight<T>(job: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => {
    running ??= job().finally(() => {
      running = undefined;
    });
    return running;
  };
}

/**
 * An events port that never delivers one event twice at the same time: publishing an event whose
 * delivery is under way waits for that delivery (and fails with it) instead of starting another,
 * and an event delivered in the last `rememberMs` is not delivered again. In the local run the
 * ingest publishes right after its commit while the relay may find the same event still
 * unacknowledged in the outbox (until the ingest's ack lands); with slow consumers both delivered it.
 * @param port - The port that delivers.
 * @param rememberMs - How long a delivered event counts as delivered (default one minute).
 * @returns The port with in-flight de-duplication.
 */
export function joinInFlight(port: EventsPort, rememberMs = 60_000): EventsPort {
  const deliveries = new Map<string, Promise<void>>();
  const forget = (ids: readonly string[], delivery: Promise<void>): void => {
    for (const id of ids) if (deliveries.get(id) === delivery) deliveries.delete(id);
  };
  return {
    async publish(batch: readonly StudyDataChanged[]): Promise<void> {
      const waits: Promise<void>[] = [];
      const fresh: StudyDataChanged[] = [];
      for (const event of batch) {
        const known = deliveries.get(event.eventId);
        if (known) waits.push(known);
        else if (!fresh.some((e) => e.eventId === event.eventId)) fresh.push(event);
      }
      if (fresh.length > 0) {
        const ids = fresh.map((e) => e.eventId);
        const delivery = port.publish(fresh);
        for (const id of ids) deliveries.set(id, delivery);
        waits.push(
          delivery.then(
            () => {
              setTimeout(() => forget(ids, delivery), rememberMs).unref();
            },
            (err: unknown) => {
              forget(ids, delivery);
              throw err;
            },
          ),
        );
      }
      await Promise.all(waits);
    },
  };
}
