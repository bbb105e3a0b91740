import type { Logger } from '@aws-lambda-powertools/logger';
import type { ResourceType } from '@medplum/fhirtypes';
import { deliverAlert } from '../commons/alerts/pending.js';
import type { AlertsPort } from '../commons/alerts/port.js';
import type { EventsPort } from '../commons/events/port.js';
import { publishAndAck } from '../commons/events/relay.js';
import type { StudyDataChanged, StudyStore } from '../commons/store/port.js';
import { loadSubjectRecords } from '../commons/subject-records.js';
import { DERIVE_READS, planDerive, type DeriveRules } from '../derive/recompute.js';
import { planPredict, type PredictRules } from '../predict/recompute.js';
import { planScreen, SCREEN_READS, type ScreenRules } from '../screen/rescreen.js';
import type { OverallState } from '../screen/core/index.js';
import { RecordView } from './core/record-view.js';
import { startsStep, stepEvent } from './core/step-event.js';

/** What the subject step reads and writes through, and the rules of its three stages. */
export interface SubjectStepDeps {
  readonly store: StudyStore;
  /** Where the step's `derived` event goes after its commit (subscribers; the step itself ignores it). */
  readonly events: EventsPort;
  readonly alerts: AlertsPort;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly derive: DeriveRules;
  readonly screen: ScreenRules;
  readonly predict: PredictRules;
}

/** What one step did. */
export interface StepSummary {
  /** Resources loaded (one read of the record). */
  readonly loaded: number;
  /** Changes per stage, as each saw the record. */
  readonly derived: number;
  readonly screened: number;
  readonly predicted: number;
  /** Resources committed (0: nothing changed, nothing written, no event). */
  readonly written: number;
  readonly overall: OverallState;
  readonly alertsSent: number;
}

/** Everything the three stages read, loaded in one go. */
const STEP_READS: readonly ResourceType[] = [...new Set<ResourceType>([...DERIVE_READS, ...SCREEN_READS])];

/**
 * One subject's work after its source data changed: loads its record once, derives (visits,
 * SLEDAI-2K, responses, review Tasks), screens (eligibility, ResearchSubject, review Tasks,
 * recruitment alert) and predicts, each stage seeing the previous stages' results in memory, then
 * commits every changed result in one atomic commit with one outbox event (origin `derived`, the
 * refs it changed), publishes that event and sends the recruitment alerts. Nothing changed: nothing is
 * written and no event is emitted, so a replayed or duplicated event costs one read.
 *
 * Failure: the commit is all-or-nothing and throws (the queue redelivers, the re-run recomputes);
 * a publish that fails after the commit is left to the outbox relay; an alert that fails to send
 * throws after the commit (its Communication stays `in-progress`, and the re-run or the relay sends it).
 * @param patient - The pseudonym.
 * @param deps - Ports and rules.
 * @returns What it did.
 */
export async function runSubjectStep(patient: string, deps: SubjectStepDeps): Promise<StepSummary> {
  const at = deps.now();
  const now = (): Date => at;
  const records = await loadSubjectRecords(deps.store, patient, STEP_READS);
  const view = new RecordView(records, at);

  const derive = planDerive(patient, view.resources(), { ...deps.derive, now });
  const derived = view.apply(derive.writes);
  const screen = await planScreen(patient, view.resources(), { ...deps.screen, now });
  const screened = view.apply(screen.writes);
  const prediction = planPredict(patient, view.resources(), { ...deps.predict, now });
  const predicted = prediction ? view.apply([prediction]) : 0;

  const changes = view.changes();
  if (changes.length > 0) {
    const event = stepEvent(patient, changes, at);
    await deps.store.commit(
      changes.map((c) => c.resource),
      { atomic: true, events: [event] },
    );
    await publish(event, deps);
  }
  // Alerts recorded earlier whose publish failed, then the new one: each after its record is committed.
  const alerts = [...screen.undelivered, ...(screen.alert ? [screen.alert] : [])];
  for (const comm of alerts) {
    await deliverAlert(comm, { store: deps.store, alerts: deps.alerts, now: deps.now });
  }
  return { loaded: records.length, derived, screened, predicted, written: changes.length, overall: screen.overall, alertsSent: alerts.length };
}

/**
 * Runs the step for a subject's events (one SQS batch's, merged): once when any of them changed
 * source data, not at all when all are the step's own results.
 * @param patient - The pseudonym.
 * @param events - The subject's events.
 * @param deps - Ports and rules.
 * @returns The summary, or undefined when no event starts a step.
 */
export async function stepForEvents(patient: string, events: readonly StudyDataChanged[], deps: SubjectStepDeps): Promise<StepSummary | undefined> {
  if (!events.some(startsStep)) {
    return undefined;
  }
  return runSubjectStep(patient, deps);
}

async function publish(event: StudyDataChanged, deps: Pick<SubjectStepDeps, 'store' | 'events' | 'logger'>): Promise<void> {
  try {
    await publishAndAck(deps.store, deps.events, [event]);
  } catch (err) {
    // Committed already: the event stays in the outbox and the relay publishes it later.
    deps.logger.warn('Event publish deferred to the outbox relay', { eventId: event.eventId, error: (err as Error)?.name ?? typeof err });
  }
}
