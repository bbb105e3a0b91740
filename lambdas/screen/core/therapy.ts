import type { CodeableConcept, Duration as FhirDuration } from '@medplum/fhirtypes';
import type { CodeSet } from './code-set.js';
import type { Duration } from './criteria-schema.js';
import { type DayRange, parseDayRange, windowStart } from './dates.js';
import { type MedicationResource, type PatientRecord, ref } from './record.js';

/*
 * E1 (study-decisions.md): refractory needs *systemic* therapy (oral, IV, IM or subcutaneous) with a
 * glucocorticoid, antimalarial or immunosuppressant for at least 12 weeks before screening. This
 * module measures that exposure from the medication records; the rule decides what it means.
 */

/** How a medication record reaches the body, as far as the record says. */
export type RouteClass = 'systemic' | 'local' | 'unknown';

/** The code sets and numbers the exposure is measured with (eligibility-criteria.json, incl-refractory). */
export interface ExposureSettings {
  /** Routes that count as systemic (SNOMED oral, IV, IM, subcutaneous). */
  readonly routes: CodeSet;
  /** Dose forms, read from the drug's names, that are topical or otherwise local (cream, eye drops...). */
  readonly localForms: CodeSet;
  /** Dose forms that are systemic (tablet, capsule, injection...). */
  readonly systemicForms: CodeSet;
  /** Ingredients that have no topical or local form, so a record without route or form is systemic. */
  readonly systemicOnly: CodeSet;
  /** Exposure needed before day 0. */
  readonly minimum: Duration;
  /** Gaps between records up to this long count as therapy (weekly doses, a late refill). */
  readonly maxGap: Duration;
}

/** One medication record of a listed drug, as the exposure sees it. */
export interface TherapyRecord {
  readonly ref: string;
  readonly route: RouteClass;
  /** The first day the record surely covers (undefined when it has no start). */
  readonly first?: number;
  /** The last day before day 0 it surely covers. */
  readonly last?: number;
  /** False when the record has a start but no end or duration (stopped or completed, end not recorded). */
  readonly endKnown: boolean;
}

/** What the records give about systemic therapy before day 0. */
export interface Exposure {
  readonly records: readonly TherapyRecord[];
  /** Days of systemic therapy surely covered before day 0, short gaps bridged. */
  readonly systemicDays: number;
  /** The days the rule needs. */
  readonly minimumDays: number;
  readonly adequate: boolean;
  /** The earliest dated start of systemic therapy (for the renal rule), or undefined. */
  readonly systemicStart?: number;
}

const OPEN_STATUSES = new Set(['active', 'in-progress']);

/** Days per UCUM time unit, for durations written on requests (supply, bounds). */
const DAYS: Readonly<Record<string, number>> = { min: 1 / 1440, h: 1 / 24, d: 1, wk: 7, mo: 30, a: 365 };

/**
 * Measures a patient's exposure to the listed drugs before day 0.
 * @param record - The patient's record.
 * @param therapy - The listed drugs.
 * @param settings - Routes, forms, minimum and gap.
 * @returns The records of listed drugs and the systemic exposure.
 */
export function measureExposure(record: PatientRecord, therapy: CodeSet, settings: ExposureSettings): Exposure {
  const lastDay = record.day0 - 1;
  const records: TherapyRecord[] = [];
  for (const m of record.medications) {
    if (!therapy.has(m.medicationCodeableConcept)) {
      continue;
    }
    const course = courseOf(m);
    if (course.start && course.start.lo > lastDay) {
      continue; // started on or after day 0: not therapy before screening.
    }
    const first = course.start?.hi;
    const end = course.end === 'ongoing' ? lastDay : course.end?.lo;
    records.push({
      ref: ref(m),
      route: routeOf(m, settings),
      ...(first !== undefined && first <= lastDay ? { first } : {}),
      ...(first !== undefined && end !== undefined && first <= lastDay ? { last: Math.min(end, lastDay) } : {}),
      endKnown: course.start === undefined || course.end !== undefined,
    });
  }
  const systemic = records.filter((r) => r.route === 'systemic');
  const minimumDays = record.day0 - windowStart(record.day0, settings.minimum);
  const gap = record.day0 - windowStart(record.day0, settings.maxGap);
  const systemicDays = coveredDays(systemic, gap);
  const starts = systemic.map((r) => r.first).filter((d): d is number => d !== undefined);
  return {
    records,
    systemicDays,
    minimumDays,
    adequate: systemicDays >= minimumDays,
    ...(starts.length > 0 ? { systemicStart: Math.min(...starts) } : {}),
  };
}

/**
 * Days covered by the union of the records' spans; two spans whose gap is at most `gap` days are
 * joined, the gap counted as therapy. Non-contiguous courses add up (E1 asks for 12 weeks of
 * therapy, not of one uninterrupted course); overlapping records count once.
 */
function coveredDays(records: readonly TherapyRecord[], gap: number): number {
  const spans = records
    .filter((r): r is TherapyRecord & { first: number; last: number } => r.first !== undefined && r.last !== undefined && r.last >= r.first)
    .map((r) => [r.first, r.last] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let current: [number, number] | undefined;
  for (const [from, to] of spans) {
    if (current && from - current[1] - 1 <= gap) {
      current[1] = Math.max(current[1], to);
    } else {
      total += current ? current[1] - current[0] + 1 : 0;
      current = [from, to];
    }
  }
  return total + (current ? current[1] - current[0] + 1 : 0);
}

interface Course {
  readonly start?: DayRange;
  /** A date, open up to day 0, or unknown (undefined). */
  readonly end?: DayRange | 'ongoing';
}

/**
 * When a record says the drug was taken: statements and administrations by their effective period
 * or date; requests by their timing bounds, else from authoredOn (or the dispense validity start)
 * for the dispensed supply (expectedSupplyDuration × (1 + repeats)). A record still active with no
 * end runs up to day 0; a stopped or completed one with no end has an unknown end.
 */
function courseOf(m: MedicationResource): Course {
  const open = OPEN_STATUSES.has(m.status ?? '');
  switch (m.resourceType) {
    case 'MedicationStatement':
    case 'MedicationAdministration': {
      const period = m.effectivePeriod;
      if (period?.start || period?.end) {
        const start = parseDayRange(period.start);
        const end = parseDayRange(period.end);
        if (end) {
          return { ...(start ? { start } : {}), end };
        }
        // An administration without an end took place on its start day, unless still running.
        return { ...(start ? { start } : {}), ...(open ? { end: 'ongoing' as const } : m.resourceType === 'MedicationAdministration' && start ? { end: start } : {}) };
      }
      const at = parseDayRange(m.effectiveDateTime ?? (m.resourceType === 'MedicationStatement' ? m.dateAsserted : undefined));
      return at ? { start: at, end: open && m.resourceType === 'MedicationStatement' ? 'ongoing' : at } : {};
    }
    case 'MedicationRequest': {
      const bounds = m.dosageInstruction?.map((d) => d.timing?.repeat).find((r) => r?.boundsPeriod?.start || r?.boundsDuration);
      const start = parseDayRange(bounds?.boundsPeriod?.start ?? m.dispenseRequest?.validityPeriod?.start ?? m.authoredOn);
      const boundsEnd = parseDayRange(bounds?.boundsPeriod?.end);
      if (boundsEnd) {
        return { ...(start ? { start } : {}), end: boundsEnd };
      }
      const supply = days(bounds?.boundsDuration) ?? supplyDays(m);
      if (start && supply !== undefined && supply > 0) {
        const span = Math.ceil(supply) - 1;
        return { start, end: { lo: start.lo + span, hi: start.hi + span } };
      }
      return { ...(start ? { start } : {}), ...(open ? { end: 'ongoing' as const } : {}) };
    }
  }
}

function supplyDays(m: Extract<MedicationResource, { resourceType: 'MedicationRequest' }>): number | undefined {
  const one = days(m.dispenseRequest?.expectedSupplyDuration);
  return one === undefined ? undefined : one * (1 + (m.dispenseRequest?.numberOfRepeatsAllowed ?? 0));
}

function days(d: FhirDuration | undefined): number | undefined {
  const per = DAYS[d?.code ?? d?.unit ?? ''];
  return d?.value !== undefined && per !== undefined ? d.value * per : undefined;
}

/**
 * The route class of a record: a coded route decides (systemic when listed, local otherwise); with
 * no route, the dose form in the drug's names (a topical form first: "Ophthalmic Suspension" is
 * local); with neither, an ingredient that has no local form is systemic; else unknown.
 */
function routeOf(m: MedicationResource, settings: ExposureSettings): RouteClass {
  const routes = routesOf(m);
  if (routes.length > 0) {
    return routes.some((r) => settings.routes.has(r)) ? 'systemic' : 'local';
  }
  const drug = m.medicationCodeableConcept;
  if (settings.localForms.has(drug)) {
    return 'local';
  }
  if (settings.systemicForms.has(drug) || settings.systemicOnly.has(drug)) {
    return 'systemic';
  }
  return 'unknown';
}

function routesOf(m: MedicationResource): CodeableConcept[] {
  const dosages =
    m.resourceType === 'MedicationAdministration' ? (m.dosage ? [m.dosage] : []) : m.resourceType === 'MedicationRequest' ? (m.dosageInstruction ?? []) : (m.dosage ?? []);
  return dosages.map((d) => d.route).filter((r): r is CodeableConcept => r !== undefined);
}
