import type { Task, TaskInput } from '@medplum/fhirtypes';
import { deterministicId } from '../ids.js';
import type { ReviewItem } from './review-item.js';

/** `meta.source` of the Tasks the layer opens, so a reader can tell them from anything the EHR sent. */
export const REVIEW_SOURCE_PATH = '/review';

/** The questions each producer owns: derive reconciles its own Tasks, screen its own, never each other's. */
export type ReviewQuestion = ReviewItem['question'];

type StoredTask = Task & { id: string };

/**
 * The id of the Task for one review item: a pure function of what is decided (subject, question,
 * item, visit, date), so that a recompute finds the same Task and an unchanged item writes nothing.
 * @param item - The review item.
 * @returns The Task id.
 */
export function reviewTaskId(item: ReviewItem): string {
  return deterministicId('review-task', item.subject, item.question, item.item.system, item.item.code, item.visit ?? '', item.date ?? '');
}

/**
 * The FHIR Task that asks an investigator to decide one item (issue 11): `status` requested,
 * `intent` order, `code` what must be decided, `focus` the score or screening Observation, `for`
 * the subject, `reasonCode` why the data could not decide, `input` the item, its visit and date and
 * every piece of evidence. Carries no free text: every string is a code of the study's CodeSystems.
 * @param item - The review item.
 * @param base - Canonical base of the study's conformance resources.
 * @returns The Task.
 */
export function reviewTask(item: ReviewItem, base: string): StoredTask {
  const assessments = `${base}/CodeSystem/study-assessments`;
  const type = (code: string): TaskInput['type'] => ({ coding: [{ system: assessments, code }] });
  const input: TaskInput[] = [
    { type: type('review-item'), valueCoding: { ...item.item } },
    ...(item.visit ? [{ type: type('review-visit'), valueCoding: { system: `${base}/CodeSystem/study-visit`, code: item.visit } }] : []),
    ...(item.date ? [{ type: type('review-date'), valueDate: item.date }] : []),
    ...[...new Set(item.evidence)].sort().map((reference) => ({ type: type('review-evidence'), valueReference: { reference } })),
  ];
  return {
    resourceType: 'Task',
    id: reviewTaskId(item),
    meta: { source: `${base}${REVIEW_SOURCE_PATH}` },
    status: 'requested',
    intent: 'order',
    priority: 'routine',
    code: { coding: [{ system: assessments, code: item.question }] },
    focus: { reference: item.focus },
    for: { reference: `Patient/${item.subject}` },
    reasonCode: { coding: [{ system: assessments, code: item.reason }] },
    input,
  };
}

/**
 * The Task writes that bring a subject's review Tasks in step with what is undecided now: a Task
 * per open item (requested; a completed one is left alone, since its decision is what closed the
 * item), and every requested Task of the same questions whose item the data has since decided is
 * cancelled with the reason `resolved-by-data`. Unchanged Tasks are returned too; the store writes
 * nothing for them.
 * @param items - What is undecided now, of the given questions.
 * @param existing - The subject's stored Tasks (any question).
 * @param questions - The questions the caller owns.
 * @param base - Canonical base.
 * @returns The Tasks to commit.
 */
export function reconcileReviewTasks(
  items: readonly ReviewItem[],
  existing: readonly Task[],
  questions: readonly ReviewQuestion[],
  base: string,
): StoredTask[] {
  const assessments = `${base}/CodeSystem/study-assessments`;
  const stored = new Map(existing.filter((t): t is StoredTask => t.id !== undefined).map((t) => [t.id, t]));
  const writes = new Map<string, StoredTask>();
  for (const item of items) {
    const task = reviewTask(item, base);
    if (stored.get(task.id)?.status === 'completed') {
      continue;
    }
    writes.set(task.id, task);
  }
  for (const task of stored.values()) {
    const question = task.code?.coding?.find((c) => c.system === assessments)?.code as ReviewQuestion | undefined;
    if (task.status !== 'requested' || !question || !questions.includes(question) || writes.has(task.id)) {
      continue;
    }
    const { meta, ...content } = task;
    writes.set(task.id, {
      ...content,
      meta: { ...(meta?.source ? { source: meta.source } : {}) },
      status: 'cancelled',
      statusReason: { coding: [{ system: assessments, code: 'resolved-by-data' }] },
    });
  }
  return [...writes.values()];
}
