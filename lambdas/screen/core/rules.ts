import type { CodeableConcept, Condition, Dosage, Observation, Reference } from '@medplum/fhirtypes';
import type { CodeSet } from './code-set.js';
import type { CriteriaFile, RuleDefinition, Window } from './criteria-schema.js';
import { addCalendar, formatDuration, windowStart } from './dates.js';
import {
  type Bound,
  certainlyAbove,
  certainlyBelow,
  type MedicationResource,
  overlap,
  type PatientRecord,
  possiblyAbove,
  possiblyBelow,
  quantityIn,
  ref,
} from './record.js';
import { type Exposure, type ExposureSettings, measureExposure } from './therapy.js';

/** The state of one criterion. */
export type CriterionState = 'met' | 'not-met' | 'unknown' | 'review';

/** What a rule concluded, before any investigator decision. */
export interface RuleOutcome {
  readonly state: CriterionState;
  /** References (`Type/id`) of the resources that decided it. */
  readonly evidence: readonly string[];
  /** Why, in words built from the rule only (never from patient data). */
  readonly reason: string;
}

/** A compiled rule: a pure function of the record and the states of the criteria before it. */
export type Rule = (record: PatientRecord, earlier: ReadonlyMap<string, CriterionState>) => RuleOutcome;

/** What a rule needs besides its definition. */
export interface RuleContext {
  readonly set: (name: string) => CodeSet;
  readonly settings: CriteriaFile['settings'];
  readonly unconfirmed: ReadonlySet<string>;
  /** Codes of the criteria compiled before this one. */
  readonly earlier: ReadonlySet<string>;
}

type ResultClass = 'positive' | 'negative' | 'indeterminate' | 'unreadable';

const outcome = (state: CriterionState, reason: string, evidence: readonly string[] = []): RuleOutcome => ({
  state,
  reason,
  evidence: [...new Set(evidence)].sort(),
});

function windowFrom(record: PatientRecord, window: Window): number {
  return window === 'any' ? -Infinity : windowStart(record.day0, window);
}

function windowText(window: Window): string {
  return window === 'any' ? 'at any time before day 0' : `within ${formatDuration(window)} before day 0`;
}

function routes(m: MedicationResource): CodeableConcept[] {
  const dosages: (Dosage | { route?: CodeableConcept })[] =
    m.resourceType === 'MedicationAdministration'
      ? m.dosage
        ? [m.dosage]
        : []
      : m.resourceType === 'MedicationRequest'
        ? (m.dosageInstruction ?? [])
        : (m.dosage ?? []);
  return dosages.map((d) => d.route).filter((r): r is CodeableConcept => r !== undefined);
}

function reasonsOf(record: PatientRecord, codes: CodeableConcept[] | undefined, refs: Reference[] | undefined): CodeableConcept[] {
  const resolved = (refs ?? [])
    .map((r) => record.resolve(r.reference))
    .filter((r): r is Condition => r?.resourceType === 'Condition')
    .map((c) => c.code)
    .filter((c): c is CodeableConcept => c !== undefined);
  return [...(codes ?? []), ...resolved];
}

function latestDay<T>(items: readonly { item: T; day: number }[]): T[] {
  const last = Math.max(...items.map((i) => i.day));
  return items.filter((i) => i.day === last).map((i) => i.item);
}

/**
 * Compiles one rule definition into its evaluator. Set names are resolved here, so a rule file that
 * names a missing set fails at load, not per patient.
 * @param def - The rule as written.
 * @param ctx - Sets and settings.
 * @returns The evaluator.
 */
export function compileRule(def: RuleDefinition, ctx: RuleContext): Rule {
  switch (def.type) {
    case 'diagnosis':
      return diagnosisRule(def, ctx);
    case 'age':
      return ageRule(def);
    case 'score':
      return scoreRule(def, ctx);
    case 'refractory':
      return refractoryRule(def, ctx);
    case 'condition-history':
      return conditionHistoryRule(def, ctx);
    case 'lab-threshold':
      return labThresholdRule(def, ctx);
    case 'serology':
      return serologyRule(def, ctx);
    case 'medication-exposure':
      return medicationExposureRule(def, ctx);
    case 'suppressive-therapy':
      return suppressiveTherapyRule(def, ctx);
    case 'hospitalisation':
      return hospitalisationRule(def, ctx);
    case 'parenteral-anti-infective':
      return parenteralRule(def, ctx);
    case 'anaphylaxis':
      return anaphylaxisRule(def, ctx);
    case 'investigator':
      return () => outcome('review', 'Investigator judgement only: settled by an investigator decision.');
  }
}

type Def<T extends RuleDefinition['type']> = Extract<RuleDefinition, { type: T }>;

function diagnosisRule(def: Def<'diagnosis'>, ctx: RuleContext): Rule {
  const confirmed = ctx.set(def.confirmed);
  const possible = ctx.set(def.possible);
  const excluded = ctx.set(def.excluded);
  return (record) => {
    const sure: string[] = [];
    const maybe: string[] = [];
    const drug: string[] = [];
    for (const c of record.conditions) {
      if (excluded.has(c.code)) {
        drug.push(ref(c));
      } else if (confirmed.has(c.code)) {
        const verification = c.verificationStatus?.coding?.[0]?.code;
        (verification && ctx.unconfirmed.has(verification) ? maybe : sure).push(ref(c));
      } else if (possible.has(c.code)) {
        maybe.push(ref(c));
      }
    }
    if (sure.length > 0 && drug.length > 0) {
      return outcome('review', 'Both SLE and drug-induced lupus are coded: the investigator decides.', [...sure, ...drug]);
    }
    if (sure.length > 0) {
      return def.requireInvestigatorConfirmation
        ? outcome('review', 'SLE diagnosis coded; fulfilment of the ACR 1997 criteria needs the investigator’s confirmation.', sure)
        : outcome('met', 'SLE diagnosis coded.', sure);
    }
    if (maybe.length > 0) {
      return outcome('review', 'Lupus erythematosus coded without SLE, or an unconfirmed SLE diagnosis: possible SLE, the investigator decides.', maybe);
    }
    if (drug.length > 0) {
      return outcome('not-met', 'Only drug-induced lupus is coded.', drug);
    }
    return outcome('not-met', 'No SLE diagnosis on record.');
  };
}

function ageRule(def: Def<'age'>): Rule {
  const when = def.reference === 'screening-date' ? 'the screening date' : 'day 0';
  return (record) => {
    const birth = record.birthDate();
    const patient = record.patient ? [ref(record.patient)] : [];
    if (!birth) {
      return outcome('unknown', 'Birth date missing.', patient);
    }
    const day = def.reference === 'screening-date' ? record.asOf : record.day0;
    const earliest = addCalendar(birth.lo, def.minYears, 'a');
    const latest = addCalendar(birth.hi, def.minYears, 'a');
    if (birth.lo !== birth.hi && def.partialBirthDate === 'review') {
      return outcome('review', 'Birth date is partial.', patient);
    }
    if (day >= latest) {
      return outcome('met', `Aged ${def.minYears} or over on ${when}.`, patient);
    }
    if (day < earliest) {
      return outcome('not-met', `Under ${def.minYears} on ${when}.`, patient);
    }
    return outcome('review', `Birth date is partial: whether ${def.minYears} is reached on ${when} is ambiguous.`, patient);
  };
}

function scoreRule(def: Def<'score'>, ctx: RuleContext): Rule {
  const set = ctx.set(def.set);
  const scope = `within ${formatDuration(def.window)} before day 0`;
  return (record) => {
    const from = windowStart(record.day0, def.window);
    const found: { item: Observation; day: number }[] = [];
    for (const o of record.observations) {
      if (!set.has(o.code)) {
        continue;
      }
      const day = record.observationDay(o);
      if (day && day.lo >= from && day.hi <= record.day0 && scoreValue(o) !== undefined) {
        found.push({ item: o, day: day.lo });
      }
    }
    if (found.length === 0) {
      return outcome('unknown', `No SLEDAI-2K total ${scope}.`);
    }
    const sameDay = latestDay(found);
    const preferred = def.preferProfile ? sameDay.filter((o) => o.meta?.profile?.includes(def.preferProfile as string)) : [];
    const pool = preferred.length > 0 ? preferred : sameDay;
    const values = new Set(pool.map(scoreValue));
    const evidence = pool.map(ref);
    if (values.size > 1) {
      return outcome('review', `Different SLEDAI-2K totals on the latest day ${scope}.`, evidence);
    }
    const [value = 0] = values;
    return value >= def.atLeast
      ? outcome('met', `Latest SLEDAI-2K total ${scope} is ${def.atLeast} or more.`, evidence)
      : outcome('not-met', `Latest SLEDAI-2K total ${scope} is below ${def.atLeast}.`, evidence);
  };
}

function scoreValue(o: Observation): number | undefined {
  return o.valueInteger ?? o.valueQuantity?.value;
}

function refractoryRule(def: Def<'refractory'>, ctx: RuleContext): Rule {
  if (!ctx.earlier.has(def.activeCriterion)) {
    throw new Error(`incl-refractory needs '${def.activeCriterion}' to come before it`);
  }
  const therapy = ctx.set(def.therapy);
  const relapse = ctx.set(def.relapse);
  const proteinuria = ctx.set(def.renal.set);
  const intoleranceTypes = new Set<string>(def.intoleranceTypes);
  const renal = def.renal;
  const systemic = def.systemicTherapy;
  const exposureSettings: ExposureSettings = {
    routes: ctx.set(systemic.routes),
    localForms: ctx.set(systemic.localForms),
    systemicForms: ctx.set(systemic.systemicForms),
    systemicOnly: ctx.set(systemic.systemicOnly),
    minimum: systemic.minimum,
    maxGap: systemic.maxGap,
  };
  const minimum = formatDuration(systemic.minimum);
  return (record, earlier) => {
    // E1: a documented intolerance is refractory whatever the duration of therapy.
    const intolerant = record.allergies.filter(
      (a) => a.type !== undefined && intoleranceTypes.has(a.type) && (therapy.has(a.code) || a.reaction?.some((r) => therapy.has(r.substance))),
    );
    if (intolerant.length > 0) {
      return outcome('met', 'Intolerance to a glucocorticoid, antimalarial or immunosuppressant is recorded.', intolerant.map(ref));
    }
    const exposure = measureExposure(record, therapy, exposureSettings);
    const treatedRefs = exposure.records.map((t) => t.ref);
    const inadequate = inadequateTherapy(exposure, minimum);

    // Renal: 24-h proteinuria results up to day 0, oldest first, against the start of systemic therapy.
    const results: { ref: string; day: number; bound: Bound }[] = [];
    for (const o of record.observations) {
      if (!proteinuria.has(o.code)) {
        continue;
      }
      const day = record.observationDay(o);
      const bound = quantityIn(o.valueQuantity, renal.unit);
      if (day && bound && day.hi <= record.day0) {
        results.push({ ref: ref(o), day: day.lo, bound });
      }
    }
    results.sort((a, b) => a.day - b.day);
    const renalOutcome = renalRefractory(results, exposure.systemicStart, renal);
    // A renal flare is a documented relapse (E1); persistence needs adequate therapy like unresponsiveness.
    if (renalOutcome.state === 'met' && (renalOutcome.flare || !inadequate)) {
      return outcome('met', renalOutcome.reason, [...treatedRefs, ...renalOutcome.evidence]);
    }
    if (renalOutcome.state === 'met') {
      return outcome('review', `${renalOutcome.reason} ${inadequate ?? ''}`.trim(), [...treatedRefs, ...renalOutcome.evidence]);
    }
    const relapses = relapse.empty ? [] : record.conditions.filter((c) => relapse.has(c.code)).map(ref);
    if (exposure.records.length > 0 && relapses.length > 0) {
      return outcome('met', 'Relapse recorded after glucocorticoid, antimalarial or immunosuppressant therapy.', [...treatedRefs, ...relapses]);
    }
    if (renalOutcome.state === 'review') {
      return outcome('review', renalOutcome.reason, [...treatedRefs, ...renalOutcome.evidence]);
    }
    if (exposure.records.length === 0) {
      return outcome(def.noTherapy, 'No glucocorticoid, antimalarial or immunosuppressant therapy on record.');
    }
    const active = earlier.get(def.activeCriterion);
    switch (active) {
      case 'met':
        return inadequate
          ? outcome('review', `Disease still active, but ${inadequate}`, treatedRefs)
          : outcome('met', `Disease still active (SLEDAI-2K) after ${minimum} or more of systemic glucocorticoid, antimalarial or immunosuppressant therapy.`, treatedRefs);
      case 'not-met':
        return outcome('not-met', 'Treated, but the disease is not active by SLEDAI-2K and no intolerance, relapse or renal criterion is recorded.', treatedRefs);
      case 'review':
        return outcome('review', 'Treated; disease activity needs review.', treatedRefs);
      case 'unknown':
      case undefined:
        return inadequate
          ? outcome('review', `Disease activity unknown (no SLEDAI-2K total), and ${inadequate}`, treatedRefs)
          : outcome('unknown', 'Treated; disease activity unknown (no SLEDAI-2K total).', treatedRefs);
    }
  };
}

/**
 * Why the therapy on record is not adequate under E1, in rule words, or undefined when it is.
 * @param exposure - The measured exposure.
 * @param minimum - The minimum duration as text.
 * @returns The reason, or undefined.
 */
function inadequateTherapy(exposure: Exposure, minimum: string): string | undefined {
  if (exposure.adequate) {
    return undefined;
  }
  const systemic = exposure.records.filter((r) => r.route === 'systemic');
  const tail = `refractory needs ${minimum} of systemic (oral, IV, IM or subcutaneous) therapy before day 0 (E1): the investigator decides.`;
  if (systemic.length === 0) {
    return exposure.records.some((r) => r.route === 'unknown')
      ? `the route of the glucocorticoid, antimalarial or immunosuppressant therapy is not recorded; ${tail}`
      : `only topical or local glucocorticoid, antimalarial or immunosuppressant therapy is on record; ${tail}`;
  }
  return systemic.some((r) => r.first === undefined || r.last === undefined)
    ? `systemic therapy on record covers less than ${minimum} with dates, and some of it has no start or end; ${tail}`
    : `systemic therapy on record covers less than ${minimum}; ${tail}`;
}

function renalRefractory(
  results: readonly { ref: string; day: number; bound: Bound }[],
  therapyStart: number | undefined,
  renal: Def<'refractory'>['renal'],
): RuleOutcome & { readonly flare?: boolean } {
  if (results.length === 0) {
    return outcome('not-met', 'No 24-h proteinuria result.');
  }
  if (therapyStart === undefined) {
    return results.some((r) => possiblyAbove(r.bound, renal.persistentAbove))
      ? outcome('review', 'Proteinuria above the renal threshold, but the start of systemic therapy is not dated.', results.map((r) => r.ref))
      : outcome('not-met', 'No proteinuria above the renal threshold.');
  }
  const during = results.filter((r) => r.day >= therapyStart);
  // (a) persistence: the latest result at least `persistentAfter` after the start of therapy.
  const after = addCalendar(therapyStart, renal.persistentAfter.value, renal.persistentAfter.unit);
  const late = during.filter((r) => r.day >= after);
  const lastLate = late[late.length - 1];
  let review: string[] = [];
  if (lastLate) {
    if (certainlyAbove(lastLate.bound, renal.persistentAbove)) {
      return outcome('met', `24-h proteinuria above ${renal.persistentAbove} ${renal.unit} ${formatDuration(renal.persistentAfter)} or more after the start of therapy.`, [
        lastLate.ref,
      ]);
    }
    if (possiblyAbove(lastLate.bound, renal.persistentAbove)) {
      review = [lastLate.ref];
    }
  }
  // (b) flare: above `flareAbove` after a complete response; (c) otherwise a doubling.
  for (let j = 1; j < during.length; j++) {
    const current = during[j];
    if (!current) {
      continue;
    }
    const prior = during.slice(0, j);
    const response = prior.find((p) => certainlyBelow(p.bound, renal.completeResponseBelow));
    if (response) {
      if (certainlyAbove(current.bound, renal.flareAbove)) {
        return { ...outcome('met', `Renal flare: 24-h proteinuria above ${renal.flareAbove} ${renal.unit} after a complete response.`, [response.ref, current.ref]), flare: true };
      }
      if (possiblyAbove(current.bound, renal.flareAbove)) {
        review = [...review, response.ref, current.ref];
      }
      continue;
    }
    const nadir = prior.reduce((a, b) => (b.bound.value < a.bound.value ? b : a));
    const lower = current.bound.comparator === '<' || current.bound.comparator === '<=' ? 0 : current.bound.value;
    const upper = nadir.bound.comparator === '>' || nadir.bound.comparator === '>=' ? Infinity : nadir.bound.value;
    if (lower >= renal.doublingFactor * upper && certainlyAbove(current.bound, renal.doublingMinimum)) {
      return { ...outcome('met', `Renal flare: 24-h proteinuria at least ${renal.doublingFactor} times an earlier value during therapy.`, [nadir.ref, current.ref]), flare: true };
    }
  }
  return review.length > 0
    ? outcome('review', 'Renal criterion cannot be resolved from the reported proteinuria values.', review)
    : outcome('not-met', 'Renal criterion not met.');
}

function conditionHistoryRule(def: Def<'condition-history'>, ctx: RuleContext): Rule {
  const tiers = def.tiers.map((t) => ({ ...t, codes: ctx.set(t.set) }));
  return (record) => {
    const met: { ref: string; reason: string }[] = [];
    const review: { ref: string; reason: string }[] = [];
    for (const c of record.conditions) {
      const tier = tiers.find((t) => t.codes.has(c.code));
      if (!tier || tier.outcome === 'ignore') {
        continue;
      }
      const seen = overlap(record.conditionSpan(c), windowFrom(record, tier.window), record.day0);
      if (seen === 'no') {
        continue;
      }
      if (seen === 'undated') {
        if (def.undated !== 'ignore') {
          (def.undated === 'met' ? met : review).push({ ref: ref(c), reason: `${tier.reason} Condition has no dates.` });
        }
        continue;
      }
      const verification = c.verificationStatus?.coding?.[0]?.code;
      if (tier.outcome === 'met' && seen === 'yes' && !(verification && ctx.unconfirmed.has(verification))) {
        met.push({ ref: ref(c), reason: tier.reason });
      } else if (tier.outcome === 'met') {
        review.push({ ref: ref(c), reason: `${tier.reason} Dates or verification status leave it unclear.` });
      } else {
        review.push({ ref: ref(c), reason: tier.reason });
      }
    }
    const summarise = (hits: { ref: string; reason: string }[]): string => [...new Set(hits.map((h) => h.reason))].sort().join(' ');
    if (met.length > 0) {
      return outcome('met', summarise(met), met.map((h) => h.ref));
    }
    if (review.length > 0) {
      return outcome('review', summarise(review), review.map((h) => h.ref));
    }
    if (def.investigatorJudgement) {
      return outcome('review', 'Nothing coded meets the rule; the investigator’s judgement is still needed.');
    }
    return outcome('not-met', 'Nothing on record meets this exclusion.');
  };
}

function labThresholdRule(def: Def<'lab-threshold'>, ctx: RuleContext): Rule {
  const set = ctx.set(def.set);
  const limit = `${def.below} ${def.unit}`;
  return (record) => {
    const from = windowFrom(record, def.window);
    const found: { item: Observation; day: number }[] = [];
    for (const o of record.observations) {
      if (!set.has(o.code) || o.valueQuantity?.value === undefined) {
        continue;
      }
      const day = record.observationDay(o);
      if (day && day.lo >= from && day.hi <= record.day0) {
        found.push({ item: o, day: day.lo });
      }
    }
    if (found.length === 0) {
      return outcome('unknown', `No result ${windowText(def.window)}.`);
    }
    const latest = latestDay(found);
    const states = new Set(
      latest.map((o): CriterionState => {
        const bound = quantityIn(o.valueQuantity, def.unit);
        if (!bound) {
          return 'review';
        }
        return certainlyBelow(bound, def.below) ? 'met' : possiblyBelow(bound, def.below) ? 'review' : 'not-met';
      }),
    );
    const evidence = latest.map(ref);
    const [state] = states;
    if (states.size > 1 || state === 'review' || state === undefined) {
      return outcome('review', `Latest result cannot be compared with ${limit} (comparator, unit or conflicting results).`, evidence);
    }
    return state === 'met'
      ? outcome('met', `Latest result ${windowText(def.window)} is below ${limit}.`, evidence)
      : outcome('not-met', `Latest result ${windowText(def.window)} is ${limit} or more.`, evidence);
  };
}

function serologyRule(def: Def<'serology'>, ctx: RuleContext): Rule {
  const conditions = ctx.set(def.conditions);
  const groups = def.required.map((g) => ({ label: g.label, codes: ctx.set(g.set) }));
  const extra = def.positiveOnly.map((name) => ctx.set(name));
  const classify = resultClassifier(ctx);
  return (record) => {
    const diagnosed = record.conditions.filter((c) => conditions.has(c.code) && overlap(record.conditionSpan(c), -Infinity, record.day0) !== 'no');
    if (diagnosed.length > 0) {
      return outcome('met', 'Infection coded as a condition.', diagnosed.map(ref));
    }
    const positive: string[] = [];
    const status = groups.map(() => ({ negative: [] as string[], unclear: [] as string[] }));
    for (const o of record.observations) {
      const g = groups.findIndex((grp) => grp.codes.has(o.code));
      if (g < 0 && !extra.some((s) => s.has(o.code))) {
        continue;
      }
      const day = record.observationDay(o);
      if (day && day.lo > record.day0) {
        continue;
      }
      const cls = classify(o);
      if (cls === 'positive') {
        positive.push(ref(o));
      } else if (g >= 0) {
        const slot = status[g];
        (cls === 'negative' ? slot?.negative : slot?.unclear)?.push(ref(o));
      }
    }
    if (positive.length > 0) {
      return outcome('met', 'Positive test result.', positive);
    }
    const unclear = groups.filter((_, i) => status[i]?.negative.length === 0 && (status[i]?.unclear.length ?? 0) > 0);
    if (unclear.length > 0) {
      return outcome(
        'review',
        `Indeterminate or unreadable result: ${unclear.map((g) => g.label).join(', ')}.`,
        status.flatMap((s) => s.unclear),
      );
    }
    const missing = groups.filter((_, i) => status[i]?.negative.length === 0);
    if (missing.length > 0) {
      return outcome('unknown', `No result on record: ${missing.map((g) => g.label).join(', ')}.`, status.flatMap((s) => s.negative));
    }
    return outcome('not-met', 'All required tests negative.', status.flatMap((s) => s.negative));
  };
}

function resultClassifier(ctx: RuleContext): (o: Observation) => ResultClass {
  const positive = ctx.set(ctx.settings.results.positive);
  const negative = ctx.set(ctx.settings.results.negative);
  const indeterminate = ctx.set(ctx.settings.results.indeterminate);
  const positiveWords = new Set(ctx.settings.results.positiveStrings.map((s) => s.toLowerCase()));
  const negativeWords = new Set(ctx.settings.results.negativeStrings.map((s) => s.toLowerCase()));
  const ofConcepts = (concepts: readonly CodeableConcept[]): ResultClass | undefined => {
    if (concepts.some((c) => positive.has(c))) {
      return 'positive';
    }
    if (concepts.some((c) => indeterminate.has(c))) {
      return 'indeterminate';
    }
    return concepts.some((c) => negative.has(c)) ? 'negative' : undefined;
  };
  return (o) => {
    const fromValue = o.valueCodeableConcept ? ofConcepts([o.valueCodeableConcept]) : undefined;
    if (fromValue) {
      return fromValue;
    }
    const fromInterpretation = ofConcepts(o.interpretation ?? []);
    if (fromInterpretation) {
      return fromInterpretation;
    }
    if (o.valueString) {
      const word = o.valueString.trim().toLowerCase();
      if (positiveWords.has(word)) {
        return 'positive';
      }
      if (negativeWords.has(word)) {
        return 'negative';
      }
    }
    const high = o.referenceRange?.[0]?.high?.value;
    if (o.valueQuantity?.value !== undefined && high !== undefined) {
      const bound = quantityIn(o.valueQuantity, o.valueQuantity.code ?? o.valueQuantity.unit ?? '');
      if (bound) {
        return certainlyAbove(bound, high) ? 'positive' : possiblyAbove(bound, high) ? 'indeterminate' : 'negative';
      }
    }
    return 'unreadable';
  };
}

function medicationExposureRule(def: Def<'medication-exposure'>, ctx: RuleContext): Rule {
  const set = ctx.set(def.set);
  return (record) => {
    const from = windowFrom(record, def.window);
    const met: string[] = [];
    const review: string[] = [];
    for (const m of record.medications) {
      if (!set.has(m.medicationCodeableConcept)) {
        continue;
      }
      const seen = overlap(record.medicationSpan(m), from, record.day0);
      const state = seen === 'undated' ? def.undated : seen === 'yes' ? 'met' : seen === 'maybe' ? 'review' : 'ignore';
      if (state === 'met') {
        met.push(ref(m));
      } else if (state === 'review') {
        review.push(ref(m));
      }
    }
    if (met.length > 0) {
      return outcome('met', `Treatment on record ${windowText(def.window)}.`, met);
    }
    if (review.length > 0) {
      return outcome('review', `Treatment on record whose dates leave it unclear whether it falls ${windowText(def.window)}.`, review);
    }
    return outcome('not-met', 'No such treatment on record.');
  };
}

function suppressiveTherapyRule(def: Def<'suppressive-therapy'>, ctx: RuleContext): Rule {
  const drugs = ctx.set(def.drugs);
  const infections = ctx.set(def.infections);
  return (record) => {
    const chronic = record.conditions.filter((c) => infections.has(c.code) && overlap(record.conditionSpan(c), record.day0, record.day0) === 'yes');
    const linked: string[] = [];
    const unlinked: string[] = [];
    for (const m of record.medications) {
      if (!drugs.has(m.medicationCodeableConcept)) {
        continue;
      }
      const current =
        record.currentAtDay0(m) ||
        (m.resourceType === 'MedicationAdministration' &&
          overlap(record.medicationSpan(m), windowStart(record.day0, def.administeredWithin), record.day0) === 'yes');
      if (!current) {
        continue;
      }
      const reasons = reasonsOf(record, m.reasonCode, m.reasonReference);
      (reasons.some((r) => infections.has(r)) || chronic.length > 0 ? linked : unlinked).push(ref(m));
    }
    if (linked.length > 0) {
      return outcome('met', 'Current anti-infective therapy for a chronic infection.', [...linked, ...chronic.map(ref)]);
    }
    if (unlinked.length > 0) {
      return def.unlinked === 'not-met'
        ? outcome('not-met', 'Current anti-infective with no chronic infection on record (taken as prophylaxis).', unlinked)
        : outcome(def.unlinked, 'Current anti-infective with no chronic infection on record: prophylaxis or suppressive therapy? The investigator decides.', unlinked);
    }
    return outcome('not-met', 'No current suppressive anti-infective therapy.');
  };
}

function hospitalisationRule(def: Def<'hospitalisation'>, ctx: RuleContext): Rule {
  const classes = ctx.set(def.classes);
  const types = ctx.set(def.types);
  const infection = ctx.set(def.reasons);
  const scope = `within ${formatDuration(def.window)} before day 0`;
  return (record) => {
    const from = windowStart(record.day0, def.window);
    const met: string[] = [];
    const review: string[] = [];
    for (const e of record.encounters) {
      if (!(e.class && classes.hasCoding(e.class)) && !e.type?.some((t) => types.has(t))) {
        continue;
      }
      const seen = overlap(record.encounterSpan(e), from, record.day0);
      if (seen === 'no') {
        continue;
      }
      const reasons = reasonsOf(record, e.reasonCode, e.reasonReference);
      if (reasons.some((r) => infection.has(r))) {
        (seen === 'yes' ? met : review).push(ref(e));
      } else if (reasons.length === 0 && def.noReason === 'review') {
        review.push(ref(e));
      }
    }
    if (met.length > 0) {
      return outcome('met', `Hospital stay for infection ${scope}.`, met);
    }
    if (review.length > 0) {
      return outcome('review', `Hospital stay ${scope} with no recorded reason or unclear dates.`, review);
    }
    return outcome('not-met', `No hospital stay for infection ${scope}.`);
  };
}

function parenteralRule(def: Def<'parenteral-anti-infective'>, ctx: RuleContext): Rule {
  const drugs = ctx.set(def.drugs);
  const parenteral = ctx.set(def.routes);
  const infection = ctx.set(def.reasons);
  const scope = `within ${formatDuration(def.window)} before day 0`;
  return (record) => {
    const from = windowStart(record.day0, def.window);
    const met: string[] = [];
    const review: string[] = [];
    for (const m of record.medications) {
      if (!drugs.has(m.medicationCodeableConcept) && !reasonsOf(record, m.reasonCode, m.reasonReference).some((r) => infection.has(r))) {
        continue;
      }
      const seen = overlap(record.medicationSpan(m), from, record.day0);
      if (seen === 'no') {
        continue;
      }
      const routeList = routes(m);
      if (routeList.some((r) => parenteral.has(r))) {
        (seen === 'yes' ? met : review).push(ref(m));
      } else if (routeList.length === 0 && def.noRoute === 'review') {
        review.push(ref(m));
      }
    }
    if (met.length > 0) {
      return outcome('met', `Parenteral anti-infective ${scope}.`, met);
    }
    if (review.length > 0) {
      return outcome('review', `Anti-infective ${scope} with no route recorded or unclear dates.`, review);
    }
    return outcome('not-met', `No parenteral anti-infective ${scope}.`);
  };
}

function anaphylaxisRule(def: Def<'anaphylaxis'>, ctx: RuleContext): Rule {
  const manifestations = ctx.set(def.manifestations);
  const triggers = ctx.set(def.triggers);
  const conditions = ctx.set(def.conditions);
  const categories = new Set(def.reviewCategories);
  return (record) => {
    const met: string[] = [];
    const review: string[] = [];
    for (const a of record.allergies) {
      const anaphylaxis = a.reaction?.some((r) => r.manifestation?.some((m) => manifestations.has(m))) ?? false;
      const trigger = triggers.has(a.code) || (a.reaction?.some((r) => triggers.has(r.substance)) ?? false);
      if (anaphylaxis && trigger) {
        met.push(ref(a));
      } else if (anaphylaxis && a.category?.some((c) => categories.has(c))) {
        review.push(ref(a));
      } else if (trigger && (a.criticality === 'high' || a.reaction?.some((r) => r.severity === 'severe'))) {
        review.push(ref(a));
      }
    }
    for (const c of record.conditions) {
      if (conditions.has(c.code)) {
        review.push(ref(c));
      }
    }
    if (met.length > 0) {
      return outcome('met', 'Anaphylaxis to a contrast agent, human or murine protein or monoclonal antibody.', met);
    }
    if (review.length > 0) {
      return outcome('review', 'Anaphylaxis with an unidentified trigger, or a severe reaction to a listed substance: the investigator decides.', review);
    }
    return outcome('not-met', 'No anaphylaxis to a listed substance on record.');
  };
}
