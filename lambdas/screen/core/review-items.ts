import type { ReviewItem } from '../../commons/review/review-item.js';
import type { ScreeningResult } from './screen.js';
import { screeningObservationId } from './screening-observation.js';

/**
 * The investigator's work a screening leaves (issue 11): one review item per criterion whose state
 * is `review` and that no investigator decision has settled. Each names the criterion (its
 * study-assessments code, its registry wording as display), the screening Observation it completes,
 * and the evidence the rule looked at. No date: the item is the criterion itself, so re-screening on
 * another day finds the same Task rather than opening a new one. A criterion that is merely `unknown` waits for data, not for
 * a person, and gets none. Pure: the lead's code turns the items into Tasks.
 * @param result - A screening result.
 * @param base - The study's canonical base.
 * @returns The items, in rule-file order.
 */
export function screeningReviewItems(result: ScreeningResult, base: string): ReviewItem[] {
  const system = `${base}/CodeSystem/study-assessments`;
  const focus = `Observation/${screeningObservationId(result.patient)}`;
  return result.criteria
    .filter((c) => c.state === 'review' && c.settledBy === undefined)
    .map((c) => ({
      question: 'review-eligibility-criterion',
      subject: result.patient,
      focus,
      item: { system, code: c.code, display: c.text },
      reason: 'review',
      evidence: [...c.evidence],
    }));
}
