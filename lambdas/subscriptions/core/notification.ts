import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { BACKPORT, type PayloadContent } from './subscription.js';

/** The R4 SubscriptionStatus (a Parameters) and notification Bundle profiles of the Backport IG. */
export const STATUS_PROFILE = `${BACKPORT}/StructureDefinition/backport-subscription-status-r4`;
export const NOTIFICATION_PROFILE = `${BACKPORT}/StructureDefinition/backport-subscription-notification-r4`;

/** R4B/R5 `subscription-notification-type`. */
export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

/** One recorded event of a subscription, as `$events` and notifications report it. */
export interface NotificationEvent {
  /** Per subscription, from 1, no gaps. */
  readonly number: number;
  readonly timestamp: string;
  /** `Type/id` of the focus. */
  readonly focus: string;
  /** The focus version the event was about (full-resource sends that version). */
  readonly focusVersion: string;
}

/** What a SubscriptionStatus says. */
export interface StatusFacts {
  readonly subscriptionId: string;
  readonly status: string;
  readonly topic: string;
  readonly type: NotificationType;
  /** Events generated since the subscription started (not counting handshakes and heartbeats). */
  readonly eventsSinceStart: number;
  readonly events?: readonly NotificationEvent[];
  /** An error to report (for example the last delivery failure). */
  readonly error?: string;
  /** The API base URL, for references and fullUrls. */
  readonly base: string;
  /** Whether to name the topic (IG: SHOULD NOT with empty payloads). */
  readonly content: PayloadContent;
}

/**
 * The status Parameters of the Backport IG (R4: `backport-subscription-status-r4`): subscription,
 * topic, status, type, events-since-subscription-start and one notification-event per event
 * (event-number, timestamp, focus unless the payload is empty). Numbers are strings, as the IG's
 * R4 form has them (R5's integer64 has no R4 type).
 * @param facts - What to say.
 * @returns The Parameters.
 */
export function statusParameters(facts: StatusFacts): Parameters {
  const parameter: ParametersParameter[] = [
    { name: 'subscription', valueReference: { reference: `${facts.base}/Subscription/${facts.subscriptionId}` } },
    ...(facts.content === 'empty' ? [] : [{ name: 'topic', valueCanonical: facts.topic }]),
    { name: 'status', valueCode: facts.status },
    { name: 'type', valueCode: facts.type },
    { name: 'events-since-subscription-start', valueString: String(facts.eventsSinceStart) },
    ...(facts.events ?? []).map((e) => ({
      name: 'notification-event',
      part: [
        { name: 'event-number', valueString: String(e.number) },
        { name: 'timestamp', valueInstant: e.timestamp },
        ...(facts.content === 'empty' ? [] : [{ name: 'focus', valueReference: { reference: `${facts.base}/${e.focus}` } }]),
      ],
    })),
    ...(facts.error ? [{ name: 'error', valueCodeableConcept: { text: facts.error } }] : []),
  ];
  return { resourceType: 'Parameters', id: randomUUID(), meta: { profile: [STATUS_PROFILE] }, parameter };
}

/**
 * A notification Bundle (R4: `backport-subscription-notification-r4`): type `history`, the status
 * Parameters first, then per event its focus: `id-only` an entry with the focus fullUrl and its
 * request/response and no resource, `full-resource` the same with the resource at the version the
 * event was about, `empty` nothing.
 * @param facts - The status.
 * @param resources - Focus resources by `Type/id/version` (full-resource only).
 * @param now - The bundle timestamp.
 * @returns The Bundle.
 */
export function notificationBundle(facts: StatusFacts, resources: ReadonlyMap<string, Resource>, now: Date): Bundle {
  const status = statusParameters(facts);
  const focusEntries: BundleEntry[] =
    facts.content === 'empty'
      ? []
      : (facts.events ?? []).map((e) => {
          const created = e.focusVersion === '1';
          const resource = facts.content === 'full-resource' ? resources.get(`${e.focus}/${e.focusVersion}`) : undefined;
          return {
            fullUrl: `${facts.base}/${e.focus}`,
            ...(resource ? { resource } : {}),
            request: { method: created ? 'POST' : 'PUT', url: created ? (e.focus.split('/')[0] ?? e.focus) : e.focus },
            response: { status: created ? '201' : '200', etag: `W/"${e.focusVersion}"` },
          };
        });
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { profile: [NOTIFICATION_PROFILE] },
    type: 'history',
    timestamp: now.toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:${status.id ?? randomUUID()}`,
        resource: status,
        request: { method: 'GET', url: `${facts.base}/Subscription/${facts.subscriptionId}/$status` },
        response: { status: '200' },
      },
      ...focusEntries,
    ],
  };
}

/**
 * `$status` (Backport IG `backport-subscription-status`): a `searchset` Bundle of status Parameters.
 * @param facts - One status per subscription.
 * @param now - The bundle timestamp.
 * @returns The Bundle.
 */
export function statusBundle(facts: readonly StatusFacts[], now: Date): Bundle {
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'searchset',
    timestamp: now.toISOString(),
    total: facts.length,
    ...(facts.length > 0
      ? {
          entry: facts.map((f) => {
            const status = statusParameters(f);
            return { fullUrl: `urn:uuid:${status.id ?? randomUUID()}`, resource: status, search: { mode: 'match' as const } };
          }),
        }
      : {}),
  };
}
