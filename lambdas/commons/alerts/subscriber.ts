import type { Subscription } from '@medplum/fhirtypes';
import type { StoredResource } from '../store/port.js';
import { BACKPORT_SUBSCRIPTION, checkSubscription, FILTER_CRITERIA, PAYLOAD_CONTENT } from '../../subscriptions/core/subscription.js';
import { registerSubscription, type SubscriptionsDeps } from '../../subscriptions/subscription-request.js';

/** The id of the Subscription the layer keeps for the recruitment team's webhook. */
export const ALERT_SUBSCRIPTION_ID = 'recruitment-alert-webhook';

/**
 * The recruitment team's webhook as one subscriber among others: a backport Subscription on the
 * `recruitment-state-changed` topic, filtered to candidates and eligible patients, full-resource (the
 * screening Observation: the pseudonym, the state and each criterion, no PHI).
 * @param webhookUrl - ALERT_WEBHOOK_URL.
 * @param canonicalBase - CANONICAL_BASE (the topic's canonical).
 * @returns The Subscription.
 */
export function alertWebhookSubscription(webhookUrl: string, canonicalBase: string): Subscription {
  return {
    resourceType: 'Subscription',
    meta: { profile: [BACKPORT_SUBSCRIPTION] },
    status: 'requested',
    reason: 'NCT04893161 recruitment team: patients who become candidates or eligible',
    criteria: `${canonicalBase}/SubscriptionTopic/recruitment-state-changed`,
    _criteria: { extension: [{ url: FILTER_CRITERIA, valueString: 'Observation?state=candidate,eligible' }] },
    channel: {
      type: 'rest-hook',
      endpoint: webhookUrl,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: PAYLOAD_CONTENT, valueCode: 'full-resource' }] },
    },
  } as Subscription;
}

/**
 * Makes sure the webhook's Subscription exists and is live: kept as it is when it already points at
 * the same endpoint and is active (or error: the notifier goes on retrying), registered again (a
 * new handshake) otherwise.
 * @param webhookUrl - ALERT_WEBHOOK_URL.
 * @param canonicalBase - CANONICAL_BASE.
 * @param apiBase - The API base URL the notifications name.
 * @param deps - The Subscriptions ports.
 * @returns The Subscription.
 */
export async function ensureAlertSubscription(webhookUrl: string, canonicalBase: string, apiBase: string, deps: SubscriptionsDeps): Promise<StoredResource<Subscription>> {
  const existing = await deps.store.read<Subscription>('Subscription', ALERT_SUBSCRIPTION_ID);
  if (existing && existing.channel.endpoint === webhookUrl && (existing.status === 'active' || existing.status === 'error')) return existing;
  const subscription = alertWebhookSubscription(webhookUrl, canonicalBase);
  checkSubscription(subscription, deps.topics, { allowLoopbackHttp: deps.allowLoopbackHttp });
  return registerSubscription(subscription, { id: ALERT_SUBSCRIPTION_ID, base: apiBase }, deps);
}
