import type { Observation, ResearchSubject } from '@medplum/fhirtypes';
import { codeIn, SYSTEMS, visitOf, VISIT_ORDER } from '../study.js';

/** The funnel's stages, each a set of R4 ResearchSubject statuses; together they cover every status. */
export const FUNNEL_STAGES: readonly { readonly stage: string; readonly words: string; readonly statuses: readonly string[] }[] = [
  { stage: 'ineligible', words: 'Screened, ineligible', statuses: ['ineligible', 'not-registered'] },
  { stage: 'screening', words: 'Screening under way', statuses: ['screening'] },
  { stage: 'candidate', words: 'Candidate', statuses: ['candidate', 'potential-candidate'] },
  { stage: 'eligible', words: 'Eligible', statuses: ['eligible'] },
  { stage: 'enrolled', words: 'Enrolled, on study', statuses: ['pending-on-study', 'on-study', 'on-study-intervention', 'on-study-observation', 'follow-up'] },
  { stage: 'completed', words: 'Completed (off study)', statuses: ['off-study'] },
  { stage: 'withdrawn', words: 'Withdrawn', statuses: ['withdrawn'] },
];

/** One stage of the funnel with its count. */
export interface FunnelRow {
  readonly stage: string;
  readonly words: string;
  readonly count: number;
}

/**
 * The recruitment funnel: every ResearchSubject (one per screened patient) in the stage of its current
 * status, so the stages add up to the screened total.
 * @param subjects - Every ResearchSubject of the study.
 * @returns The screened total and one row per stage.
 */
export function funnel(subjects: readonly ResearchSubject[]): { screened: number; rows: FunnelRow[] } {
  const rows = FUNNEL_STAGES.map((s) => ({ stage: s.stage, words: s.words, count: subjects.filter((r) => s.statuses.includes(r.status)).length }));
  const known = new Set(FUNNEL_STAGES.flatMap((s) => s.statuses));
  const other = subjects.filter((r) => !known.has(r.status)).length;
  return { screened: subjects.length, rows: other > 0 ? [...rows, { stage: 'other', words: 'Other status', count: other }] : rows };
}

/**
 * Wilson score interval of a proportion (Wilson 1927; Newcombe 1998, method 3), 95% by default.
 * Chosen over the Wald interval because it stays inside [0, 1] and behaves at 0/n and n/n, which
 * small visit counts hit.
 * @param successes - Responders.
 * @param n - Denominator.
 * @param z - Normal quantile (1.96 for 95%).
 * @returns Estimate and bounds, or undefined for n = 0.
 */
export function wilson(successes: number, n: number, z = 1.959964): { p: number; low: number; high: number } | undefined {
  if (n <= 0) return undefined;
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  // At 0/n and n/n the bounds are exactly 0 and 1; floating point would give 1e-17 off.
  return { p, low: successes === 0 ? 0 : Math.max(0, centre - half), high: successes === n ? 1 : Math.min(1, centre + half) };
}

/** SRI-4 response at one visit in one analysis population. */
export interface ResponseRow {
  readonly visit: string;
  readonly analysis: 'ITT' | 'Evaluable';
  readonly responders: number;
  readonly n: number;
  readonly p: number;
  readonly low: number;
  readonly high: number;
}

/**
 * SRI-4 response by visit with 95% Wilson intervals, in two populations: evaluable (responders over
 * responders + non-responders) and ITT (not-evaluable results count as non-responders, as D9 does for
 * the week-48 endpoint: every subject with a result at the visit is in the denominator).
 * @param sri4 - sri4-response Observations of every subject.
 * @returns Rows by visit order, ITT first.
 */
export function responseByVisit(sri4: readonly Observation[]): ResponseRow[] {
  const byVisit = new Map<string, { r: number; n: number; e: number }>();
  for (const o of sri4) {
    const visit = visitOf(o);
    const outcome = codeIn(o.valueCodeableConcept, SYSTEMS.assessments);
    if (!visit || !outcome) continue;
    const c = byVisit.get(visit) ?? { r: 0, n: 0, e: 0 };
    if (outcome === 'responder') c.r++;
    else if (outcome === 'non-responder') c.n++;
    else c.e++;
    byVisit.set(visit, c);
  }
  const order = (v: string): number => (VISIT_ORDER.includes(v) ? VISIT_ORDER.indexOf(v) : 99);
  return [...byVisit.entries()]
    .sort(([a], [b]) => order(a) - order(b))
    .flatMap(([visit, c]) => {
      const rows: ResponseRow[] = [];
      const itt = wilson(c.r, c.r + c.n + c.e);
      if (itt) rows.push({ visit, analysis: 'ITT', responders: c.r, n: c.r + c.n + c.e, ...itt });
      const evaluable = wilson(c.r, c.r + c.n);
      if (evaluable) rows.push({ visit, analysis: 'Evaluable', responders: c.r, n: c.r + c.n, ...evaluable });
      return rows;
    });
}

/** One subject's predicted probability against its observed week-48 outcome. */
export interface CalibrationPoint {
  readonly subject: string;
  readonly probability: number;
  /** responder, non-responder, not-evaluable, or not-yet (no week-48 result). */
  readonly observed: string;
}

/**
 * Predicted probabilities against the observed week-48 SRI-4 (the primary endpoint), where both exist.
 * @param predictions - response-prediction Observations.
 * @param sri4 - sri4-response Observations.
 * @returns One point per subject with an evaluable prediction.
 */
export function predictedVsObserved(predictions: readonly Observation[], sri4: readonly Observation[]): CalibrationPoint[] {
  const week48 = new Map<string, string>();
  for (const o of sri4) {
    const primary = (o.category ?? []).some((c) => codeIn(c, SYSTEMS.assessments) === 'primary-endpoint') || visitOf(o) === 'week-48';
    const who = o.subject?.reference?.replace(/^Patient\//, '');
    const outcome = codeIn(o.valueCodeableConcept, SYSTEMS.assessments);
    if (primary && who && outcome) week48.set(who, outcome);
  }
  return predictions.flatMap((o): CalibrationPoint[] => {
    const who = o.subject?.reference?.replace(/^Patient\//, '');
    const probability = o.component?.find((c) => codeIn(c.code, SYSTEMS.assessments) === 'response-probability')?.valueQuantity?.value;
    return who && probability !== undefined ? [{ subject: who, probability, observed: week48.get(who) ?? 'not-yet' }] : [];
  });
}
