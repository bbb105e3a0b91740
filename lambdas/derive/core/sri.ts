import type { Observation, ObservationComponent, Resource } from '@medplum/fhirtypes';
import { allOf, type Tri } from './fhir-access.js';
import { assessmentConcept, derivedHeader, derivedId, evidenceParts, type DerivedContext, type VisitRef } from './observations.js';
import type { DerivationRules } from './rules.js';
import type { SledaiScore } from './sledai.js';
import type { BilagGrade, PgaValue, StudyVisit } from './visits.js';

type ReasonKey = keyof DerivationRules['response']['codes']['reasons'];

/** A visit with everything the response indices read from it. */
export interface AssessedVisit {
  readonly visit: StudyVisit;
  readonly sledai?: SledaiScore;
  readonly bilag: ReadonlyMap<string, BilagGrade>;
  readonly pga?: PgaValue;
}

/** Something that makes a subject a non-responder whatever the components say (response-indices.md §3). */
export interface NonResponseEvent {
  readonly reason: Extract<ReasonKey, 'withdrawal' | 'prohibitedMedication' | 'missingEndpoint'>;
  /** First day the event applies (YYYY-MM-DD); undefined = applies to the endpoint only. */
  readonly from?: string;
  readonly detail: string;
  readonly evidence: readonly Resource[];
}

/** The SRI components of a visit against baseline. */
export interface SriComponents {
  /** Baseline SLEDAI-2K total minus the visit's. */
  readonly reduction?: number;
  readonly newA?: number;
  readonly newB?: number;
  /** Visit PGA minus baseline PGA, in hundredths. */
  readonly pgaChange?: number;
  /** Components taken from an earlier post-baseline visit (LOCF). */
  readonly carriedForward: readonly string[];
  /** The visits whose assessments were used (baseline first). */
  readonly sources: readonly AssessedVisit[];
}

/**
 * Counts new BILAG-2004 A and B domains (response-indices.md §1): new A = A at the visit and not A at
 * baseline; new B = B at the visit and C, D or E at baseline, so A→B improvement is not a new B.
 * @param baseline - Baseline grades by domain.
 * @param visit - Visit grades by domain.
 * @param rules - The derivation rules.
 * @returns The counts, or undefined unless every domain is graded at both visits.
 */
export function newBilagDomains(
  baseline: ReadonlyMap<string, BilagGrade>,
  visit: ReadonlyMap<string, BilagGrade>,
  rules: DerivationRules,
): { newA: number; newB: number } | undefined {
  const { domains, newA, newB } = rules.response.bilag;
  let a = 0;
  let b = 0;
  for (const domain of domains) {
    const before = baseline.get(domain)?.grade;
    const now = visit.get(domain)?.grade;
    if (before === undefined || now === undefined) {
      return undefined;
    }
    a += newA.atVisit.includes(now) && newA.atBaseline.includes(before) ? 1 : 0;
    b += newB.atVisit.includes(now) && newB.atBaseline.includes(before) ? 1 : 0;
  }
  return { newA: a, newB: b };
}

/**
 * The three SRI components of a visit against baseline. With `missingComponent: locf`, a component
 * missing at the visit is carried forward from the latest earlier post-baseline visit that has it.
 * @param baseline - The baseline (week-0) visit.
 * @param visit - The visit.
 * @param earlier - Post-baseline visits before this one, oldest first (for LOCF).
 * @param rules - The derivation rules.
 * @returns The components.
 */
export function sriComponents(baseline: AssessedVisit, visit: AssessedVisit, earlier: readonly AssessedVisit[], rules: DerivationRules): SriComponents {
  const locf = rules.response.sri.missingComponent === 'locf';
  const carriedForward: string[] = [];
  const sources = new Set<AssessedVisit>([baseline, visit]);
  const pick = <T>(name: string, read: (v: AssessedVisit) => T | undefined): T | undefined => {
    const own = read(visit);
    if (own !== undefined || !locf) {
      return own;
    }
    const donor = [...earlier].reverse().find((v) => read(v) !== undefined);
    if (donor) {
      carriedForward.push(name);
      sources.add(donor);
    }
    return donor ? read(donor) : undefined;
  };
  const baseTotal = baseline.sledai?.total;
  const total = pick('sledai', (v) => v.sledai?.total);
  const bilag = pick('bilag', (v) => newBilagDomains(baseline.bilag, v.bilag, rules));
  const pga = pick('pga', (v) => v.pga?.hundredths);
  return {
    ...(baseTotal !== undefined && total !== undefined ? { reduction: baseTotal - total } : {}),
    ...(bilag ? { newA: bilag.newA, newB: bilag.newB } : {}),
    ...(pga !== undefined && baseline.pga ? { pgaChange: pga - baseline.pga.hundredths } : {}),
    carriedForward,
    sources: [...sources],
  };
}

/** The criteria of one SRI index at one visit. */
export interface SriCriteria {
  readonly sledai: Tri;
  readonly newA: Tri;
  readonly newB: Tri;
  readonly pga: Tri;
}

/**
 * Each criterion of an SRI index: SLEDAI-2K reduction ≥ minReduction; new A ≤ 0; new B ≤ 1; PGA
 * increase < 0.30, compared in hundredths (response-indices.md §1, §2).
 * @param components - The components.
 * @param minReduction - The index's SLEDAI-2K reduction.
 * @param rules - The derivation rules.
 * @returns Met, not met, or unknown for each.
 */
export function sriCriteria(components: SriComponents, minReduction: number, rules: DerivationRules): SriCriteria {
  const { maxNewA, maxNewB, pgaWorseningHundredths } = rules.response.sri;
  return {
    sledai: components.reduction === undefined ? undefined : components.reduction >= minReduction,
    newA: components.newA === undefined ? undefined : components.newA <= maxNewA,
    newB: components.newB === undefined ? undefined : components.newB <= maxNewB,
    pga: components.pgaChange === undefined ? undefined : components.pgaChange < pgaWorseningHundredths,
  };
}

/** An SRI result. */
export interface SriOutcome {
  readonly value: 'responder' | 'nonResponder' | 'notEvaluable';
  readonly reasons: readonly ReasonKey[];
  readonly criteria?: SriCriteria;
}

/**
 * The SRI outcome, in this order: not evaluable when baseline SLEDAI-2K, BILAG or PGA is missing or
 * the baseline score is below the index's reduction (response-indices.md §2: such subjects cannot
 * respond, so they are not counted as non-responders); then non-responder for any non-response event
 * (§3); then the components: all met = responder, any not met = non-responder, otherwise (some
 * unknown) non-responder with reason missing-component (the conservative choice of §3).
 * @param baseline - The baseline visit.
 * @param components - The visit's components (undefined for a missing endpoint visit).
 * @param minReduction - The index's SLEDAI-2K reduction.
 * @param events - Non-response events that apply to this visit.
 * @param rules - The derivation rules.
 * @returns The outcome.
 */
export function sriOutcome(
  baseline: AssessedVisit | undefined,
  components: SriComponents | undefined,
  minReduction: number,
  events: readonly NonResponseEvent[],
  rules: DerivationRules,
): SriOutcome {
  if (!baseline?.sledai || !baseline.pga || newBilagDomains(baseline.bilag, baseline.bilag, rules) === undefined) {
    return { value: 'notEvaluable', reasons: ['missingBaseline'] };
  }
  if (baseline.sledai.total < minReduction) {
    return { value: 'notEvaluable', reasons: ['baselineBelowThreshold'] };
  }
  const criteria = components ? sriCriteria(components, minReduction, rules) : undefined;
  const locf: ReasonKey[] = components?.carriedForward.length ? ['lastObservationCarriedForward'] : [];
  if (events.length > 0) {
    return { value: 'nonResponder', reasons: [...new Set(events.map((e) => e.reason))], ...(criteria ? { criteria } : {}) };
  }
  if (!criteria) {
    return { value: 'nonResponder', reasons: ['missingEndpoint'] };
  }
  const met = allOf([criteria.sledai, criteria.newA, criteria.newB, criteria.pga]);
  if (met === undefined) {
    return { value: 'nonResponder', reasons: ['missingComponent', ...locf], criteria };
  }
  return { value: met ? 'responder' : 'nonResponder', reasons: locf, criteria };
}

const DATA_ABSENT = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';
const UCUM = 'http://unitsofmeasure.org';

/** Inputs of one SRI Observation. */
export interface SriObservationInput {
  readonly index: DerivationRules['response']['sri']['indices'][number];
  readonly visit: VisitRef;
  readonly outcome: SriOutcome;
  readonly components?: SriComponents;
  readonly events: readonly NonResponseEvent[];
  /** The endpoint window, for an endpoint Observation without a visit. */
  readonly period?: { start: string; end: string };
}

/**
 * The response Observation of one SRI index at one visit: valueCodeableConcept responder /
 * non-responder / not-evaluable; one component per criterion with the measured value and an
 * interpretation criterion-met / criterion-not-met (dataAbsentReason when unknown); one outcome-reason
 * component per reason; the primary endpoint (SRI-4 at week 48) carries the primary-endpoint category.
 * @param input - The index, visit, outcome and components.
 * @param ctx - The subject context.
 * @returns The derived Observation.
 */
export function sriObservation(input: SriObservationInput, ctx: DerivedContext): Observation {
  const { rules } = ctx;
  const codes = rules.response.codes;
  const header = derivedHeader(ctx, input.visit, input.index.code, assessmentConcept(ctx, input.index.code, input.index.display));
  const primary = rules.response.sri.primaryEndpoint;
  const isPrimary = primary.index === input.index.code && primary.visit === input.visit.code;
  const c = input.components;
  const criteria = input.outcome.criteria;
  const component: ObservationComponent[] = [];
  const criterion = (code: string, met: Tri, value: Partial<ObservationComponent>): void => {
    component.push({
      code: assessmentConcept(ctx, code),
      ...(met === undefined
        ? { dataAbsentReason: { coding: [{ system: DATA_ABSENT, code: 'unknown' }] } }
        : { ...value, interpretation: [assessmentConcept(ctx, met ? codes.criterionMet : codes.criterionNotMet)] }),
    });
  };
  if (criteria && c) {
    criterion(codes.sledaiReduction, criteria.sledai, { valueInteger: c.reduction });
    criterion(codes.bilagNewA, criteria.newA, { valueInteger: c.newA });
    criterion(codes.bilagNewB, criteria.newB, { valueInteger: c.newB });
    criterion(codes.pgaChange, criteria.pga, {
      valueQuantity: { value: (c.pgaChange ?? 0) / 100, unit: '{score}', system: UCUM, code: '{score}' },
    });
  }
  for (const reason of input.outcome.reasons) {
    component.push({ code: assessmentConcept(ctx, codes.outcomeReason), valueCodeableConcept: assessmentConcept(ctx, codes.reasons[reason]) });
  }
  const notes = [
    ...input.events.map((e) => e.detail),
    ...(c?.carriedForward.length ? [`Carried forward from an earlier visit: ${c.carriedForward.join(', ')}.`] : []),
  ];
  const value = { responder: codes.responder, nonResponder: codes.nonResponder, notEvaluable: codes.notEvaluable }[input.outcome.value];
  const evidence = evidenceParts(
    ctx,
    (c?.sources ?? []).flatMap((v) => (v.sledai ? [`Observation/${derivedId(ctx.subject, v.visit.key, 'sledai-2k')}`] : [])),
    [
      ...(c?.sources ?? []).flatMap((v) => [...[...v.bilag.values()].map((g) => g.observation), ...(v.pga ? [v.pga.observation] : [])]),
      ...input.events.flatMap((e) => e.evidence),
    ],
  );
  return {
    ...header,
    ...(isPrimary ? { category: [...(header.category ?? []), assessmentConcept(ctx, codes.primaryEndpoint, 'Primary endpoint')] } : {}),
    ...(input.period && !header.effectiveDateTime ? { effectivePeriod: input.period } : {}),
    valueCodeableConcept: assessmentConcept(ctx, value),
    ...(component.length > 0 ? { component } : {}),
    extension: [...(header.extension ?? []), ...evidence.extension],
    ...(evidence.derivedFrom.length > 0 ? { derivedFrom: evidence.derivedFrom } : {}),
    ...(notes.length > 0 ? { note: notes.map((text) => ({ text })) } : {}),
  };
}
