import type { Coding, Extension, Observation, ObservationComponent, Resource } from '@medplum/fhirtypes';
import { addDays, allOf, calendarDate, observationDate, referenceTo, type Tri } from './fhir-access.js';
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

/** A baseline value with the day it was assessed (D1). */
export interface Dated<T> {
  readonly value: T;
  readonly date: string;
}

/**
 * The baseline of each SRI component, chosen separately (D1): the SLEDAI-2K score (the latest
 * complete one, D3), each BILAG-2004 domain, the PGA.
 */
export interface Baseline {
  /** The visit whose complete SLEDAI-2K score is the baseline. */
  readonly sledai?: Dated<AssessedVisit>;
  readonly bilag: ReadonlyMap<string, Dated<BilagGrade>>;
  readonly pga?: Dated<PgaValue>;
}

/**
 * The baseline of each component (D1): among the visits assessed on or before day 0 and no earlier
 * than day 0 + fromDay (−28, the screening window), the latest assessment of the component. The
 * SLEDAI-2K baseline is the latest *complete* score (D3: a partial score has no total and is never an
 * SRI component, so an earlier complete score in the window is preferred to no baseline); each BILAG
 * domain and the PGA are read from their own Observation's date.
 * @param visits - The subject's assessed visits, by date.
 * @param day0 - Day 0 (YYYY-MM-DD), or undefined when unknown (then there is no baseline).
 * @param rules - The derivation rules.
 * @returns The baseline.
 */
export function baselineOf(visits: readonly AssessedVisit[], day0: string | undefined, rules: DerivationRules): Baseline {
  if (!day0) {
    return { bilag: new Map() };
  }
  const { fromDay, toDay } = rules.response.visits.baselineWindow;
  const from = addDays(day0, fromDay);
  const to = addDays(day0, toDay);
  const inWindow = (date: string | undefined): date is string => date !== undefined && date >= from && date <= to;
  const dayOf = (o: Observation): string | undefined => {
    const date = observationDate(o);
    return date ? calendarDate(date) : undefined;
  };
  let sledai: Dated<AssessedVisit> | undefined;
  let pga: Dated<PgaValue> | undefined;
  const bilag = new Map<string, Dated<BilagGrade>>();
  // Visits come sorted by date: a later assessment overwrites an earlier one.
  for (const visit of visits) {
    if (visit.sledai?.total !== undefined && inWindow(visit.visit.date) && (!sledai || visit.visit.date >= sledai.date)) {
      sledai = { value: visit, date: visit.visit.date };
    }
    const pgaDate = visit.pga ? dayOf(visit.pga.observation) : undefined;
    if (visit.pga && inWindow(pgaDate) && (!pga || pgaDate >= pga.date)) {
      pga = { value: visit.pga, date: pgaDate };
    }
    for (const [domain, grade] of visit.bilag) {
      const date = dayOf(grade.observation);
      const known = bilag.get(domain);
      if (inWindow(date) && (!known || date >= known.date)) {
        bilag.set(domain, { value: grade, date });
      }
    }
  }
  return { ...(sledai ? { sledai } : {}), bilag, ...(pga ? { pga } : {}) };
}

/** Something that makes a subject a non-responder whatever the components say (D6, D7, response-indices.md §3). */
export interface NonResponseEvent {
  readonly reason: Extract<ReasonKey, 'withdrawal' | 'prohibitedMedication' | 'newImmunosuppressant' | 'glucocorticoidIncrease' | 'missingEndpoint'>;
  /** First day the event applies (YYYY-MM-DD); undefined = applies to the endpoint only. */
  readonly from?: string;
  /** Applies to the endpoint whatever its date (D6: withdrawn is early discontinuation, "the endpoint included"). */
  readonly endpoint?: boolean;
  readonly detail: string;
  readonly evidence: readonly Resource[];
}

/** A non-response rule the data cannot decide from a date on (D10: an undecided glucocorticoid dose). */
export interface PendingCheck {
  /** The day whose dose is undecided (YYYY-MM-DD). */
  readonly date: string;
  /** First visit day the undecided rule matters for. */
  readonly from: string;
  readonly detail: string;
  readonly evidence: readonly Resource[];
}

/** A reason with the item it names (D8: the missing component; D9: the component without baseline). */
export interface OutcomeReason {
  readonly reason: ReasonKey;
  readonly item?: Coding;
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
  /** The items missing at the visit (D8): the SLEDAI-2K total, a BILAG domain, the PGA. */
  readonly missing: readonly Coding[];
  /** The post-baseline visits whose assessments were used (the visit first). */
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
  baseline: ReadonlyMap<string, BilagGrade | Dated<BilagGrade>>,
  visit: ReadonlyMap<string, BilagGrade>,
  rules: DerivationRules,
): { newA: number; newB: number } | undefined {
  const { domains, newA, newB } = rules.response.bilag;
  let a = 0;
  let b = 0;
  for (const domain of domains) {
    const known = baseline.get(domain);
    const before = known && 'value' in known ? known.value.grade : known?.grade;
    const now = visit.get(domain)?.grade;
    if (before === undefined || now === undefined) {
      return undefined;
    }
    a += newA.atVisit.includes(now) && newA.atBaseline.includes(before) ? 1 : 0;
    b += newB.atVisit.includes(now) && newB.atBaseline.includes(before) ? 1 : 0;
  }
  return { newA: a, newB: b };
}

/** The codings that name SRI items (the SLEDAI-2K total, a BILAG-2004 domain, the PGA) in reasons. */
export interface ItemSystems {
  readonly sledai: string;
  readonly bilag: string;
  readonly assessments: string;
}

/**
 * The three SRI components of a visit against each component's baseline (D1). With
 * `missingComponent: locf`, a component missing at the visit is carried forward from the latest
 * earlier post-baseline visit that has it; otherwise the missing items are listed (D8).
 * @param baseline - The baseline of each component.
 * @param visit - The visit.
 * @param earlier - Post-baseline visits before this one, oldest first (for LOCF).
 * @param rules - The derivation rules.
 * @param systems - The code systems that name the items.
 * @returns The components.
 */
export function sriComponents(
  baseline: Baseline,
  visit: AssessedVisit,
  earlier: readonly AssessedVisit[],
  rules: DerivationRules,
  systems: ItemSystems,
): SriComponents {
  const locf = rules.response.sri.missingComponent === 'locf';
  const carriedForward: string[] = [];
  const sources = new Set<AssessedVisit>([visit]);
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
  const baseTotal = baseline.sledai?.value.sledai?.total;
  // A partial score (D3) has no total: it is a missing component, never a low one.
  const total = pick('sledai', (v) => v.sledai?.total);
  const bilag = pick('bilag', (v) => newBilagDomains(baseline.bilag, v.bilag, rules));
  const pga = pick('pga', (v) => v.pga?.hundredths);
  const missing: Coding[] = [];
  if (total === undefined) {
    missing.push({ system: systems.sledai, code: rules.sledai.totalCode });
  }
  if (bilag === undefined) {
    missing.push(...rules.response.bilag.domains.filter((d) => !visit.bilag.has(d)).map((code) => ({ system: systems.bilag, code })));
  }
  if (pga === undefined) {
    missing.push({ system: systems.assessments, code: rules.response.pga.code });
  }
  return {
    ...(baseTotal !== undefined && total !== undefined ? { reduction: baseTotal - total } : {}),
    ...(bilag ? { newA: bilag.newA, newB: bilag.newB } : {}),
    ...(pga !== undefined && baseline.pga ? { pgaChange: pga - baseline.pga.value.hundredths } : {}),
    carriedForward,
    missing,
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
export function sriCriteria(components: Pick<SriComponents, 'reduction' | 'newA' | 'newB' | 'pgaChange'>, minReduction: number, rules: DerivationRules): SriCriteria {
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
  readonly reasons: readonly OutcomeReason[];
  readonly criteria?: SriCriteria;
}

/**
 * The items without a baseline (D1, D9): the SLEDAI-2K total, each BILAG-2004 domain, the PGA.
 * @param baseline - The baseline.
 * @param rules - The derivation rules.
 * @param systems - The code systems that name the items.
 * @returns The items, empty when every component has a baseline.
 */
export function missingBaseline(baseline: Baseline, rules: DerivationRules, systems: ItemSystems): Coding[] {
  return [
    ...(baseline.sledai ? [] : [{ system: systems.sledai, code: rules.sledai.totalCode }]),
    ...rules.response.bilag.domains.filter((d) => !baseline.bilag.has(d)).map((code) => ({ system: systems.bilag, code })),
    ...(baseline.pga ? [] : [{ system: systems.assessments, code: rules.response.pga.code }]),
  ];
}

/**
 * The SRI outcome, in this order: not evaluable when a component has no baseline or the baseline
 * SLEDAI-2K is below the index's reduction (D9, response-indices.md §2: such subjects cannot respond,
 * so they are reported as not evaluable); then non-responder for any non-response event (D6, D7);
 * then the components: all met = responder, otherwise non-responder, every missing component named
 * as a reason (D8) even when another component fails, so that the export can apply LOCF instead.
 * @param baseline - The baseline of each component.
 * @param components - The visit's components (undefined for a missing endpoint visit).
 * @param minReduction - The index's SLEDAI-2K reduction.
 * @param events - Non-response events that apply to this visit.
 * @param rules - The derivation rules.
 * @param systems - The code systems that name the items.
 * @returns The outcome.
 */
export function sriOutcome(
  baseline: Baseline,
  components: SriComponents | undefined,
  minReduction: number,
  events: readonly NonResponseEvent[],
  rules: DerivationRules,
  systems: ItemSystems,
): SriOutcome {
  const noBaseline = missingBaseline(baseline, rules, systems);
  if (noBaseline.length > 0) {
    return { value: 'notEvaluable', reasons: noBaseline.map((item) => ({ reason: 'missingBaseline', item })) };
  }
  if ((baseline.sledai?.value.sledai?.total ?? 0) < minReduction) {
    return { value: 'notEvaluable', reasons: [{ reason: 'baselineBelowThreshold', item: { system: systems.sledai, code: rules.sledai.totalCode } }] };
  }
  const criteria = components ? sriCriteria(components, minReduction, rules) : undefined;
  const locf: OutcomeReason[] = components?.carriedForward.length ? [{ reason: 'lastObservationCarriedForward' }] : [];
  const missing: OutcomeReason[] = (components?.missing ?? []).map((item) => ({ reason: 'missingComponent', item }));
  if (events.length > 0) {
    const seen = new Set<string>();
    const reasons = events.filter((e) => !seen.has(e.reason) && seen.add(e.reason)).map((e): OutcomeReason => ({ reason: e.reason }));
    return { value: 'nonResponder', reasons, ...(criteria ? { criteria } : {}) };
  }
  if (!criteria) {
    return { value: 'nonResponder', reasons: [{ reason: 'missingEndpoint' }] };
  }
  const met = allOf([criteria.sledai, criteria.newA, criteria.newB, criteria.pga]);
  return { value: met === true ? 'responder' : 'nonResponder', reasons: [...missing, ...locf], criteria };
}

const DATA_ABSENT = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';
const UCUM = 'http://unitsofmeasure.org';

/** On a criterion component: the baseline it was compared with (D1): `date`, `source`, for BILAG `domain`. */
export const SRI_BASELINE_EXTENSION = 'sri-baseline';
/** On an outcome-reason component: the study decision behind it (D6, D7, D8, D9). */
export const STUDY_DECISION_EXTENSION = 'study-decision';
/** On an outcome-reason component: the item the reason names (the missing component, D8; the component without baseline, D9). */
export const REASON_ITEM_EXTENSION = 'outcome-reason-item';
/** On the primary endpoint: whether the subject is in the ITT population (≥ 1 completed belimumab dose, D9). */
export const ITT_POPULATION_EXTENSION = 'itt-population';

/** Inputs of one SRI Observation. */
export interface SriObservationInput {
  readonly index: DerivationRules['response']['sri']['indices'][number];
  readonly visit: VisitRef;
  readonly outcome: SriOutcome;
  readonly baseline: Baseline;
  readonly components?: SriComponents;
  readonly events: readonly NonResponseEvent[];
  /** Undecided rules that could still make this visit a non-responder (D10). */
  readonly pending?: readonly PendingCheck[];
  /** The endpoint window, for an endpoint Observation without a visit. */
  readonly period?: { start: string; end: string };
  /** Whether the subject received at least one dose (the ITT population of D9). */
  readonly dosed: boolean;
  readonly notes?: readonly string[];
}

function baselineExtension(ctx: DerivedContext, date: string, source: string | undefined, domain?: string): Extension {
  return {
    url: ctx.urls.structureDefinition(SRI_BASELINE_EXTENSION),
    extension: [
      ...(domain ? [{ url: 'domain', valueCode: domain }] : []),
      { url: 'date', valueDate: date },
      ...(source ? [{ url: 'source', valueReference: { reference: source } }] : []),
    ],
  };
}

/**
 * The response Observation of one SRI index at one visit: valueCodeableConcept responder /
 * non-responder / not-evaluable; one component per criterion with the measured value, an
 * interpretation criterion-met / criterion-not-met (dataAbsentReason when missing) and the
 * `sri-baseline` extension naming the baseline it was compared with and its date (D1); one
 * outcome-reason component per reason, with the `study-decision` behind it and the item it names;
 * the primary endpoint (SRI-4 at week 48) carries the primary-endpoint category, the
 * `itt-population` extension and, when not evaluable in the ITT population, the itt-non-responder
 * category (D9). A response that an undecided glucocorticoid dose could still overturn (D10) is
 * `preliminary`.
 * @param input - The index, visit, outcome and components.
 * @param ctx - The subject context.
 * @returns The derived Observation.
 */
export function sriObservation(input: SriObservationInput, ctx: DerivedContext): Observation {
  const { rules, urls } = ctx;
  const codes = rules.response.codes;
  const header = derivedHeader(ctx, input.visit, input.index.code, assessmentConcept(ctx, input.index.code, input.index.display));
  const primary = rules.response.sri.primaryEndpoint;
  const isPrimary = primary.index === input.index.code && primary.visit === input.visit.code;
  const c = input.components;
  const b = input.baseline;
  const criteria = input.outcome.criteria;
  const component: ObservationComponent[] = [];
  const sledaiRef = (v: AssessedVisit): string => `Observation/${derivedId(ctx.subject, v.visit.key, 'sledai-2k')}`;
  const baselines = {
    sledai: b.sledai ? [baselineExtension(ctx, b.sledai.date, sledaiRef(b.sledai.value))] : [],
    bilag: rules.response.bilag.domains.flatMap((d) => {
      const grade = b.bilag.get(d);
      return grade ? [baselineExtension(ctx, grade.date, referenceTo(grade.value.observation)?.reference, d)] : [];
    }),
    pga: b.pga ? [baselineExtension(ctx, b.pga.date, referenceTo(b.pga.value.observation)?.reference)] : [],
  };
  const criterion = (code: string, met: Tri, value: Partial<ObservationComponent>, baseline: Extension[]): void => {
    component.push({
      ...(baseline.length > 0 ? { extension: baseline } : {}),
      code: assessmentConcept(ctx, code),
      ...(met === undefined
        ? { dataAbsentReason: { coding: [{ system: DATA_ABSENT, code: 'unknown' }] } }
        : { ...value, interpretation: [assessmentConcept(ctx, met ? codes.criterionMet : codes.criterionNotMet)] }),
    });
  };
  if (criteria && c) {
    criterion(codes.sledaiReduction, criteria.sledai, { valueInteger: c.reduction }, baselines.sledai);
    criterion(codes.bilagNewA, criteria.newA, { valueInteger: c.newA }, baselines.bilag);
    criterion(codes.bilagNewB, criteria.newB, { valueInteger: c.newB }, baselines.bilag);
    criterion(codes.pgaChange, criteria.pga, { valueQuantity: { value: (c.pgaChange ?? 0) / 100, unit: '{score}', system: UCUM, code: '{score}' } }, baselines.pga);
  }
  for (const r of input.outcome.reasons) {
    const reason = codes.reasons[r.reason];
    component.push({
      extension: [
        ...(reason.decision ? [{ url: urls.structureDefinition(STUDY_DECISION_EXTENSION), valueCode: reason.decision }] : []),
        ...(r.item ? [{ url: urls.structureDefinition(REASON_ITEM_EXTENSION), valueCoding: r.item }] : []),
      ],
      code: assessmentConcept(ctx, codes.outcomeReason),
      valueCodeableConcept: {
        ...assessmentConcept(ctx, reason.code),
        ...(r.item || reason.decision ? { text: [reason.code, r.item?.code, reason.decision ? `(${reason.decision})` : undefined].filter(Boolean).join(' ') } : {}),
      },
    });
  }
  const pending = input.outcome.value === 'responder' ? (input.pending ?? []) : [];
  const notes = [
    ...input.events.map((e) => e.detail),
    ...(c?.carriedForward.length ? [`Carried forward from an earlier visit: ${c.carriedForward.join(', ')}.`] : []),
    ...pending.map((p) => p.detail),
    ...(input.notes ?? []),
  ];
  const value = { responder: codes.responder, nonResponder: codes.nonResponder, notEvaluable: codes.notEvaluable }[input.outcome.value];
  const sources = c?.sources ?? [];
  const evidence = evidenceParts(
    ctx,
    [...(b.sledai ? [sledaiRef(b.sledai.value)] : []), ...sources.flatMap((v) => (v.sledai ? [sledaiRef(v)] : []))],
    [
      ...[...b.bilag.values()].map((g) => g.value.observation),
      ...(b.pga ? [b.pga.value.observation] : []),
      ...sources.flatMap((v) => [...[...v.bilag.values()].map((g) => g.observation), ...(v.pga ? [v.pga.observation] : [])]),
      ...input.events.flatMap((e) => e.evidence),
      ...pending.flatMap((p) => p.evidence),
    ],
  );
  const { ittCategory } = rules.response.sri.notEvaluable;
  const ittNonResponder = isPrimary && input.dosed && input.outcome.value === 'notEvaluable';
  const category = [
    ...(header.category ?? []),
    ...(isPrimary ? [assessmentConcept(ctx, codes.primaryEndpoint, 'Primary endpoint')] : []),
    ...(ittNonResponder ? [assessmentConcept(ctx, ittCategory, 'Non-responder in the ITT analysis')] : []),
  ];
  return {
    ...header,
    ...(pending.length > 0 ? { status: 'preliminary' as const } : {}),
    category,
    ...(input.period && !header.effectiveDateTime ? { effectivePeriod: input.period } : {}),
    valueCodeableConcept: assessmentConcept(ctx, value),
    ...(component.length > 0 ? { component } : {}),
    extension: [
      ...(header.extension ?? []),
      ...(isPrimary ? [{ url: urls.structureDefinition(ITT_POPULATION_EXTENSION), valueBoolean: input.dosed }] : []),
      ...evidence.extension,
    ],
    ...(evidence.derivedFrom.length > 0 ? { derivedFrom: evidence.derivedFrom } : {}),
    ...(notes.length > 0 ? { note: notes.map((text) => ({ text })) } : {}),
  };
}
