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
