import type { Observation, Task } from '@medplum/fhirtypes';
import { codeIn, SYSTEMS, visitLabel, wordsOf } from '../study.js';

/** What a review Task asks, in the reader's words. */
export interface ReviewView {
  readonly id: string;
  readonly question: string;
  readonly questionWords: string;
  readonly subject: string;
  readonly item: string;
  readonly itemCode: string;
  readonly visit: string;
  readonly date: string;
  readonly why: string;
  readonly evidence: number;
  readonly focus: string | undefined;
  /** The decisions this question takes ($settle `decision`). */
  readonly decisions: readonly { readonly code: string; readonly words: string }[] | 'dose';
}

const QUESTIONS: Record<string, { words: string; decisions: ReviewView['decisions'] }> = {
  'review-sledai-descriptor': {
    words: 'SLEDAI-2K descriptor the data cannot decide',
    decisions: [
      { code: 'present', words: 'Present' },
      { code: 'absent', words: 'Absent' },
    ],
  },
  'review-eligibility-criterion': {
    words: 'Eligibility criterion for the investigator',
    decisions: [
      { code: 'met', words: 'Met' },
      { code: 'not-met', words: 'Not met' },
    ],
  },
  'review-glucocorticoid-dose': { words: 'Glucocorticoid dose on a date (records disagree)', decisions: 'dose' },
};

/**
 * A review Task as the queue shows it.
 * @param task - The Task.
 * @param criterionWords - Eligibility criterion words by code (the Group's text).
 * @returns The view.
 */
export function reviewView(task: Task, criterionWords: ReadonlyMap<string, string>): ReviewView {
  const question = codeIn(task.code, SYSTEMS.assessments) ?? '';
  const input = (code: string) => task.input?.filter((i) => codeIn(i.type, SYSTEMS.assessments) === code) ?? [];
  const item = input('review-item')[0]?.valueCoding;
  const itemCode = item?.code ?? '';
  return {
    id: task.id ?? '',
    question,
    questionWords: QUESTIONS[question]?.words ?? question,
    subject: task.for?.reference?.replace(/^Patient\//, '') ?? '',
    item: criterionWords.get(itemCode) ?? item?.display ?? itemCode,
    itemCode,
    visit: visitLabel(input('review-visit')[0]?.valueCoding?.code),
    date: input('review-date')[0]?.valueDate ?? '—',
    why: wordsOf(task.reasonCode),
    evidence: input('review-evidence').length,
    focus: task.focus?.reference,
    decisions: QUESTIONS[question]?.decisions ?? [],
  };
}

/**
 * The result a Task's focus shows now, in words: the screening's overall state and the item's
 * criterion state, or the SLEDAI-2K total (or partial lower bound), or the value.
 * @param focus - The focus Observation.
 * @param itemCode - The item the Task is about.
 * @returns A sentence.
 */
export function resultWords(focus: Observation | undefined, itemCode: string): string {
  if (!focus) return 'not readable';
  const code = codeIn(focus.code, SYSTEMS.assessments) ?? codeIn(focus.code, SYSTEMS.sledai);
  if (code === 'eligibility-screening') {
    const overall = codeIn(focus.valueCodeableConcept, SYSTEMS.assessments) ?? '?';
    const criterion = focus.component?.find((c) => codeIn(c.code, SYSTEMS.assessments) === itemCode);
    const state = codeIn(criterion?.valueCodeableConcept, SYSTEMS.assessments);
    return `screening ${overall}${state ? `; this criterion ${state}` : ''}`;
  }
  if (code === 'total') {
    if (focus.valueInteger !== undefined) return `SLEDAI-2K total ${focus.valueInteger}`;
    const partial = focus.component?.find((c) => codeIn(c.code, SYSTEMS.assessments) === 'partial-score')?.valueInteger;
    return `SLEDAI-2K partial, at least ${partial ?? 0}`;
  }
  return wordsOf(focus.valueCodeableConcept) || String(focus.valueInteger ?? focus.valueQuantity?.value ?? '—');
}

/**
 * Why the data could not decide, in the rule's words where the focus carries them (a screening
 * component's `eligibility-reason`), else the Task's reason code.
 * @param focus - The focus Observation, if readable.
 * @param item - The Task's view.
 * @returns Words.
 */
export function whyWords(focus: Observation | undefined, item: ReviewView): string {
  const component = focus?.component?.find((c) => codeIn(c.code, SYSTEMS.assessments) === item.itemCode || codeIn(c.code, SYSTEMS.sledai) === item.itemCode);
  const reason = component?.extension?.find((e) => e.url.endsWith('/eligibility-reason') || e.url.endsWith('/descriptor-undecided') || e.url.endsWith('/descriptor-missing'));
  const interpretation = component?.interpretation?.[component.interpretation.length - 1];
  return reason?.valueString ?? (interpretation ? wordsOf(interpretation) : item.why);
}

/**
 * The decision the settled Task records (its output), for the "settled" line.
 * @param task - The completed Task.
 * @returns Words.
 */
export function settledWords(task: Task): string {
  const decision = task.output?.find((o) => codeIn(o.type, SYSTEMS.assessments) === 'review-decision');
  return decision?.valueCoding?.code ?? (decision?.valueQuantity ? `${decision.valueQuantity.value} ${decision.valueQuantity.unit ?? ''}` : 'decided');
}

