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

/** What the screening consumer reads and writes through. */
export interface ScreenDeps {
  readonly store: StudyStore;
  readonly conformance: Conformance;
  readonly criteria: EligibilityCriteria;
  readonly alerts: AlertsPort;
  readonly logger: Logger;
  readonly now: () => Date;
}

/** ResearchSubject statuses that screening owns; once a subject is enrolled, the study owns its status. */
const SCREENING_STATUSES = new Set(['candidate', 'potential-candidate', 'eligible', 'ineligible']);

/** The study this layer screens for. */
const STUDY_ID = 'nct04893161';

/**
 * Re-screens one patient after its data changed: a new version of its `eligibility-screening`
 * Observation, its ResearchSubject in step, and, when it becomes a candidate or eligible (or moves
 * between them), one recruitment alert. The alert is recorded as a Communication in the same commit
 * as the screening, then published; an alert whose publish failed stays `in-progress` and is sent
 * again on the next screen of that patient (the failed event is redelivered), never lost and never
 * recorded twice.
 * @param patient - The pseudonym.
 * @param deps - Ports and criteria.
 * @returns The overall state.
 */
export async function rescreenPatient(patient: string, deps: ScreenDeps): Promise<OverallState> {
  const base = deps.conformance.base;
  const records = await loadSubjectRecords(deps.store, patient, [...SUBJECT_TYPES, 'Communication', 'Task']);
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
  await deps.store.commit(writes, { atomic: true });

  const pending = [
    ...records.filter((r): r is StoredResource<Communication> => r.resourceType === 'Communication' && r.status === 'in-progress'),
    ...(alert ? [alert] : []),
  ];
  for (const comm of pending) {
    await deliverAlert(comm, deps);
  }
  return result.overall;
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
  deps: Pick<ScreenDeps, 'store' | 'conformance'>,
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
