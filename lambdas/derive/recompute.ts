import type { Logger } from '@aws-lambda-powertools/logger';
import type { Resource, Task } from '@medplum/fhirtypes';
import type { Conformance } from '../commons/conformance/index.js';
import type { EventsPort } from '../commons/events/port.js';
import { publishAndAck } from '../commons/events/relay.js';
import { deterministicId } from '../commons/ids.js';
import { reconcileReviewTasks, type ReviewQuestion } from '../commons/review/review-task.js';
import type { StoredResource, StudyDataChanged, StudyStore, WriteResult } from '../commons/store/port.js';
import { SUBJECT_TYPES } from '../commons/study-types.js';
import { hasProfile, loadSubjectRecords } from '../commons/subject-records.js';
import { annotate, timelineFrom, type AnnotationRules } from '../ingest/core/annotate.js';
import { DERIVED_PROFILE_IDS } from '../ingest/core/codes.js';
import { deriveSubject } from './core/derive-subject.js';
import type { DerivationRules } from './core/rules.js';

/** The review questions the derivation opens Tasks for (D4, D5, D10); screening owns the criteria's. */
const DERIVE_QUESTIONS: readonly ReviewQuestion[] = ['review-sledai-descriptor', 'review-glucocorticoid-dose'];

/** What the derive consumer reads and writes through. */
export interface DeriveDeps {
  readonly store: StudyStore;
  /** Told when derived results changed, so screening and prediction see the new scores. */
  readonly events: EventsPort;
  readonly conformance: Conformance;
  readonly annotation: AnnotationRules;
  readonly rules: DerivationRules;
  readonly logger: Logger;
  readonly now: () => Date;
}

/** What one recompute changed. */
export interface RecomputeSummary {
  readonly revisited: number;
  readonly derived: number;
  readonly changed: number;
}

/**
 * Recomputes one subject after its data changed: first the visit assignment of its records (day 0
 * may have arrived after its labs), then every derived score and response. Results are new versions
 * of the same resources (deterministic ids), and the store writes nothing for an unchanged one, so a
 * replayed or duplicated event changes nothing.
 * @param patient - The subject's pseudonym.
 * @param deps - Ports and rules.
 * @returns Counts of what was written.
 */
export async function recomputeSubject(patient: string, deps: DeriveDeps): Promise<RecomputeSummary> {
  const base = deps.conformance.base;
  const derivedProfiles = new Set([...DERIVED_PROFILE_IDS].map((id) => `${base}/StructureDefinition/${id}`));
  const derivedSource = `${base}/derived`;
  const records = await loadSubjectRecords(deps.store, patient, [...SUBJECT_TYPES, 'Task']);
  const tasks = records.filter((r): r is StoredResource<Task> => r.resourceType === 'Task');
  // What the layer derived itself is never input to a derivation (nor re-annotated as if the EHR sent it).
  const source = records.filter(
    (r) => !hasProfile(r, derivedProfiles) && r.meta?.source !== derivedSource && r.resourceType !== 'Patient' && r.resourceType !== 'Task',
  );

  const revisited = revisit(source, deps.annotation);
  const current = source.map((r) => revisited.get(`${r.resourceType}/${r.id}`) ?? r);
  const result = deriveSubject({ base, subject: patient, resources: current, asOf: deps.now() }, deps.rules);
  const derived = result.observations.map((o) => ({ ...o, meta: { ...o.meta, source: derivedSource } }));
  // Every item the data cannot decide is a Task for the investigator (issue 11); one the data has since decided is cancelled.
  const reviewTasks = reconcileReviewTasks(result.reviews, tasks, DERIVE_QUESTIONS, base);
  for (const observation of derived) {
    const profile = observation.meta?.profile?.[0];
    const problems = profile ? deps.conformance.validateProfile(observation, profile).filter((i) => i.severity === 'error') : [];
    if (problems.length > 0) {
      // A derived resource that fails its own profile is a defect of the layer, never of the patient's data.
      deps.logger.error('Derived Observation fails its profile', { profile, issues: problems.length, at: problems[0]?.expression?.[0] });
    }
  }
  const writes = [...revisited.values(), ...derived, ...reviewTasks] as (Resource & { id: string })[];
  const results = writes.length > 0 ? await deps.store.commit(writes, { atomic: false }) : [];
  const failed = results.filter((r): r is Extract<WriteResult, { status: 'error' }> => r.status === 'error');
  if (failed.length > 0) {
    // Thrown so the queue redelivers the event; the writes that did land are unchanged next time.
    throw failed[0]?.error ?? new Error('Derived write failed');
  }
  // A Task is the investigator's, not study data: a changed Task alone sends nobody round again.
  const changed = results.flatMap((r) =>
    (r.status === 'created' || r.status === 'updated') && r.resource.resourceType !== 'Task' ? [`${r.resource.resourceType}/${r.resource.id}/${r.resource.meta.versionId}`] : [],
  );
  if (changed.length > 0) {
    // A changed score is study data too; an unchanged recompute emits nothing, so the chain ends.
    const event: StudyDataChanged = {
      eventId: deterministicId('derived-changed', patient, ...changed.sort()),
      patient,
      kinds: ['Observation'],
      occurredAt: deps.now().toISOString(),
    };
    await deps.store.commit([], { atomic: false, events: [event] });
    await publishAndAck(deps.store, deps.events, [event]);
  }
  return { revisited: revisited.size, derived: derived.length, changed: changed.length };
}

/** Records whose study visit or dose annotation is stale now that day 0 and the weights are known. */
function revisit(records: readonly Resource[], rules: AnnotationRules): Map<string, Resource> {
  const timeline = timelineFrom(records, rules);
  const changed = new Map<string, Resource>();
  for (const record of records) {
    const { meta, ...content } = record;
    const next = annotate(content as Resource, timeline, rules);
    if (JSON.stringify(next) !== JSON.stringify(content)) {
      changed.set(`${record.resourceType}/${record.id ?? ''}`, { ...next, meta: { ...(meta?.source ? { source: meta.source } : {}), ...(meta?.profile ? { profile: meta.profile } : {}) } });
    }
  }
  return changed;
}
