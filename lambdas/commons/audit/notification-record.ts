import { z } from 'zod';

/** A FHIR id. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** `Type/id` of a study resource (ids are keyed hashes or pseudonyms: no hospital identifier). */
const STUDY_REF = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/;

/** The notification types the notifier sends (Backport IG, `subscription-notification-type`). */
export const NOTIFICATION_TYPES = ['handshake', 'heartbeat', 'event-notification'] as const;

/** Why an attempt got no HTTP answer: the subscription's timeout passed, or the connection failed. */
export const NO_ANSWER = ['timeout', 'network'] as const;

/**
 * One outbound notification attempt (a POST of a handshake, heartbeat or event-notification Bundle to
 * a subscriber's rest-hook endpoint), as the notifier saw it: what goes on the audit queue beside the
 * API access records, and what the AuditEvent is built from (notification-balp.ts). It names the
 * subscriber by its Subscription and the endpoint's host alone: never the endpoint's path or query,
 * never the channel headers (they may carry the subscriber's bearer token).
 */
export const notificationAccessSchema = z.object({
  kind: z.literal('notification'),
  /**
   * The attempt's key: subscription, notification type, event numbers, attempt ordinal and start
   * instant. The AuditEvent's id derives from it, so a record delivered twice (a replayed log line, a
   * retried queue flush) writes nothing new, while each retry is an attempt, and an access, of its own.
   */
  requestId: z.string().min(1).max(128),
  /** When the attempt ended (ISO 8601 instant). */
  recorded: z.iso.datetime({ offset: true }),
  /** The Subscription's id. */
  subscription: z.string().regex(FHIR_ID),
  /** The SubscriptionTopic canonical. */
  topic: z.string().min(1).max(512),
  type: z.enum(NOTIFICATION_TYPES),
  /** Backport IG payload content: how much of each focus the Bundle carried. */
  content: z.enum(['empty', 'id-only', 'full-resource']),
  /** `events-since-subscription-start` as sent. */
  eventsSinceStart: z.number().int().min(0),
  /** The events the Bundle carried: number, focus (`Type/id`) and the focus version. */
  events: z.array(z.object({ number: z.number().int().min(1), focus: z.string().regex(STUDY_REF), focusVersion: z.string().regex(FHIR_ID) })).max(100).default([]),
  /** Pseudonyms of the patients whose data the Bundle disclosed (a Patient focus; a full resource's patient references). */
  patients: z.array(z.string().regex(FHIR_ID)).max(1000).default([]),
  /** 1 for the first attempt after a success, then 2, 3... while the subscription's deliveries keep failing. */
  attempt: z.number().int().min(1),
  /** The endpoint's host (and port): where the data went, without path, query or user info. */
  endpointHost: z.string().min(1).max(256),
  /** The HTTP status the endpoint answered; absent when it did not answer. */
  status: z.number().int().min(100).max(599).optional(),
  /** Why there was no answer. */
  noAnswer: z.enum(NO_ANSWER).optional(),
  /** The notification Bundle's id (the receiver sees it: correlates the two sides' logs). */
  bundleId: z.string().regex(FHIR_ID).optional(),
  /** This server's FHIR base (the source agent and the audit source). */
  baseUrl: z.string().max(512),
});

/** One notification attempt; see {@link notificationAccessSchema}. */
export type NotificationAccess = z.infer<typeof notificationAccessSchema>;
