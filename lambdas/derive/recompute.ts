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

/** The types the derivation reads: the subject's record and its review Tasks. */
export const DERIVE_READS = [...SUBJECT_TYPES, 'Task'] as const;

/** What the derivation needs besides the record: the rules, and a logger for its own defects. */
export interface DeriveRules {
  readonly conformance: Conformance;
  readonly annotation: AnnotationRules;
  readonly rules: DerivationRules;
  readonly logger: Logger;
  readonly now: () => Date;
}

/** What the derive consumer reads and writes through. */
export interface DeriveDeps extends DeriveRules {
  readonly store: StudyStore;
  /** Told when derived results changed, so that subscribers hear of the new scores. */
  readonly events: EventsPort;
}

/** What one recompute changed. */
export interface RecomputeSummary {
  readonly revisited: number;
  readonly derived: number;
  readonly changed: number;
}

/** The derivation of one subject: what to write, unchanged ones included (the store or the caller drops those). */
export interface DerivePlan {
  /** Source records re-annotated (visit, dose), then derived Observations, then review Tasks. */
  readonly writes: readonly (Resource & { id: string })[];
  readonly revisited: number;
  readonly derived: number;
}

/**
 * The derivation of one subject from its record, with no I/O: first the visit assignment of its
 * records (day 0 may have arrived after its labs), then every derived score and response, then the
 * review Tasks of what the data cannot decide. Results are new versions of the same resources
 * (deterministic ids), so writing an unchanged one changes nothing.
 * @param patient - The subject's pseudonym.
 * @param records - Its current resources of {@link DERIVE_READS} (others are ignored).
 * @param deps - Rules and clock.
 * @returns The writes.
 */
export function planDerive(patient: string, records: readonly StoredResource[], deps: DeriveRules): DerivePlan {
  const base = deps.conformance.base;
  const derivedProfiles = new Set([...DERIVED_PROFILE_IDS].map((id) => `${base}/StructureDefinition/${id}`));
  const derivedSource = `${base}/derived`;
  const tasks = records.filter((r): r is StoredResource<Task> => r.resourceType === 'Task');
  const reads = new Set<string>(SUBJECT_TYPES);
  // What the layer derived itself is never input to a derivation (nor re-annotated as if the EHR sent it).
  const source = records.filter(
    (r) => reads.has(r.resourceType) && !hasProfile(r, derivedProfiles) && r.meta?.source !== derivedSource && r.resourceType !== 'Patient',
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
  return { writes, revisited: revisited.size, derived: derived.length };
}

/**
 * Recomputes one subject on its own (the derivation alone, as `npm run` scripts and the cohort test
 * use it; the subject step runs it together with screening and prediction): reads the record, plans
 * the derivation, commits each write on its own, and tells subscribers what changed (origin
 * `derived`, which sends nobody round again). The store writes nothing for an unchanged resource, so a
 * replayed or duplicated event changes nothing.
 * @param patient - The subject's pseudonym.
 * @param deps - Ports and rules.
 * @returns Counts of what was written.
 */
export async function recomputeSubject(patient: string, deps: DeriveDeps): Promise<RecomputeSummary> {
  const records = await loadSubjectRecords(deps.store, patient, DERIVE_READS);
  const plan = planDerive(patient, records, deps);
  const results = plan.writes.length > 0 ? await deps.store.commit(plan.writes, { atomic: false }) : [];
  const failed = results.filter((r): r is Extract<WriteResult, { status: 'error' }> => r.status === 'error');
  if (failed.length > 0) {
    // Thrown so the queue redelivers the event; the writes that did land are unchanged next time.
    throw failed[0]?.error ?? new Error('Derived write failed');
  }
  const written = results.flatMap((r) => (r.status === 'created' || r.status === 'updated' ? [r.resource] : []));
  if (written.length > 0) {
    const event: StudyDataChanged = {
      eventId: deterministicId('derived-changed', patient, ...written.map((r) => `${r.resourceType}/${r.id}/${r.meta.versionId}`).sort()),
      patient,
      kinds: [...new Set(written.map((r) => r.resourceType))].sort(),
      occurredAt: deps.now().toISOString(),
      origin: 'derived',
      changed: [...new Set(written.map((r) => `${r.resourceType}/${r.id}`))].sort(),
    };
    await deps.store.commit([], { atomic: false, events: [event] });
    await publishAndAck(deps.store, deps.events, [event]);
  }
  const changed = written.filter((r) => r.resourceType !== 'Task').length;
  return { revisited: plan.revisited, derived: plan.derived, changed };
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
