import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { NotificationAccess } from '../commons/audit/notification-record.js';
import type { StatusFacts } from '../subscriptions/core/notification.js';
import type { PostOutcome } from './rest-hook.js';

/** What one POST of a notification was: for its audit record. */
export interface Attempt {
  /** What the Bundle's status said (subscription, topic, type, events). */
  readonly facts: StatusFacts;
  /** The channel endpoint: only its host enters the record. */
  readonly endpoint: string;
  /** 1 after a success, then one more per consecutive failure of the subscription's deliveries. */
  readonly attempt: number;
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly bundle: Bundle;
  /** The focus resources sent (full-resource), by `Type/id/version`. */
  readonly resources: ReadonlyMap<string, Resource>;
  readonly outcome: PostOutcome;
}

const PATIENT_REF = /"reference":"Patient\/([A-Za-z0-9\-.]{1,64})"/g;

/** The endpoint's host and port: never its path or query (a webhook URL may carry a secret), nor user info. */
function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Pseudonyms of the patients whose data the full resources sent disclosed (study data holds no other patient ids). */
function patientsOf(resources: ReadonlyMap<string, Resource>): string[] {
  const out = new Set<string>();
  for (const resource of resources.values()) {
    if (resource.resourceType === 'Patient' && resource.id) out.add(resource.id);
    for (const m of JSON.stringify(resource).matchAll(PATIENT_REF)) if (m[1]) out.add(m[1]);
  }
  return [...out];
}

/**
 * The audit record of one notification attempt (lambdas/commons/audit/notification-record.ts). Its
 * key is the attempt's facts (subscription, type, event numbers, attempt ordinal, start instant):
 * the same attempt recorded twice is one AuditEvent, each retry is one of its own. No header of the
 * channel, no endpoint path, no answer of the receiver enters it.
 * @param a - The attempt.
 * @returns The record.
 */
export function notificationRecordOf(a: Attempt): NotificationAccess {
  const events = a.facts.events ?? [];
  const numbers = events.length === 0 ? '-' : events.length === 1 ? String(events[0]?.number) : `${events[0]?.number}-${events.at(-1)?.number}`;
  const status = a.outcome.status;
  const noAnswer = a.outcome.ok ? undefined : a.outcome.noAnswer;
  return {
    kind: 'notification',
    requestId: `notify:${a.facts.subscriptionId}:${a.facts.type}:${numbers}:${a.attempt}:${a.startedAt.getTime()}`,
    recorded: a.endedAt.toISOString(),
    subscription: a.facts.subscriptionId,
    topic: a.facts.topic,
    // Only handshakes, heartbeats and event-notifications are POSTed (query-* answer $status and $events).
    type: a.facts.type as NotificationAccess['type'],
    content: a.facts.content,
    eventsSinceStart: a.facts.eventsSinceStart,
    events: events.map((e) => ({ number: e.number, focus: e.focus, focusVersion: e.focusVersion })),
    patients: a.facts.content === 'full-resource' ? patientsOf(a.resources) : [],
    attempt: a.attempt,
    endpointHost: hostOf(a.endpoint),
    ...(status !== undefined ? { status } : {}),
    ...(status === undefined ? { noAnswer: noAnswer ?? 'network' } : {}),
    ...(a.bundle.id ? { bundleId: a.bundle.id } : {}),
    baseUrl: a.facts.base,
  };
}
