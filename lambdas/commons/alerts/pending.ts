import type { Communication } from '@medplum/fhirtypes';
import type { StoredResource, StudyStore } from '../store/port.js';
import type { AlertsPort, RecruitmentAlert } from './port.js';

/** What delivering an alert reads and writes through. */
export interface AlertDeliveryDeps {
  readonly store: StudyStore;
  readonly alerts: AlertsPort;
  readonly now: () => Date;
}

/** How far back the retry of undelivered alerts looks. */
const PENDING_ALERT_WINDOW_MS = 7 * 86_400_000;

/**
 * Publishes one recorded recruitment alert (a Communication `in-progress`) and marks it `completed`.
 * Screening calls it right after its commit; the relay calls it for the ones whose publish failed.
 * @param comm - The alert's Communication.
 * @param deps - Ports.
 */
export async function deliverAlert(comm: Communication & { id: string }, deps: AlertDeliveryDeps): Promise<void> {
  const payload = comm.payload?.[0]?.contentString;
  if (!payload) {
    return;
  }
  await deps.alerts.publish(JSON.parse(payload) as RecruitmentAlert);
  const { meta, ...rest } = comm;
  await deps.store.commit(
    [{ ...rest, meta: { ...(meta?.profile ? { profile: meta.profile } : {}) }, status: 'completed', sent: deps.now().toISOString() }],
    { atomic: true },
  );
}

/**
 * Sends the recruitment alerts whose publish failed (Communications still `in-progress`): run by the
 * scheduled relay, so an alert is delivered even when its patient is never screened again. Lives here,
 * not in screening, so that the relay carries no screening code.
 * @param deps - Ports.
 * @returns How many were delivered.
 */
export async function deliverPendingAlerts(deps: AlertDeliveryDeps): Promise<number> {
  const since = new Date(deps.now().getTime() - PENDING_ALERT_WINDOW_MS).toISOString();
  let delivered = 0;
  let cursor: string | undefined;
  do {
    const page = await deps.store.search({ resourceType: 'Communication', lastUpdated: { ge: since }, count: 500, ...(cursor ? { cursor } : {}) });
    for (const comm of page.resources as StoredResource<Communication>[]) {
      if (comm.status === 'in-progress') {
        await deliverAlert(comm, deps);
        delivered++;
      }
    }
    cursor = page.next;
  } while (cursor);
  return delivered;
}
