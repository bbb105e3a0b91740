import type { Observation } from '@medplum/fhirtypes';
import { calendarDate, codeIn, observationDate, resolveSystem, type StudyUrls } from './fhir-access.js';
import { dailyDoseOn, doseLines, exposurePeriod, ingredientsOf, matchesDrug, type MedicationResource } from './medications.js';
import type { DerivationRules } from './rules.js';

type Medications = DerivationRules['medications'];
type Glucocorticoid = Medications['glucocorticoids']['drugs'][number];

/** Prednisone-equivalent daily dose on a date (response-indices.md §8, D10). */
export interface PrednisoneEquivalent {
  /** mg/day, rounded to 0.01 mg; undefined when a covering record's dose cannot be read or the dose is undecided. */
  readonly mgPerDay: number | undefined;
  /** The same in integer hundredths of a mg, for threshold comparisons without floating point. */
  readonly hundredths: number | undefined;
  readonly evidence: readonly MedicationResource[];
  /** D10: products whose records tie for latest and disagree, with those records (the dose is undecided). */
  readonly undecided: readonly { readonly product: string; readonly records: readonly MedicationResource[] }[];
  /** The investigator's decision that set the dose for the date, if any (D10). */
  readonly decidedBy?: Observation;
}

/**
 * Converts a dose of one glucocorticoid to prednisone-equivalent mg: dose × 5 / (dose of the drug
 * equal to 5 mg prednisolone). Multiplying before dividing keeps 0.75 mg dexamethasone at exactly 5.
 * @param mg - Dose of the drug in mg.
 * @param drug - The drug's data entry.
 * @returns Prednisone-equivalent mg.
 */
export function toPrednisoneEquivalent(mg: number, drug: Pick<Glucocorticoid, 'equivalentMg'>): number {
  return (mg * 5) / drug.equivalentMg;
}

/**
 * The investigator's decision of the prednisone-equivalent dose on a date (D10): an Observation coded
 * study-assessments#investigator-decision, effective on the date, written by the review settlement
 * (meta.source `{base}/investigator`), with a prednisone-equivalent-dose component in mg/d. The latest
 * (by meta.lastUpdated, then id) wins when an investigator decided twice.
 * @param date - The day (YYYY-MM-DD).
 * @param observations - The subject's usable Observations.
 * @param urls - The study URLs.
 * @param meds - The medication data.
 * @returns The decided dose in mg/day and its Observation, or undefined.
 */
export function investigatorDoseOn(
  date: string,
  observations: readonly Observation[],
  urls: StudyUrls,
  meds: Medications,
): { mgPerDay: number; observation: Observation } | undefined {
  const rule = meds.glucocorticoids.currentDose.investigatorDecision;
  const source = resolveSystem(rule.source, urls);
  const found = observations
    .filter((o) => o.meta?.source === source && codeIn(o, urls.assessments) === rule.code && calendarDate(observationDate(o) ?? '') === date)
    .map((o) => ({ o, q: o.component?.find((c) => c.code.coding?.some((k) => k.system === urls.assessments && k.code === rule.component))?.valueQuantity }))
    .filter((x) => x.q?.value !== undefined && (x.q.code ?? rule.unit) === rule.unit)
    .sort((a, b) => (a.o.meta?.lastUpdated ?? '').localeCompare(b.o.meta?.lastUpdated ?? '') || (a.o.id ?? '').localeCompare(b.o.id ?? ''))
    .at(-1);
  return found ? { mgPerDay: found.q?.value as number, observation: found.o } : undefined;
}

/** What the dose on a date may be decided by besides the medication records. */
export interface DoseContext {
  readonly observations: readonly Observation[];
  readonly urls: StudyUrls;
}

/**
 * The prednisone-equivalent daily dose on a date (D10): the sum over glucocorticoid products of each
 * product's current systemic daily dose (its latest covering record, see `dailyDoseOn`) × factor
 * (response-indices.md §8, factors as data). Pulses are left out. When records of a product tie and
 * disagree the dose is undecided (named in `undecided`) unless the investigator decided the dose for
 * the date, which then is the dose.
 * @param date - The day (YYYY-MM-DD).
 * @param records - The subject's usable medication records.
 * @param meds - The medication data.
 * @param decisions - The subject's Observations and URLs, to read an investigator's decision.
 * @returns The dose with its evidence.
 */
export function prednisoneEquivalentOn(date: string, records: readonly MedicationResource[], meds: Medications, decisions?: DoseContext): PrednisoneEquivalent {
  let total: number | undefined = 0;
  const evidence: MedicationResource[] = [];
  const undecided: { product: string; records: readonly MedicationResource[] }[] = [];
  for (const drug of meds.glucocorticoids.drugs) {
    const pulseMinMg = (meds.glucocorticoids.pulseMinPrednisoneEquivalentMg * drug.equivalentMg) / 5;
    const dose = dailyDoseOn(date, records, { display: drug.display, rxnorm: drug.rxnorm }, meds, pulseMinMg);
    evidence.push(...dose.evidence);
    if (dose.conflict) {
      undecided.push({ product: drug.display, records: dose.conflict });
    }
    total = dose.mgPerDay === undefined || total === undefined ? undefined : total + toPrednisoneEquivalent(dose.mgPerDay, drug);
  }
  const decided = decisions ? investigatorDoseOn(calendarDate(date), decisions.observations, decisions.urls, meds) : undefined;
  if (decided) {
    const hundredths = Math.round(decided.mgPerDay * 100);
    return { mgPerDay: hundredths / 100, hundredths, evidence, undecided, decidedBy: decided.observation };
  }
  const hundredths = total === undefined ? undefined : Math.round(total * 100);
  return { mgPerDay: hundredths === undefined ? undefined : hundredths / 100, hundredths, evidence, undecided };
}

/** A single glucocorticoid dose at or above the pulse threshold. */
export interface GlucocorticoidPulse {
  readonly record: MedicationResource;
  /** First day of the record (YYYY-MM-DD). */
  readonly date: string;
  readonly display: string;
  readonly prednisoneEquivalentMg: number;
}

/**
 * Glucocorticoid pulses on systemic routes: single doses whose prednisone equivalent reaches the
 * data's threshold (response-indices.md §8: handled under the prohibited-medication rule).
 * @param records - The subject's usable medication records.
 * @param meds - The medication data.
 * @returns The pulses.
 */
export function glucocorticoidPulses(records: readonly MedicationResource[], meds: Medications): GlucocorticoidPulse[] {
  const pulses: GlucocorticoidPulse[] = [];
  for (const record of records) {
    const drug = meds.glucocorticoids.drugs.find((d) => matchesDrug(record.medicationCodeableConcept, { display: d.display, rxnorm: d.rxnorm }, meds));
    const date = exposurePeriod(record)?.start;
    if (!drug || !date) {
      continue;
    }
    const strength = ingredientsOf(record.medicationCodeableConcept, meds).find((i) => i.strengthMg !== undefined)?.strengthMg;
    const largest = Math.max(
      ...doseLines(record, strength, meds)
        .filter((l) => l.systemic && l.doseMg !== undefined)
        .map((l) => toPrednisoneEquivalent(l.doseMg as number, drug)),
    );
    if (largest >= meds.glucocorticoids.pulseMinPrednisoneEquivalentMg) {
      pulses.push({ record, date, display: drug.display, prednisoneEquivalentMg: largest });
    }
  }
  return pulses;
}

/** The outcome of the D7(d) check. */
export interface GlucocorticoidIncrease {
  /** The first day at or after week 24 whose dose is above the day-0 dose. */
  readonly event?: { readonly date: string; readonly detail: string; readonly evidence: readonly MedicationResource[] };
  /** Days whose dose is undecided (D10), with the first visit day each matters for. */
  readonly undecided: readonly { readonly date: string; readonly from: string; readonly detail: string; readonly evidence: readonly MedicationResource[] }[];
}

/**
 * D7(d): a prednisone-equivalent daily dose above the day-0 (baseline) dose at week 24 or later — not
 * tapered back to baseline by week 24, or increased above baseline after it. The days checked are the
 * week-24 day, every later visit day and the start of every later glucocorticoid record (a dose only
 * rises when a record starts); the first day above baseline is the event. A dose equal to baseline is
 * not above it (compared in hundredths of a mg). Undecided doses (D10) are returned so that an
 * investigator can decide them.
 * @param day0 - Day 0 (YYYY-MM-DD).
 * @param week24 - The week-24 assessment day, or day 0 + 168 without one.
 * @param visitDays - The post-baseline visit days.
 * @param records - The subject's usable medication records.
 * @param meds - The medication data.
 * @param decisions - Observations and URLs for investigator decisions.
 * @returns The event, if any, and the undecided days.
 */
export function glucocorticoidIncrease(
  day0: string,
  week24: string,
  visitDays: readonly string[],
  records: readonly MedicationResource[],
  meds: Medications,
  decisions: DoseContext,
): GlucocorticoidIncrease {
  const undecided: { date: string; from: string; detail: string; evidence: readonly MedicationResource[] }[] = [];
  const baseline = prednisoneEquivalentOn(day0, records, meds, decisions);
  if (baseline.hundredths === undefined) {
    if (baseline.undecided.length > 0) {
      undecided.push({ date: day0, from: week24, detail: `the day-0 dose is undecided (${describe(baseline)}).`, evidence: baseline.undecided.flatMap((u) => u.records) });
    }
    return { undecided };
  }
  const steroidStarts = records
    .filter((r) => meds.glucocorticoids.drugs.some((d) => matchesDrug(r.medicationCodeableConcept, { display: d.display, rxnorm: d.rxnorm }, meds)))
    .map((r) => exposurePeriod(r)?.start)
    .filter((d): d is string => d !== undefined);
  const days = [...new Set([week24, ...visitDays, ...steroidStarts].filter((d) => d >= week24))].sort();
  for (const day of days) {
    const dose = prednisoneEquivalentOn(day, records, meds, decisions);
    if (dose.hundredths === undefined) {
      if (dose.undecided.length > 0) {
        undecided.push({ date: day, from: day, detail: `the dose on ${day} is undecided (${describe(dose)}).`, evidence: dose.undecided.flatMap((u) => u.records) });
      }
      continue;
    }
    if (dose.hundredths > baseline.hundredths) {
      const how = day === week24 ? 'not tapered back to the baseline dose by week 24' : 'increased above the baseline dose after week 24';
      return {
        event: {
          date: day,
          detail: `prednisone-equivalent ${dose.mgPerDay ?? '?'} mg/day on ${day} is above the day-0 dose of ${baseline.mgPerDay ?? '?'} mg/day (${how}).`,
          evidence: [...baseline.evidence, ...dose.evidence],
        },
        undecided,
      };
    }
  }
  return { undecided };
}

function describe(dose: PrednisoneEquivalent): string {
  return dose.undecided.map((u) => `${u.product}: ${u.records.map((r) => `${r.resourceType}/${r.id ?? '?'}`).join(', ')} disagree`).join('; ');
}
