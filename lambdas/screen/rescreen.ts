import type { Logger } from '@aws-lambda-powertools/logger';
import type { Communication, Observation, Resource, ResearchSubject, Task } from '@medplum/fhirtypes';
import { deliverAlert } from '../commons/alerts/pending.js';
import type { AlertsPort, RecruitmentAlert } from '../commons/alerts/port.js';
import type { Conformance } from '../commons/conformance/index.js';
import { deterministicId } from '../commons/ids.js';
import { reconcileReviewTasks } from '../commons/review/review-task.js';
import type { StoredResource, StudyStore } from '../commons/store/port.js';
import { loadSubjectRecords } from '../commons/subject-records.js';
import { SUBJECT_TYPES } from '../commons/study-types.js';
import {
  alertBody,
  needsAlert,
  researchSubjectId,
  researchSubjectStatus,
  screeningObservationId,
  screeningReviewItems,
  screenPatient,
  toScreeningObservation,
  type EligibilityCriteria,
  type OverallState,
} from './core/index.js';

/** The types the screening reads: the subject's record, its recruitment alerts and its review Tasks. */
export const SCREEN_READS = [...SUBJECT_TYPES, 'Communication', 'Task'] as const;

/** What the screening needs besides the record: the criteria, and the history of the ResearchSubject it may restore. */
export interface ScreenRules {
  /** Only `history`: a study write of the ResearchSubject that raced with a screen write is found there. */
  readonly store: Pick<StudyStore, 'history'>;
  readonly conformance: Conformance;
  readonly criteria: EligibilityCriteria;
  readonly now: () => Date;
}

/** What the screening consumer reads and writes through. */
export interface ScreenDeps extends ScreenRules {
  readonly store: StudyStore;
  readonly alerts: AlertsPort;
  readonly logger: Logger;
}

/** The screening of one patient: what to write (unchanged ones included) and which alerts to send after the commit. */
export interface ScreenPlan {
  readonly overall: OverallState;
  /** The screening Observation, the ResearchSubject when the screen owns it, the review Tasks, the new alert. */
  readonly writes: readonly (Resource & { id: string })[];
  /** The new alert (also in `writes`), recorded before it is published. */
  readonly alert?: Communication & { id: string };
  /** Alerts recorded earlier whose publish failed (`in-progress`): sent again after this commit. */
  readonly undelivered: readonly (Communication & { id: string })[];
}

/** ResearchSubject statuses that screening owns; once a subject is enrolled, the study owns its status. */
const SCREENING_STATUSES = new Set(['candidate', 'potential-candidate', 'eligible', 'ineligible']);

/** The study this layer screens for. */
const STUDY_ID = 'nct04893161';

/**
 * The screening of one patient from its record: a new version of its `eligibility-screening`
 * Observation, its ResearchSubject in step, a review Task per criterion in review, and, when it
 * becomes a candidate or eligible (or moves between them), one recruitment alert recorded as a
 * Communication. Reads nothing but the ResearchSubject's history, and only when the screen owns it.
 * @param patient - The pseudonym.
 * @param records - Its current resources of {@link SCREEN_READS}.
 * @param deps - Criteria, clock and the history reader.
 * @returns The plan.
 */
export async function planScreen(patient: string, records: readonly StoredResource[], deps: ScreenRules): Promise<ScreenPlan> {
  const base = deps.conformance.base;
  const previous = records.find((r): r is StoredResource<Observation> => r.resourceType === 'Observation' && r.id === screeningObservationId(patient));
  const previousState = previous?.valueCodeableConcept?.coding?.[0]?.code as OverallState | undefined;
  const now = deps.now();
  const result = screenPatient({ base, patient, resources: records, asOf: now }, deps.criteria);

  const writes: (Resource & { id: string })[] = [toScreeningObservation(result, base)];
  const subject = await researchSubjectFor(patient, result.overall, records, deps);
  if (subject) {
    writes.push(subject);
  }
  // Every criterion in review is a Task for the investigator, committed with the screening it completes.
  const tasks = records.filter((r): r is StoredResource<Task> => r.resourceType === 'Task');
  writes.push(...reconcileReviewTasks(screeningReviewItems(result, base), tasks, ['review-eligibility-criterion'], base));
  let alert: (Communication & { id: string }) | undefined;
  if (needsAlert(previousState, result.overall)) {
    const body = alertBody(result);
    const message: RecruitmentAlert = {
      alertId: deterministicId('recruitment-alert', patient, previousState ?? 'none', result.overall, now.toISOString()),
      patient,
      state: body.state,
      ...(previousState ? { previousState } : {}),
      pending: body.pending,
      screenedAt: now.toISOString(),
    };
    alert = communication(message, base);
    writes.push(alert);
  }
  const undelivered = records.filter((r): r is StoredResource<Communication> => r.resourceType === 'Communication' && r.status === 'in-progress');
  return { overall: result.overall, writes, ...(alert ? { alert } : {}), undelivered };
}

/**
 * Re-screens one patient after its data changed (the screening alone, as `npm run screen` uses it;
 * the subject step runs it together with derivation and prediction): the {@link planScreen} writes in
 * one commit, then the alerts. The alert is recorded as a Communication in the same commit as the
 * screening, then published; an alert whose publish failed stays `in-progress` and is sent again on
 * the next screen of that patient (the failed event is redelivered), never lost and never recorded twice.
 * @param patient - The pseudonym.
 * @param deps - Ports and criteria.
 * @returns The overall state.
 */
export async function rescreenPatient(patient: string, deps: ScreenDeps): Promise<OverallState> {
  const records = await loadSubjectRecords(deps.store, patient, SCREEN_READS);
  const plan = await planScreen(patient, records, deps);
  await deps.store.commit(plan.writes, { atomic: true });
  for (const comm of [...plan.undelivered, ...(plan.alert ? [plan.alert] : [])]) {
    await deliverAlert(comm, deps);
  }
  return plan.overall;
}

function communication(alert: RecruitmentAlert, base: string): Communication & { id: string } {
  return {
    resourceType: 'Communication',
    id: alert.alertId,
    status: 'in-progress',
    category: [{ coding: [{ system: `${base}/CodeSystem/study-assessments`, code: 'recruitment-alert' }], text: 'Recruitment alert' }],
    subject: { reference: `Patient/${alert.patient}` },
    about: [{ reference: `Observation/${screeningObservationId(alert.patient)}` }, { reference: `ResearchSubject/${researchSubjectId(alert.patient)}` }],
    recipient: [{ display: 'NCT04893161 recruitment team' }],
    payload: [{ contentString: JSON.stringify(alert) }],
  };
}

/**
 * The ResearchSubject the screen writes, or undefined when the study owns it. The screen owns a
 * subject it wrote itself (meta.source = the study base) in a screening status; once the EHR or the
 * coordinator has sent one (ingested, meta.source = their system), enrolment, withdrawal and
 * completion are theirs and the screen never writes over them. A study write that raced with a
 * screen write (the store has no conditional write) is found in the history and restored.
 */
async function researchSubjectFor(
  patient: string,
  overall: OverallState,
  records: readonly Resource[],
  deps: Pick<ScreenRules, 'store' | 'conformance'>,
): Promise<(ResearchSubject & { id: string }) | undefined> {
  const base = deps.conformance.base;
  const id = researchSubjectId(patient);
  const existing = records.find((r): r is ResearchSubject => r.resourceType === 'ResearchSubject' && r.id === id);
  if (existing && !screenOwns(existing, base)) {
    return undefined;
  }
  if (existing) {
    const study = (await deps.store.history<ResearchSubject>('ResearchSubject', id)).find((v) => !screenOwns(v, base));
    if (study) {
      const { meta, ...rest } = study;
      return { ...rest, meta: { ...(meta.source ? { source: meta.source } : {}), ...(meta.profile ? { profile: meta.profile } : {}) } };
    }
  }
  return {
    resourceType: 'ResearchSubject',
    id,
    meta: { source: base },
    identifier: [{ system: `${base}/sid/study-subject`, value: patient }],
    status: researchSubjectStatus(overall),
    study: { reference: `ResearchStudy/${STUDY_ID}` },
    individual: { reference: `Patient/${patient}` },
  };
}

function screenOwns(subject: ResearchSubject, base: string): boolean {
  return subject.meta?.source === base && SCREENING_STATUSES.has(subject.status);
}
