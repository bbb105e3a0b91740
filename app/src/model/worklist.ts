import type { Group, Observation, ResearchSubject, Task } from '@medplum/fhirtypes';
import { codeIn, studyExtensions, SYSTEMS, wordsOf } from '../study.js';

/** Overall screening states (eligibility-screening value). */
export type ScreeningState = 'eligible' | 'candidate' | 'ineligible';

/** One criterion of one patient's screening, in the Group's words. */
export interface CriterionRow {
  readonly code: string;
  /** The registry's wording, from the eligibility Group's characteristic text. */
  readonly text: string;
  readonly kind: 'inclusion' | 'exclusion';
  /** met, not-met, unknown, review. */
  readonly state: string;
  /** The rule's reason (rule wording, no patient data). */
  readonly reason: string;
  /** References to the records that decided it. */
  readonly evidence: readonly string[];
}

/** One patient on the worklist. */
export interface WorklistEntry {
  readonly pseudonym: string;
  readonly state: ScreeningState;
  /** When the screening result last changed (meta.lastUpdated of the screening Observation). */
  readonly changed: string;
  readonly screeningId: string;
  readonly criteria: readonly CriterionRow[];
  /** Requested review Tasks of this patient's criteria. */
  readonly openReviews: number;
  /** The ResearchSubject's status (R4), when readable. */
  readonly studyStatus: string | undefined;
}

/** ResearchSubject statuses of a patient the study has taken on: no longer recruitment's work. */
export const ENROLLED_STATUSES: ReadonlySet<string> = new Set(['pending-on-study', 'on-study', 'on-study-intervention', 'on-study-observation', 'follow-up', 'off-study', 'withdrawn']);

/**
 * The criterion words of the eligibility Group: code → characteristic text.
 * @param group - The `nct04893161-eligibility` Group.
 * @returns The map.
 */
export function criterionWords(group: Group | undefined): Map<string, string> {
  const words = new Map<string, string>();
  for (const c of group?.characteristic ?? []) {
    const code = c.code.coding?.[0]?.code;
    if (code) words.set(code, c.code.text ?? wordsOf(c.code));
  }
  return words;
}

/**
 * The worklist: one entry per screened patient, newest change first (issue 16: the coordinator works
 * the most recent changes first). Only the criteria the Observation carries are listed, in its order.
 * @param screenings - eligibility-screening Observations.
 * @param group - The eligibility Group, for the words.
 * @param tasks - Review Tasks (any status; only requested ones count as open).
 * @param subjects - The patients' ResearchSubjects (their study status).
 * @returns Entries sorted by change, newest first.
 */
export function worklistEntries(screenings: readonly Observation[], group: Group | undefined, tasks: readonly Task[], subjects: readonly ResearchSubject[] = []): WorklistEntry[] {
  const words = criterionWords(group);
  const status = new Map(subjects.map((r) => [r.individual?.reference?.replace(/^Patient\//, '') ?? '', r.status]));
  const open = new Map<string, number>();
  for (const task of tasks) {
    if (task.status !== 'requested' || codeIn(task.code, SYSTEMS.assessments) !== 'review-eligibility-criterion') continue;
    const who = task.for?.reference?.replace(/^Patient\//, '');
    if (who) open.set(who, (open.get(who) ?? 0) + 1);
  }
  const entries = screenings.flatMap((o): WorklistEntry[] => {
    const pseudonym = o.subject?.reference?.replace(/^Patient\//, '');
    const state = codeIn(o.valueCodeableConcept, SYSTEMS.assessments) as ScreeningState | undefined;
    if (!pseudonym || !state || !o.id) return [];
    const criteria = (o.component ?? []).map((c): CriterionRow => {
      const code = codeIn(c.code, SYSTEMS.assessments) ?? '';
      return {
        code,
        text: words.get(code) ?? code,
        kind: code.startsWith('excl-') ? 'exclusion' : 'inclusion',
        state: codeIn(c.valueCodeableConcept, SYSTEMS.assessments) ?? 'unknown',
        reason: studyExtensions(c, 'eligibility-reason')[0]?.valueString ?? '',
        evidence: studyExtensions(c, 'eligibility-evidence').flatMap((e) => (e.valueReference?.reference ? [e.valueReference.reference] : [])),
      };
    });
    return [{ pseudonym, state, changed: o.meta?.lastUpdated ?? '', screeningId: o.id, criteria, openReviews: open.get(pseudonym) ?? 0, studyStatus: status.get(pseudonym) }];
  });
  return entries.sort((a, b) => b.changed.localeCompare(a.changed) || a.pseudonym.localeCompare(b.pseudonym));
}

/** The worklist's filters. */
export interface WorklistFilter {
  /** `active` = candidate or eligible and not yet enrolled (the worklist's default), or one state. */
  readonly state: 'active' | ScreeningState | 'all';
  readonly openReviewOnly: boolean;
}

/**
 * Applies the filters.
 * @param entries - All entries.
 * @param filter - State and open-review filter.
 * @returns The entries shown.
 */
export function filterWorklist(entries: readonly WorklistEntry[], filter: WorklistFilter): WorklistEntry[] {
  return entries.filter(
    (e) =>
      (filter.state === 'all' ||
        (filter.state === 'active' ? (e.state === 'candidate' || e.state === 'eligible') && !ENROLLED_STATUSES.has(e.studyStatus ?? '') : e.state === filter.state)) &&
      (!filter.openReviewOnly || e.openReviews > 0),
  );
}

/** Criterion states in words. */
export const CRITERION_STATE_WORDS: Record<string, string> = { met: 'Met', 'not-met': 'Not met', unknown: 'Unknown', review: 'For review' };
