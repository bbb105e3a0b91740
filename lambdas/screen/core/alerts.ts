import type { OverallState, ScreeningResult } from './screen.js';

/** What an alert carries: the pseudonym, the state and the criteria still needing work; nothing else. */
export interface AlertBody {
  readonly patient: string;
  readonly state: 'candidate' | 'eligible';
  /** Criteria still unknown or under review, in rule-file order. */
  readonly pending: readonly { readonly code: string; readonly state: 'unknown' | 'review' }[];
}

/**
 * Whether a change of overall state deserves an alert: a patient who becomes candidate or eligible,
 * or moves between the two. An unchanged state, or a move to ineligible, does not.
 * @param previous - The overall state of the previous screening (undefined for the first).
 * @param next - The new overall state.
 * @returns True to alert.
 */
export function needsAlert(previous: OverallState | undefined, next: OverallState): boolean {
  return next !== 'ineligible' && previous !== next;
}

/**
 * The alert's body.
 * @param result - A screening result whose overall state is candidate or eligible.
 * @returns The body.
 * @throws Error for an ineligible result (there is nothing to alert about).
 */
export function alertBody(result: ScreeningResult): AlertBody {
  if (result.overall === 'ineligible') {
    throw new Error('No alert for an ineligible patient');
  }
  return {
    patient: result.patient,
    state: result.overall,
    pending: result.criteria.flatMap((c) => (c.state === 'unknown' || c.state === 'review' ? [{ code: c.code, state: c.state }] : [])),
  };
}
