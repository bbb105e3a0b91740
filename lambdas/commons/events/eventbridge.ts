import type { EventBridgeClient} from '@aws-sdk/client-eventbridge';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { StudyDataChanged } from '../store/port.js';
import type { EventsPort } from './port.js';

/** The EventBridge `source` and `detail-type` of study events; rules match on these. */
export const EVENT_SOURCE = 'belimumab-sle.ingest';
export const STUDY_DATA_CHANGED = 'StudyDataChanged';

/** PutEvents takes at most 10 entries a call. */
const PUT_EVENTS_MAX = 10;

/** Publishes "study data changed" to an EventBridge bus. The detail holds the pseudonym only. */
export class EventBridgeEvents implements EventsPort {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(events: readonly StudyDataChanged[]): Promise<void> {
    for (let i = 0; i < events.length; i += PUT_EVENTS_MAX) {
      const chunk = events.slice(i, i + PUT_EVENTS_MAX);
      const result = await this.client.send(
        new PutEventsCommand({
          Entries: chunk.map((e) => ({ EventBusName: this.busName, Source: EVENT_SOURCE, DetailType: STUDY_DATA_CHANGED, Detail: JSON.stringify(e) })),
        }),
      );
      if ((result.FailedEntryCount ?? 0) > 0) {
        // Nothing is acknowledged, so the outbox relay publishes the whole chunk again; consumers de-duplicate.
        throw new Error(`EventBridge refused ${result.FailedEntryCount} of ${chunk.length} events`);
      }
    }
  }
}
