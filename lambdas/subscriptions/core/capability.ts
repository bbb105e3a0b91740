import type { CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { BACKPORT, BACKPORT_SUBSCRIPTION } from './subscription.js';

/**
 * The ids of the study's topics (fhir-profiles/subscription-topics/{id}.json; `loadTopics` checks the
 * folder holds exactly these), so that the CapabilityStatement names them without reading files.
 */
export const SUBSCRIPTION_TOPIC_IDS = ['derived-result', 'recruitment-state-changed', 'review-task-opened'] as const;

/** The Backport IG's extension that lists the topics a server offers, on its Subscription resource entry. */
export const TOPIC_CANONICAL_EXTENSION = `${BACKPORT}/StructureDefinition/capabilitystatement-subscriptiontopic-canonical`;

/**
 * The CapabilityStatement entry of Subscription (Subscriptions R5 Backport IG, R4 server): the backport
 * profile, each topic's canonical, create, read, search and delete (deactivation), `$status` and `$events`.
 * @param base - The canonical base of the topics.
 * @returns The resource entry.
 */
export function subscriptionCapability(base: string): CapabilityStatementRestResource {
  return {
    extension: SUBSCRIPTION_TOPIC_IDS.map((id) => ({ url: TOPIC_CANONICAL_EXTENSION, valueCanonical: `${base}/SubscriptionTopic/${id}` })),
    type: 'Subscription',
    supportedProfile: [BACKPORT_SUBSCRIPTION],
    documentation:
      'Topic-based Subscriptions (Subscriptions R5 Backport IG 1.1, R4): criteria = a topic canonical above, backport-filter-criteria as the topic offers, rest-hook to an https endpoint, payload application/fhir+json with backport-payload-content empty, id-only or full-resource, backport-heartbeat-period, backport-timeout (at most 30 s). Create needs system/Subscription.c and read on the topic\'s types; a handshake is sent on creation (active, or error). DELETE deactivates (status off). Notifications are sent at least once, in event order, with retries and exponential backoff; $events answers at most 100 events per call.',
    interaction: [{ code: 'read' }, { code: 'create' }, { code: 'delete' }, { code: 'search-type' }],
    searchParam: [
      { name: '_id', type: 'token' },
      { name: 'status', type: 'token' },
      { name: 'criteria', type: 'string' },
    ],
    operation: [
      { name: 'status', definition: `${BACKPORT}/OperationDefinition/backport-subscription-status`, documentation: 'GET or POST Subscription/{id}/$status: a searchset Bundle with the status Parameters (query-status).' },
      { name: 'events', definition: `${BACKPORT}/OperationDefinition/backport-subscription-events`, documentation: 'GET or POST Subscription/{id}/$events?eventsSinceNumber=&eventsUntilNumber=&content=: the recorded notifications (query-event), at most 100 per call.' },
    ],
  };
}
