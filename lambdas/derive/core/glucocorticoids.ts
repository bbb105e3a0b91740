import { dailyDoseOn, doseLines, exposurePeriod, ingredientsOf, matchesDrug, type MedicationResource } from './medications.js';
import type { DerivationRules } from './rules.js';

type Medications = DerivationRules['medications'];
type Glucocorticoid = Medications['glucocorticoids']['drugs'][number];

/** Prednisone-equivalent daily dose on a date (response-indices.md §8). */
export interface PrednisoneEquivalent {
  /** mg/day, rounded to 0.01 mg; undefined when a covering record's dose cannot be read. */
  readonly mgPerDay: number | undefined;
  /** The same in integer hundredths of a mg, for threshold comparisons without floating point. */
  readonly hundredths: number | undefined;
  readonly evidence: readonly MedicationResource[];
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
 * The prednisone-equivalent daily dose on a date: the sum over glucocorticoids of the current systemic
 * daily dose × factor (response-indices.md §8, factors as data). Pulses are left out.
 * @param date - The day (YYYY-MM-DD).
 * @param records - The subject's usable medication records.
 * @param meds - The medication data.
 * @returns The dose with its evidence.
 */
export function prednisoneEquivalentOn(date: string, records: readonly MedicationResource[], meds: Medications): PrednisoneEquivalent {
  let total: number | undefined = 0;
  const evidence: MedicationResource[] = [];
  for (const drug of meds.glucocorticoids.drugs) {
    const pulseMinMg = (meds.glucocorticoids.pulseMinPrednisoneEquivalentMg * drug.equivalentMg) / 5;
    const dose = dailyDoseOn(date, records, { display: drug.display, rxnorm: drug.rxnorm }, meds, pulseMinMg);
    evidence.push(...dose.evidence);
    total = dose.mgPerDay === undefined || total === undefined ? undefined : total + toPrednisoneEquivalent(dose.mgPerDay, drug);
  }
  const hundredths = total === undefined ? undefined : Math.round(total * 100);
  return { mgPerDay: hundredths === undefined ? undefined : hundredths / 100, hundredths, evidence };
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
