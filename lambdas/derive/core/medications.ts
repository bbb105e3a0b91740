import type {
  CodeableConcept,
  Dosage,
  MedicationAdministration,
  MedicationRequest,
  MedicationStatement,
  Period,
  Quantity,
  Resource,
  Timing,
} from '@medplum/fhirtypes';
import { addDays, calendarDate, conceptHasAny } from './fhir-access.js';
import type { DerivationRules } from './rules.js';

type Medications = DerivationRules['medications'];

/** The medication resources the derivations read. */
export type MedicationResource = MedicationAdministration | MedicationStatement | MedicationRequest;

/** A data entry that names a drug by RxNorm ingredient and/or name prefixes. */
export interface DrugEntry {
  readonly display: string;
  readonly rxnorm?: string;
  readonly names?: readonly string[];
}

/**
 * Whether a resource is a medication record that counts (its status is not excluded by the data,
 * e.g. entered-in-error, not-taken, cancelled).
 * @param resource - Any resource.
 * @param meds - The medication data.
 * @returns True for a usable medication record.
 */
export function isUsableMedication(resource: Resource, meds: Medications): resource is MedicationResource {
  const types = ['MedicationAdministration', 'MedicationStatement', 'MedicationRequest'];
  return types.includes(resource.resourceType) && !meds.excludedStatuses.includes((resource as MedicationResource).status ?? '');
}

/**
 * The RxNorm ingredient of a medication concept and, for a known clinical drug (SCD), its strength.
 * @param concept - medicationCodeableConcept.
 * @param meds - The medication data.
 * @returns Ingredient codes with the strength per unit when the concept is an SCD from the data.
 */
export function ingredientsOf(concept: CodeableConcept | undefined, meds: Medications): { rxnorm: string; strengthMg?: number }[] {
  const codes = (concept?.coding ?? []).filter((c) => c.system === meds.rxnormSystem && c.code).map((c) => c.code as string);
  return codes.map((code) => {
    const scd = meds.clinicalDrugs.find((d) => d.rxnorm === code);
    return scd ? { rxnorm: scd.ingredient, strengthMg: scd.strengthMg } : { rxnorm: code };
  });
}

/**
 * Whether a medication concept is a drug of a data entry: by RxNorm ingredient (directly or via a
 * listed SCD), or by a display/text starting with one of the entry's names (biosimilars, or
 * ingredients whose RxCUI is not verified).
 * @param concept - medicationCodeableConcept.
 * @param entry - The data entry.
 * @param meds - The medication data.
 * @returns True on a match.
 */
export function matchesDrug(concept: CodeableConcept | undefined, entry: DrugEntry, meds: Medications): boolean {
  if (entry.rxnorm && ingredientsOf(concept, meds).some((i) => i.rxnorm === entry.rxnorm)) {
    return true;
  }
  const texts = [concept?.text, ...(concept?.coding ?? []).map((c) => c.display)]
    .filter((t): t is string => !!t)
    .map((t) => t.trim().toLowerCase());
  return (entry.names ?? []).some((name) => texts.some((t) => t.startsWith(name.toLowerCase())));
}

/**
 * The period during which a record says the drug was used (or, for a request, ordered): an
 * administration's day, a statement's effective period, a request's bounds or validity period
 * (open-ended from authoredOn otherwise).
 * @param record - A medication record.
 * @returns Start and optional end (YYYY-MM-DD), or undefined when undated.
 */
export function exposurePeriod(record: MedicationResource): { start: string; end?: string } | undefined {
  let period: Period | undefined;
  switch (record.resourceType) {
    case 'MedicationAdministration':
    case 'MedicationStatement':
      period = record.effectiveDateTime ? { start: record.effectiveDateTime, end: record.effectiveDateTime } : record.effectivePeriod;
      break;
    case 'MedicationRequest':
      period =
        record.dosageInstruction?.find((d) => d.timing?.repeat?.boundsPeriod)?.timing?.repeat?.boundsPeriod ??
        record.dispenseRequest?.validityPeriod ??
        (record.authoredOn ? { start: record.authoredOn } : undefined);
      break;
  }
  if (!period?.start) {
    return undefined;
  }
  // A finished record without an end date is history, not ongoing use: it covers its start day only.
  const finished = record.resourceType !== 'MedicationAdministration' && (record.status === 'completed' || record.status === 'stopped');
  const end = period.end ?? (finished ? period.start : undefined);
  return { start: calendarDate(period.start), ...(end ? { end: calendarDate(end) } : {}) };
}

/**
 * The first day after `day0` on which a record shows exposure, if any.
 * @param record - A medication record.
 * @param day0 - Day 0 (YYYY-MM-DD).
 * @returns The date, or undefined when the record lies wholly on or before day 0.
 */
export function exposureAfter(record: MedicationResource, day0: string): string | undefined {
  const period = exposurePeriod(record);
  if (!period) {
    return undefined;
  }
  const after = addDays(day0, 1);
  if (period.end !== undefined && period.end < after) {
    return undefined;
  }
  return period.start > after ? period.start : after;
}

/** One dose instruction of a record, normalised. */
export interface DoseLine {
  /** mg per single dose, or undefined when the unit cannot be read as mass. */
  readonly doseMg?: number;
  /** Doses per day (an administration is one dose). */
  readonly perDay: number;
  /** Whether the route counts as systemic. */
  readonly systemic: boolean;
}

const MG_FACTORS: Record<string, number> = { mg: 1, g: 1000, ug: 0.001 };
const UNIT_DOSE_CODES = new Set(['{tbl}', '{tablet}', '{tab}', '{capsule}', '{cap}', '1', '{unit}']);
const PERIOD_DAYS: Record<string, number> = { s: 1 / 86_400, min: 1 / 1440, h: 1 / 24, d: 1, wk: 7, mo: 30, a: 365 };

function doseMg(q: Quantity | undefined, strengthMg: number | undefined): number | undefined {
  if (q?.value === undefined) {
    return undefined;
  }
  const factor = q.code ? MG_FACTORS[q.code] : undefined;
  if (factor !== undefined) {
    return q.value * factor;
  }
  // A count of tablets becomes mg only through the SCD's strength.
  const isUnitDose = q.code === undefined || UNIT_DOSE_CODES.has(q.code);
  return isUnitDose && strengthMg !== undefined ? q.value * strengthMg : undefined;
}

function perDay(timing: Timing | undefined): number {
  const repeat = timing?.repeat;
  if (!repeat) {
    // No timing: the record states a daily dose (the usual way a statement carries maintenance use).
    return 1;
  }
  const days = (repeat.period ?? 1) * (PERIOD_DAYS[repeat.periodUnit ?? 'd'] ?? 1);
  return (repeat.frequency ?? 1) / days;
}

function isSystemic(route: CodeableConcept | undefined, meds: Medications): boolean {
  if (!route?.coding?.length) {
    return meds.routeMissingIsSystemic;
  }
  return conceptHasAny(route, meds.systemicRoutes);
}

/**
 * The dose lines of a record (response-indices.md §8 needs mg/day on systemic routes).
 * @param record - A medication record.
 * @param strengthMg - Strength per unit when the concept is a known SCD.
 * @param meds - The medication data.
 * @returns One line per dosage.
 */
export function doseLines(record: MedicationResource, strengthMg: number | undefined, meds: Medications): DoseLine[] {
  const fromDosage = (d: Dosage): DoseLine => {
    const dose = doseMg(d.doseAndRate?.find((r) => r.doseQuantity)?.doseQuantity, strengthMg);
    return { ...(dose === undefined ? {} : { doseMg: dose }), perDay: perDay(d.timing), systemic: isSystemic(d.route, meds) };
  };
  switch (record.resourceType) {
    case 'MedicationAdministration': {
      const dose = doseMg(record.dosage?.dose, strengthMg);
      return [{ ...(dose === undefined ? {} : { doseMg: dose }), perDay: 1, systemic: isSystemic(record.dosage?.route, meds) }];
    }
    case 'MedicationStatement':
      return (record.dosage ?? []).map(fromDosage);
    case 'MedicationRequest':
      return (record.dosageInstruction ?? []).map(fromDosage);
  }
}

/**
 * When a record was made, for "the latest record" of D10: MedicationRequest.authoredOn,
 * MedicationStatement.dateAsserted, an administration's own date; without it, the start of the period
 * the record covers. meta.lastUpdated is not used: it says when the layer stored the record, and a
 * resent old record would look new.
 * @param record - A medication record.
 * @returns YYYY-MM-DD, or undefined when the record is undated.
 */
export function recordDate(record: MedicationResource): string | undefined {
  const made = record.resourceType === 'MedicationRequest' ? record.authoredOn : record.resourceType === 'MedicationStatement' ? record.dateAsserted : undefined;
  const date = made ?? exposurePeriod(record)?.start;
  return date ? calendarDate(date) : undefined;
}

/** The current daily dose of one drug on a date. */
export interface DailyDose {
  /** mg/day on systemic routes; undefined when a covering record has a dose that cannot be read, or when undecided. */
  readonly mgPerDay: number | undefined;
  /** The records the dose was read from. */
  readonly evidence: readonly MedicationResource[];
  /** D10: records of the drug that tie for latest and disagree; the dose is undecided. */
  readonly conflict?: readonly MedicationResource[];
}

function recordMgPerDay(records: readonly MedicationResource[], meds: Medications, pulseMinMg: number | undefined): number | undefined {
  let total: number | undefined = 0;
  for (const record of records) {
    const strength = ingredientsOf(record.medicationCodeableConcept, meds).find((i) => i.strengthMg !== undefined)?.strengthMg;
    for (const line of doseLines(record, strength, meds).filter((l) => l.systemic)) {
      if (line.doseMg === undefined) {
        total = undefined;
      } else if (total !== undefined && (pulseMinMg === undefined || line.doseMg < pulseMinMg)) {
        total += line.doseMg * line.perDay;
      }
    }
  }
  return total;
}

function isPulse(record: MedicationResource, meds: Medications, pulseMinMg: number | undefined): boolean {
  if (pulseMinMg === undefined) {
    return false;
  }
  const strength = ingredientsOf(record.medicationCodeableConcept, meds).find((i) => i.strengthMg !== undefined)?.strengthMg;
  return doseLines(record, strength, meds).some((l) => l.systemic && l.doseMg !== undefined && l.doseMg >= pulseMinMg);
}

/**
 * The daily dose of one drug (product) on a date, per D10: of the records of the drug whose period
 * covers the date, the latest (by {@link recordDate}) decides, so a newer, higher request supersedes an
 * older statement and one course recorded three ways counts once. Administrations of the drug on one
 * day are one record (their doses add up). Records that tie for latest and disagree make the dose
 * undecided (`conflict`). Pulses (a single dose at or above `pulseMinMg`) are left out: they are
 * restricted medication (D7 b), never averaged in (response-indices.md §8). No covering record: 0 mg/day.
 * @param date - The day (YYYY-MM-DD).
 * @param records - The subject's usable medication records.
 * @param entry - The drug.
 * @param meds - The medication data.
 * @param pulseMinMg - Optional single-dose limit in mg of this drug.
 * @returns The dose and its evidence.
 */
export function dailyDoseOn(
  date: string,
  records: readonly MedicationResource[],
  entry: DrugEntry,
  meds: Medications,
  pulseMinMg?: number,
): DailyDose {
  const day = calendarDate(date);
  const covering = records.filter((r) => {
    const period = exposurePeriod(r);
    return matchesDrug(r.medicationCodeableConcept, entry, meds) && period && period.start <= day && (period.end === undefined || period.end >= day) && !isPulse(r, meds, pulseMinMg);
  });
  if (covering.length === 0) {
    return { mgPerDay: 0, evidence: [] };
  }
  // Each candidate: a statement or request alone, or all administrations of the day together.
  const administrations = covering.filter((r) => r.resourceType === 'MedicationAdministration');
  const candidates: { made: string; records: MedicationResource[] }[] = [
    ...covering.filter((r) => r.resourceType !== 'MedicationAdministration').map((r) => ({ made: recordDate(r) ?? '', records: [r] })),
    ...(administrations.length > 0 ? [{ made: day, records: administrations }] : []),
  ];
  const latest = candidates.reduce((max, c) => (c.made > max ? c.made : max), '');
  const tied = candidates.filter((c) => c.made === latest).sort((a, b) => (a.records[0]?.id ?? '').localeCompare(b.records[0]?.id ?? ''));
  const doses = tied.map((c) => recordMgPerDay(c.records, meds, pulseMinMg));
  const evidence = tied.flatMap((c) => c.records);
  const readable = doses.filter((d): d is number => d !== undefined).map((d) => Math.round(d * 100));
  if (new Set(readable).size > 1) {
    return { mgPerDay: undefined, evidence, conflict: evidence };
  }
  return { mgPerDay: doses.includes(undefined) ? undefined : doses[0], evidence };
}

/** A new or increased immunosuppressant or antimalarial after day 0 (D7 c). */
export interface MedicationChange {
  /** The first day the change is in effect (YYYY-MM-DD). */
  readonly date: string;
  readonly detail: string;
  readonly evidence: readonly MedicationResource[];
}

/**
 * Immunosuppressants and antimalarials started or increased after day 0 (D7 c): a drug of the data's
 * list not in use on day 0 that a record shows in use after it (new), or one in use on day 0 whose
 * daily dose (D10: latest covering record) rises above the day-0 dose (increased). The days checked
 * are day 0 + 1 for records still running then and the start of every later record: a dose only
 * changes when a record starts. A dose that cannot be read is no increase (it cannot be compared).
 * @param day0 - Day 0 (YYYY-MM-DD).
 * @param records - The subject's usable medication records.
 * @param meds - The medication data.
 * @returns The first change per drug.
 */
export function immunosuppressantChanges(day0: string, records: readonly MedicationResource[], meds: Medications): MedicationChange[] {
  const changes: MedicationChange[] = [];
  const after = addDays(day0, 1);
  for (const drug of meds.immunosuppressants.drugs) {
    const own = records.filter((r) => matchesDrug(r.medicationCodeableConcept, drug, meds));
    const days = [
      ...new Set(
        own.flatMap((r) => {
          const period = exposurePeriod(r);
          if (!period || (period.end !== undefined && period.end < after)) {
            return [];
          }
          return [period.start > after ? period.start : after];
        }),
      ),
    ].sort();
    if (days.length === 0) {
      continue;
    }
    const baseline = dailyDoseOn(day0, own, drug, meds);
    for (const day of days) {
      const dose = dailyDoseOn(day, own, drug, meds);
      if (dose.evidence.length === 0) {
        continue;
      }
      const refs = dose.evidence.map((r) => `${r.resourceType}/${r.id ?? '?'}`).join(', ');
      if (baseline.evidence.length === 0) {
        changes.push({ date: day, detail: `new ${drug.display} (${refs}) from ${day}, not in use on day 0 (${day0}).`, evidence: dose.evidence });
        break;
      }
      if (baseline.mgPerDay !== undefined && dose.mgPerDay !== undefined && Math.round(dose.mgPerDay * 100) > Math.round(baseline.mgPerDay * 100)) {
        changes.push({
          date: day,
          detail: `${drug.display} increased to ${dose.mgPerDay} mg/day (${refs}) on ${day}, above the day-0 dose of ${baseline.mgPerDay} mg/day.`,
          evidence: [...baseline.evidence, ...dose.evidence],
        });
        break;
      }
    }
  }
  return changes;
}
