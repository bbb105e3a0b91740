import type { NotificationEvent } from '../core/notification.js';

/** Delivery state of one subscription. */
export interface DeliveryState {
  /** The API base URL the subscription was created on (fullUrls and references of its notifications). */
  readonly base: string;
  /** Every event up to this number was delivered (in order). */
  readonly deliveredThrough: number;
  /** When anything (handshake, heartbeat, event) last reached the endpoint, or creation. */
  readonly lastSentAt: string;
  /** Consecutive failed attempts since the last success. */
  readonly failures: number;
  /** Not before this instant (exponential backoff after a failure). */
  readonly nextAttemptAt?: string;
  /** The last failure, as the layer saw it (status code or error class, never a body). */
  readonly lastError?: string;
}

/**
 * The subscriptions' own ledger (its own table): per subscription, gap-free event numbers, the
 * record of each notification (what `$events` answers), and the delivery state.
 */
export interface SubscriptionLedger {
  /** Creates the delivery state of a new subscription (idempotent). */
  open(subscriptionId: string, base: string, now: string): Promise<void>;
  state(subscriptionId: string): Promise<DeliveryState | undefined>;
  /**
   * Records an event under the next number: numbers are claimed by a conditional write of the
   * record itself, so they are strictly increasing with no gap. A key already recorded (a redelivered
   * study event) records nothing and answers undefined.
   */
  record(subscriptionId: string, dedupeKey: string, event: Omit<NotificationEvent, 'number'>): Promise<NotificationEvent | undefined>;
  /** The highest number so far (0: none). */
  lastNumber(subscriptionId: string): Promise<number>;
  /** Recorded events from `from` to `to` inclusive, ascending, at most `limit`. */
  events(subscriptionId: string, from: number, to: number, limit: number): Promise<NotificationEvent[]>;
  /** Takes the subscription's delivery lease (one deliverer at a time keeps the order); false when another holds it. */
  acquire(subscriptionId: string, holder: string, now: number, leaseMs: number): Promise<boolean>;
  release(subscriptionId: string, holder: string): Promise<void>;
  /** Delivered through `number` (or a handshake/heartbeat when undefined) at `at`: failures reset. */
  delivered(subscriptionId: string, number: number | undefined, at: string): Promise<void>;
  failed(subscriptionId: string, failures: number, nextAttemptAt: string, error: string): Promise<void>;
}
