import type { Resource } from '@medplum/fhirtypes';
import type { EligibilityCriteria } from './criteria.js';
import { dayOfDate, formatDay } from './dates.js';
import { PatientRecord, ref } from './record.js';
import type { CriterionState } from './rules.js';

export type { CriterionState } from './rules.js';

/** The overall screening state. */
export type OverallState = 'eligible' | 'candidate' | 'ineligible';

/** What the screen needs about one patient. */
export interface ScreeningInput {
  /** The study's canonical base, e.g. `https://belimumab-sle.example.org/fhir`. */
  readonly base: string;
  /** The patient's pseudonym (the study Patient id). */
  readonly patient: string;
  /** All of the patient's study resources. */
  readonly resources: readonly Resource[];
  /** The screening date (its UTC calendar day is used); stands in for day 0 before the first belimumab. */
  readonly asOf: Date;
}

/** One criterion's result. */
export interface CriterionResult {
  /** The criterion's code in `{base}/CodeSystem/study-assessments`. */
  readonly code: string;
  readonly kind: 'inclusion' | 'exclusion';
  /** The criterion in plain words: the registry bullet it implements (the Group characteristic's text). */
  readonly text: string;
  /** After any investigator decision. */
  readonly state: CriterionState;
  /** What the data alone gave, before any investigator decision. */
  readonly computedState: CriterionState;
  /** References (`Type/id`) of the resources that decided it, the decision included. */
  readonly evidence: readonly string[];
  /** Why, built from the rule only: no patient data. */
  readonly reason: string;
  /** The investigator decision Observation that settled it, if one did. */
  readonly settledBy?: string;
}

/** The result of screening one patient. */
export interface ScreeningResult {
  readonly patient: string;
  /** The screening day, `YYYY-MM-DD`. */
  readonly asOf: string;
  /** Day 0, `YYYY-MM-DD`. */
  readonly day0: string;
  /** Whether day 0 is the first belimumab administration or the screening date standing in. */
  readonly day0Source: 'belimumab' | 'screening-date';
  /** `id|version` of the rule file used. */
  readonly criteriaVersion: string;
  readonly criteria: readonly CriterionResult[];
  readonly overall: OverallState;
}

interface Decision {
  readonly value: 'met' | 'not-met';
  readonly ref: string;
  readonly day: number;
  readonly tie: string;
}

/**
 * Screens one patient against the study's criteria. Pure: the same input gives the same result.
 * @param input - The patient's resources, the base and the screening date.
 * @param criteria - The loaded criteria.
 * @returns Per-criterion states with their evidence, and the overall state.
 */
export function screenPatient(input: ScreeningInput, criteria: EligibilityCriteria): ScreeningResult {
  const compiled = criteria.forBase(input.base);
  const asOf = dayOfDate(input.asOf);
  const record = new PatientRecord(input.patient, input.resources, asOf, compiled.belimumab, compiled.recordSettings);
  const decisions = investigatorDecisions(record, `${input.base}/CodeSystem/study-assessments`, compiled.settings.investigatorDecision.code);
  const states = new Map<string, CriterionState>();
  const results: CriterionResult[] = [];
  for (const criterion of compiled.criteria) {
    const computed = criterion.evaluate(record, states);
    const decision = decisions.get(criterion.code);
    let result: CriterionResult = { code: criterion.code, kind: criterion.kind, text: criterion.bullet, state: computed.state, computedState: computed.state, evidence: computed.evidence, reason: computed.reason };
    if (decision) {
      const evidence = [...new Set([...computed.evidence, decision.ref])].sort();
      if (computed.state === 'review' || computed.state === 'unknown') {
        result = { ...result, state: decision.value, evidence, reason: `Settled by investigator decision. ${computed.reason}`, settledBy: decision.ref };
      } else if (computed.state !== decision.value) {
        result = { ...result, evidence, reason: `${computed.reason} An investigator decision disagrees with the coded data: correct the data or the decision.` };
      } else {
        result = { ...result, evidence };
      }
    }
    states.set(criterion.code, result.state);
    results.push(result);
  }
  return {
    patient: input.patient,
    asOf: formatDay(asOf),
    day0: formatDay(record.day0),
    day0Source: record.day0Evidence ? 'belimumab' : 'screening-date',
    criteriaVersion: criteria.version,
    criteria: results,
    overall: overallState(results),
  };
}

/**
 * Eligible when every inclusion is met and no exclusion is, with nothing unknown or under review;
 * ineligible when an inclusion is not met or an exclusion is met; otherwise candidate.
 * @param results - Per-criterion results.
 * @returns The overall state.
 */
export function overallState(results: readonly Pick<CriterionResult, 'kind' | 'state'>[]): OverallState {
  if (results.some((r) => (r.kind === 'inclusion' ? r.state === 'not-met' : r.state === 'met'))) {
    return 'ineligible';
  }
  return results.some((r) => r.state === 'unknown' || r.state === 'review') ? 'candidate' : 'eligible';
}

/**
 * The investigator's decisions on the record, latest per criterion (the shape is documented in the
 * rule file, settings.investigatorDecision). Shape: an Observation with
 * code `study-assessments#investigator-decision`, a status other than entered-in-error or cancelled,
 * an effective date on or before the screening date, and one component per decided criterion:
 * `component.code` = `study-assessments#<criterion code>`, `component.valueCodeableConcept` =
 * `study-assessments#met` or `#not-met`. The latest effective day wins (then the latest
 * meta.lastUpdated, then the id, so that ties resolve the same way every time).
 */
function investigatorDecisions(record: PatientRecord, studySystem: string, decisionCode: string): Map<string, Decision> {
  const out = new Map<string, Decision>();
  for (const o of record.observations) {
    if (!o.code.coding?.some((c) => c.system === studySystem && c.code === decisionCode)) {
      continue;
    }
    const day = record.observationDay(o);
    if (!day || day.hi > record.asOf) {
      continue;
    }
    const tie = `${o.meta?.lastUpdated ?? ''}\u0000${o.id ?? ''}`;
    for (const component of o.component ?? []) {
      const criterion = component.code.coding?.find((c) => c.system === studySystem)?.code;
      const value = component.valueCodeableConcept?.coding?.find((c) => c.system === studySystem)?.code;
      if (!criterion || (value !== 'met' && value !== 'not-met')) {
        continue;
      }
      const previous = out.get(criterion);
      if (!previous || day.lo > previous.day || (day.lo === previous.day && tie > previous.tie)) {
        out.set(criterion, { value, ref: ref(o), day: day.lo, tie });
      }
    }
  }
  return out;
}
