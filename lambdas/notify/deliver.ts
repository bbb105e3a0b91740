import type { Logger } from '@aws-lambda-powertools/logger';
import { randomUUID } from 'node:crypto';
import type { Resource, Subscription } from '@medplum/fhirtypes';
import { recordAccess } from '../commons/audit/middleware.js';
import type { AuditPort } from '../commons/audit/port.js';
import type { StoredResource, StudyStore } from '../commons/store/port.js';
import { notificationBundle, type NotificationEvent, type StatusFacts } from '../subscriptions/core/notification.js';
import { specOf, type SubscriptionSpec } from '../subscriptions/core/subscription.js';
import type { Topic } from '../subscriptions/core/topics.js';
import type { SubscriptionLedger } from '../subscriptions/ledger/port.js';
import { notificationRecordOf } from './attempt-record.js';
import type { PostOutcome, RestHook } from './rest-hook.js';

/** What delivering notifications reads and writes through. */
export interface DeliveryDeps {
  readonly store: StudyStore;
  readonly ledger: SubscriptionLedger;
  readonly topics: readonly Topic[];
  readonly post: RestHook;
  readonly logger: Logger;
  readonly now: () => Date;
  /** The first retry delay after a failure; doubled per consecutive failure, capped at an hour. */
  readonly retryBaseMs: number;
  /** Names this process's leases. */
  readonly holder: string;
  /** Where each POST's audit record goes (issue 17): a queue or a log line, never a store commit on the way. */
  readonly audit: AuditPort;
}

/** A subscription with what the notifier reads from it. */
export interface LiveSubscription {
  readonly resource: StoredResource<Subscription>;
  readonly spec: SubscriptionSpec;
}

const MAX_RETRY_MS = 3_600_000;
/** Consecutive failures after which the Subscription's status says `error` (delivery goes on retrying). */
export const ERROR_AFTER_FAILURES = 5;
const LEASE_MS = 60_000;
const BATCH = 20;
const LAST = Number.MAX_SAFE_INTEGER;
/** Statuses that receive notifications: `error` keeps being retried and turns `active` on the next success. */
const LIVE = new Set(['active', 'error']);

/**
 * The delay before the next attempt after `failures` consecutive failures: exponential backoff.
 * @param failures - Consecutive failures so far (1 after the first).
 * @param baseMs - The first delay.
 * @returns Milliseconds.
 */
export function retryDelayMs(failures: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, failures - 1), MAX_RETRY_MS);
}

/**
 * Every stored Subscription the server can still serve (its topic exists), any status.
 * @param store - The study store.
 * @param topics - The topics.
 * @returns The subscriptions.
 */
export async function subscriptionsOf(store: StudyStore, topics: readonly Topic[]): Promise<LiveSubscription[]> {
  const out: LiveSubscription[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.search({ resourceType: 'Subscription', count: 500, ...(cursor ? { cursor } : {}) });
    for (const resource of page.resources as StoredResource<Subscription>[]) {
      const spec = specOf(resource, topics);
      if (spec) out.push({ resource, spec });
    }
    cursor = page.next;
  } while (cursor);
  return out;
}

/**
 * Whether a subscription receives notifications now.
 * @param spec - The subscription.
 * @returns True for `active` and `error`.
 */
export function isLive(spec: SubscriptionSpec): boolean {
  return LIVE.has(spec.status);
}

/**
 * Changes a Subscription's status (a new version); the rest of it stays as the client sent it.
 * @param store - The study store.
 * @param subscription - The stored Subscription.
 * @param status - The new status.
 * @param error - The reason, for `error`.
 * @returns The stored version.
 */
export async function setStatus(store: StudyStore, subscription: StoredResource<Subscription>, status: Subscription['status'], error?: string): Promise<StoredResource<Subscription>> {
  const { meta, error: _previous, ...rest } = subscription;
  const [result] = await store.commit([{ ...rest, ...(meta.profile ? { meta: { profile: meta.profile } } : {}), status, ...(error ? { error } : {}) }], { atomic: true });
  if (!result || result.status === 'error') throw result?.error ?? new Error('Subscription status not stored');
  return result.resource as StoredResource<Subscription>;
}

/**
 * Delivers a subscription's recorded notifications that have not reached its endpoint, in event
 * order, one Bundle per event, under the subscription's lease (one deliverer at a time, so the order
 * holds across processes). The first failure stops the round and schedules the next attempt after an
 * exponential backoff; the next round starts again from the first undelivered event, so a receiver
 * that was down gets every notification, in order (at least once).
 * @param subscription - The stored Subscription.
 * @param deps - Ports.
 * @returns How many notifications were delivered.
 */
export async function deliverPending(subscription: StoredResource<Subscription>, deps: DeliveryDeps): Promise<number> {
  const id = subscription.id;
  // One holder per call: two calls of one process (the notifier and the timer) must not both deliver.
  const holder = `${deps.holder}/${randomUUID()}`;
  let delivered = 0;
  // Events recorded while another holder finished its round are picked up by the next round here.
  for (let round = 0; round < 3; round++) {
    if (!(await deps.ledger.acquire(id, holder, deps.now().getTime(), LEASE_MS))) return delivered;
    let stopped: boolean;
    try {
      const result = await deliverUnderLease(id, deps);
      delivered += result.delivered;
      stopped = result.stopped;
    } finally {
      await deps.ledger.release(id, holder);
    }
    if (stopped) return delivered;
    const state = await deps.ledger.state(id);
    if (!state || (await deps.ledger.events(id, state.deliveredThrough + 1, LAST, 1)).length === 0) return delivered;
  }
  return delivered;
}

async function deliverUnderLease(id: string, deps: DeliveryDeps): Promise<{ delivered: number; stopped: boolean }> {
  let subscription = await deps.store.read<Subscription>('Subscription', id);
  const spec = subscription ? specOf(subscription, deps.topics) : undefined;
  if (!subscription || !spec || !isLive(spec)) return { delivered: 0, stopped: true };
  let delivered = 0;
  for (;;) {
    const state = await deps.ledger.state(id);
    const now = deps.now();
    if (!state || (state.nextAttemptAt !== undefined && state.nextAttemptAt > now.toISOString())) return { delivered, stopped: true };
    const pending = await deps.ledger.events(id, state.deliveredThrough + 1, LAST, BATCH);
    if (pending.length === 0) return { delivered, stopped: false };
    const total = await deps.ledger.lastNumber(id);
    let failures = state.failures;
    for (const event of pending) {
      const facts: StatusFacts = { subscriptionId: id, status: 'active', topic: spec.topic, type: 'event-notification', eventsSinceStart: total, events: [event], base: state.base, content: spec.content };
      const resources = spec.content === 'full-resource' ? await focusResources(deps.store, [event]) : new Map<string, Resource>();
      const outcome = await send(spec, facts, resources, failures + 1, deps);
      const at = deps.now();
      if (!outcome.ok) {
        failures++;
        await deps.ledger.failed(id, failures, new Date(at.getTime() + retryDelayMs(failures, deps.retryBaseMs)).toISOString(), outcome.error);
        deps.logger.warn('Notification not delivered', { subscription: id, event: event.number, failures, error: outcome.error });
        if (failures >= ERROR_AFTER_FAILURES && subscription.status === 'active') {
          await setStatus(deps.store, subscription, 'error', `Delivery failing since ${failures} attempts (${outcome.error})`);
        }
        return { delivered, stopped: true };
      }
      await deps.ledger.delivered(id, event.number, at.toISOString());
      failures = 0;
      delivered++;
      if (subscription.status === 'error') {
        subscription = await setStatus(deps.store, subscription, 'active');
      }
    }
  }
}

/**
 * POSTs one notification Bundle and records the attempt in the audit trail, whatever its outcome: one
 * record per POST (issue 17, BALP disclosure; lambdas/commons/audit/notification-balp.ts). The record
 * is handed to the audit port right after the answer, before the ledger is touched, so a failure
 * afterwards cannot lose it; the port only enqueues (locally) or writes a log line (AWS), and a port
 * that refuses leaves the record in the function's log (recordAccess), where the audit function finds it too.
 * @param spec - The subscription (endpoint, headers, timeout).
 * @param facts - What the Bundle's status says.
 * @param resources - Focus resources to send (full-resource).
 * @param attempt - 1 after a success, then one more per consecutive failure.
 * @param deps - Ports.
 * @returns The POST's outcome.
 */
async function send(spec: SubscriptionSpec, facts: StatusFacts, resources: ReadonlyMap<string, Resource>, attempt: number, deps: DeliveryDeps): Promise<PostOutcome> {
  const startedAt = deps.now();
  const bundle = notificationBundle(facts, resources, startedAt);
  const outcome = await deps.post(spec.endpoint, spec.headers, bundle, spec.timeout);
  const record = notificationRecordOf({ facts, endpoint: spec.endpoint, attempt, startedAt, endedAt: deps.now(), bundle, resources, outcome });
  await recordAccess(record, 'POST', [deps.audit], deps.logger);
  return outcome;
}

/**
 * The focus resources of events at the versions the events were about (full-resource payloads).
 * @param store - The study store.
 * @param events - The events.
 * @returns Resources by `Type/id/version`.
 */
export async function focusResources(store: StudyStore, events: readonly NotificationEvent[]): Promise<Map<string, Resource>> {
  const out = new Map<string, Resource>();
  for (const event of events) {
    const [type, id] = event.focus.split('/');
    if (!type || !id) continue;
    const resource = await store.vread(type as Resource['resourceType'], id, event.focusVersion);
    if (resource) out.set(`${event.focus}/${event.focusVersion}`, resource);
  }
  return out;
}

/**
 * Sends one handshake or heartbeat (no event number) under the subscription's lease.
 * @param live - The subscription.
 * @param type - `handshake` (status requested) or `heartbeat`.
 * @param deps - Ports.
 * @returns Whether the endpoint took it (undefined: another deliverer holds the lease).
 */
export async function sendStatusOnly(live: LiveSubscription, type: 'handshake' | 'heartbeat', deps: DeliveryDeps): Promise<boolean | undefined> {
  const id = live.spec.id;
  const holder = `${deps.holder}/${randomUUID()}`;
  if (!(await deps.ledger.acquire(id, holder, deps.now().getTime(), LEASE_MS))) return undefined;
  try {
    const state = await deps.ledger.state(id);
    if (!state) return false;
    const facts: StatusFacts = {
      subscriptionId: id,
      status: type === 'handshake' ? 'requested' : 'active',
      topic: live.spec.topic,
      type,
      eventsSinceStart: await deps.ledger.lastNumber(id),
      base: state.base,
      content: live.spec.content,
    };
    const outcome = await send(live.spec, facts, new Map(), state.failures + 1, deps);
    const at = deps.now();
    if (outcome.ok) {
      await deps.ledger.delivered(id, undefined, at.toISOString());
      return true;
    }
    const failures = state.failures + 1;
    await deps.ledger.failed(id, failures, new Date(at.getTime() + retryDelayMs(failures, deps.retryBaseMs)).toISOString(), outcome.error);
    deps.logger.warn(`Subscription ${type} not delivered`, { subscription: id, error: outcome.error });
    return false;
  } finally {
    await deps.ledger.release(id, holder);
  }
}

/**
 * The timer's work (every minute in AWS, every few seconds locally): retries what is due, and sends
 * a heartbeat to every active subscription whose heartbeat period passed since anything last reached it.
 * @param deps - Ports.
 * @returns Counts.
 */
export async function tickSubscriptions(deps: DeliveryDeps): Promise<{ delivered: number; heartbeats: number }> {
  let delivered = 0;
  let heartbeats = 0;
  for (const live of await subscriptionsOf(deps.store, deps.topics)) {
    if (!isLive(live.spec)) continue;
    delivered += await deliverPending(live.resource, deps);
    const period = live.spec.heartbeatPeriod;
    if (period === undefined || live.spec.status !== 'active') continue;
    const state = await deps.ledger.state(live.spec.id);
    const now = deps.now();
    if (!state || (state.nextAttemptAt !== undefined && state.nextAttemptAt > now.toISOString())) continue;
    if (now.getTime() - Date.parse(state.lastSentAt) >= period * 1000 && (await sendStatusOnly(live, 'heartbeat', deps))) heartbeats++;
  }
  return { delivered, heartbeats };
}
