import type { Resource, Subscription } from '@medplum/fhirtypes';
import type { StoredResource, StudyDataChanged } from '../commons/store/port.js';
import { passes } from '../subscriptions/core/filters.js';
import { triggers } from '../subscriptions/core/topics.js';
import { deliverPending, isLive, subscriptionsOf, type DeliveryDeps } from './deliver.js';

/** What one study event did for the subscribers. */
export interface NotifySummary {
  /** Notifications recorded (one per subscription and focus change). */
  readonly recorded: number;
  /** Notifications delivered in this call (earlier undelivered ones included). */
  readonly delivered: number;
}

const REF = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

/**
 * The notifier's work for one "study data changed" event: each resource the commit changed
 * (`changed`) is read with the version before it, matched against the topics (type, interaction,
 * FHIRPath criteria) and each live subscription's filters; a match is recorded under the
 * subscription's next event number, then the subscription's undelivered notifications are sent.
 * A focus version is recorded once per topic and subscription, so a redelivered or repeated event
 * (an unchanged resource named again) adds nothing. Events without `changed` name nothing to notify.
 * @param event - The study event.
 * @param deps - Ports.
 * @returns Counts.
 */
export async function notifyEvent(event: StudyDataChanged, deps: DeliveryDeps): Promise<NotifySummary> {
  const refs = (event.changed ?? []).flatMap((ref) => {
    const match = REF.exec(ref);
    return match?.[1] && match[2] && deps.topics.some((t) => t.resource === match[1]) ? [{ ref, type: match[1], id: match[2] }] : [];
  });
  if (refs.length === 0) return { recorded: 0, delivered: 0 };
  const live = (await subscriptionsOf(deps.store, deps.topics)).filter((s) => isLive(s.spec));
  if (live.length === 0) return { recorded: 0, delivered: 0 };
  const touched = new Map<string, StoredResource<Subscription>>();
  let recorded = 0;
  for (const { ref, type, id } of refs) {
    const topics = deps.topics.filter((t) => t.resource === type && live.some((s) => s.spec.topic === t.url));
    if (topics.length === 0) continue;
    const current = await deps.store.read(type as Resource['resourceType'], id);
    if (!current) continue;
    const version = Number(current.meta.versionId);
    const previous = version > 1 ? (await deps.store.history(type as Resource['resourceType'], id)).find((v) => Number(v.meta.versionId) < version) : undefined;
    for (const topic of topics) {
      if (!triggers(topic, current, previous)) continue;
      for (const subscription of live) {
        if (subscription.spec.topic !== topic.url || !passes(current, subscription.spec.filters)) continue;
        const event = await deps.ledger.record(subscription.spec.id, `${topic.url}|${ref}/${current.meta.versionId}`, {
          timestamp: current.meta.lastUpdated,
          focus: ref,
          focusVersion: current.meta.versionId,
        });
        if (event) {
          recorded++;
          touched.set(subscription.spec.id, subscription.resource);
        }
      }
    }
  }
  let delivered = 0;
  for (const subscription of touched.values()) {
    delivered += await deliverPending(subscription, deps);
  }
  return { recorded, delivered };
}
