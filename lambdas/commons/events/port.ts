import type { StudyDataChanged } from '../store/port.js';

/** Where "study data changed" events go after their commit: EventBridge in AWS, in-process consumers locally. */
export interface EventsPort {
  publish(events: readonly StudyDataChanged[]): Promise<void>;
}
