import ucum from '@lhncbc/ucum-lhc';
import type {
  AllergyIntolerance,
  Age,
  Condition,
  Encounter,
  MedicationAdministration,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Patient,
  Period,
  Quantity,
  Resource,
} from '@medplum/fhirtypes';
import type { CodeSet } from './code-set.js';
import { addCalendar, type DayRange, parseDayRange } from './dates.js';

/** A medication resource of any of the three kinds the study stores. */
export type MedicationResource = MedicationAdministration | MedicationRequest | MedicationStatement;

/** When something held: a start, and an end that may be a date, open (still going) or unknown. */
export interface Span {
  readonly start?: DayRange;
  readonly end?: DayRange | 'ongoing' | 'unknown';
}

/** Whether a span meets a window: surely, surely not, perhaps (partial or missing dates), or no dates at all. */
export type Overlap = 'yes' | 'no' | 'maybe' | 'undated';

/** A number with the comparator it was reported with, in the unit a rule asks for. */
export interface Bound {
  readonly value: number;
  readonly comparator?: '<' | '<=' | '>' | '>=';
}

/** The status and verification rules the file's settings give. */
export interface RecordSettings {
  readonly ignoredStatuses: ReadonlySet<string>;
  readonly ignoredVerificationStatuses: ReadonlySet<string>;
  readonly inactiveClinicalStatuses: ReadonlySet<string>;
}

const ACTIVE_MEDICATION_STATUSES = new Set(['active', 'in-progress', 'on-hold', 'intended']);

/**
 * One patient's study resources, sorted by type once, with the screen's reference days.
 */
export class PatientRecord {
  readonly patient: Patient | undefined;
  readonly conditions: Condition[] = [];
  readonly observations: Observation[] = [];
  readonly medications: MedicationResource[] = [];
  readonly encounters: Encounter[] = [];
  readonly allergies: AllergyIntolerance[] = [];
  private readonly byReference = new Map<string, Resource>();
  /** Day 0 (first belimumab administration on or before the screening date, else the screening date). */
  readonly day0: number;
  /** Reference of the administration that set day 0, if any. */
  readonly day0Evidence: string | undefined;

  /**
   * @param pseudonym - The Patient id.
   * @param resources - All of the patient's study resources.
   * @param asOf - The screening day.
   * @param belimumab - The study drug's code set.
   * @param settings - Status rules.
   */
  constructor(
    pseudonym: string,
    resources: readonly Resource[],
    readonly asOf: number,
    belimumab: CodeSet,
    private readonly settings: RecordSettings,
  ) {
    let patient: Patient | undefined;
    for (const r of resources) {
      if (r.id) {
        this.byReference.set(`${r.resourceType}/${r.id}`, r);
      }
      if (this.ignored(r)) {
        continue;
      }
      if (r.resourceType === 'Patient') {
        patient = r.id === pseudonym ? r : patient;
      } else if (r.resourceType === 'Condition') {
        this.conditions.push(r);
      } else if (r.resourceType === 'Observation') {
        this.observations.push(r);
      } else if (r.resourceType === 'MedicationAdministration' || r.resourceType === 'MedicationRequest' || r.resourceType === 'MedicationStatement') {
        this.medications.push(r);
      } else if (r.resourceType === 'Encounter') {
        this.encounters.push(r);
      } else if (r.resourceType === 'AllergyIntolerance') {
        this.allergies.push(r);
      }
    }
    this.patient = patient;
    let day0 = asOf;
    let evidence: string | undefined;
    for (const m of this.medications) {
      if (m.resourceType !== 'MedicationAdministration' || !belimumab.has(m.medicationCodeableConcept)) {
        continue;
      }
      const start = this.medicationSpan(m).start;
      if (start && start.lo <= asOf && (start.lo < day0 || (start.lo === day0 && evidence === undefined))) {
        day0 = start.lo;
        evidence = ref(m);
      }
    }
    this.day0 = day0;
    this.day0Evidence = evidence;
  }

  /**
   * @param reference - `Type/id`.
   * @returns The resource, when it is one of the patient's.
   */
  resolve(reference: string | undefined): Resource | undefined {
    return reference ? this.byReference.get(reference) : undefined;
  }

  /** The patient's birth date as days (a range when partial). */
  birthDate(): DayRange | undefined {
    return parseDayRange(this.patient?.birthDate);
  }

  /**
   * When a condition held: onset (or the recorded date when no onset is given) to abatement; with
   * no abatement, open when the clinical status is active (or absent), unknown when it is inactive.
   * @param c - The condition.
   * @returns The span.
   */
  conditionSpan(c: Condition): Span {
    const start =
      parseDayRange(c.onsetDateTime) ?? parseDayRange(c.onsetPeriod?.start) ?? this.ageDay(c.onsetAge) ?? parseDayRange(c.recordedDate);
    const abatement =
      parseDayRange(c.abatementDateTime) ?? parseDayRange(c.abatementPeriod?.end ?? c.abatementPeriod?.start) ?? this.ageDay(c.abatementAge);
    if (abatement) {
      return { ...(start ? { start } : {}), end: abatement };
    }
    const status = c.clinicalStatus?.coding?.[0]?.code;
    const end = status && this.settings.inactiveClinicalStatuses.has(status) ? 'unknown' : 'ongoing';
    return start ? { start, end } : {};
  }

  /**
   * When a medication was taken or ordered for. Requests run from their bounds (or authoredOn);
   * an active request or statement without an end is open.
   * @param m - The medication resource.
   * @returns The span.
   */
  medicationSpan(m: MedicationResource): Span {
    const open = ACTIVE_MEDICATION_STATUSES.has(m.status ?? '');
    let period: Period | undefined;
    let point: string | undefined;
    switch (m.resourceType) {
      case 'MedicationAdministration':
        period = m.effectivePeriod;
        point = m.effectiveDateTime;
        break;
      case 'MedicationStatement':
        period = m.effectivePeriod;
        point = m.effectiveDateTime ?? (period ? undefined : m.dateAsserted);
        break;
      case 'MedicationRequest':
        period = m.dosageInstruction?.map((d) => d.timing?.repeat?.boundsPeriod).find((p) => p?.start);
        point = m.authoredOn;
        break;
    }
    if (period?.start || period?.end) {
      const start = parseDayRange(period.start);
      const end = parseDayRange(period.end);
      const administered = m.resourceType === 'MedicationAdministration' && start ? start : 'unknown';
      return { ...(start ? { start } : {}), end: end ?? (open ? 'ongoing' : administered) };
    }
    const at = parseDayRange(point);
    if (!at) {
      return {};
    }
    if (m.resourceType === 'MedicationAdministration') {
      return { start: at, end: at };
    }
    return { start: at, end: open ? 'ongoing' : m.resourceType === 'MedicationStatement' ? at : 'unknown' };
  }

  /**
   * @param o - An observation.
   * @returns The day it describes (effective, else issued).
   */
  observationDay(o: Observation): DayRange | undefined {
    return (
      parseDayRange(o.effectiveDateTime) ??
      parseDayRange(o.effectivePeriod?.end ?? o.effectivePeriod?.start) ??
      parseDayRange(o.effectiveInstant) ??
      parseDayRange(o.issued)
    );
  }

  /**
   * @param e - An encounter.
   * @returns Its period as a span (an open period is ongoing).
   */
  encounterSpan(e: Encounter): Span {
    const start = parseDayRange(e.period?.start);
    const end = parseDayRange(e.period?.end);
    if (!start && !end) {
      return {};
    }
    return { ...(start ? { start } : {}), end: end ?? (e.status === 'in-progress' ? 'ongoing' : (start ?? 'unknown')) };
  }

  /**
   * @param m - A medication resource.
   * @returns True when the medication is being taken on day 0 (open status and started, or a
   *   dated period that covers day 0).
   */
  currentAtDay0(m: MedicationResource): boolean {
    const span = this.medicationSpan(m);
    return overlap(span, this.day0, this.day0) === 'yes';
  }

  private ageDay(age: Age | undefined): DayRange | undefined {
    const birth = this.birthDate();
    if (!birth || age?.value === undefined || (age.code ?? age.unit) !== 'a') {
      return undefined;
    }
    const years = Math.floor(age.value);
    return { lo: addCalendar(birth.lo, years, 'a'), hi: addCalendar(birth.hi, years + 1, 'a') - 1 };
  }

  private ignored(r: Resource): boolean {
    const status = (r as { status?: string }).status;
    if (status && this.settings.ignoredStatuses.has(status)) {
      return true;
    }
    if (r.resourceType === 'Condition' || r.resourceType === 'AllergyIntolerance') {
      const verification = r.verificationStatus?.coding?.[0]?.code;
      return verification !== undefined && this.settings.ignoredVerificationStatuses.has(verification);
    }
    return false;
  }
}

/**
 * @param r - A resource with an id.
 * @returns `Type/id`.
 */
export function ref(r: Resource): string {
  return `${r.resourceType}/${r.id ?? ''}`;
}

/**
 * Whether a span meets the inclusive window [from, to].
 * @param span - When something held.
 * @param from - First day of the window (-Infinity for "any time").
 * @param to - Last day of the window.
 * @returns yes / no / maybe / undated.
 */
export function overlap(span: Span, from: number, to: number): Overlap {
  const { start, end } = span;
  const endRange = end === undefined || end === 'ongoing' || end === 'unknown' ? undefined : end;
  if (!start && !endRange) {
    return 'undated';
  }
  const startLo = start?.lo ?? -Infinity;
  const startHi = start?.hi ?? endRange?.hi ?? Infinity;
  const endLo = endRange ? endRange.lo : end === 'ongoing' ? Infinity : startLo;
  const endHi = endRange ? endRange.hi : Infinity;
  if (startLo > to || endHi < from) {
    return 'no';
  }
  return startHi <= to && endLo >= from ? 'yes' : 'maybe';
}

const utils = ucum.UcumLhcUtils.getInstance();
const factors = new Map<string, number | null>();

/**
 * A quantity in the unit a rule asks for, through UCUM (values arrive normalised, so the usual path
 * is a string compare; other units are converted once per unit pair and the factor cached).
 * @param q - The quantity.
 * @param unit - The UCUM code wanted.
 * @returns The bound, or undefined when the unit cannot be converted.
 */
export function quantityIn(q: Quantity | undefined, unit: string): Bound | undefined {
  if (q?.value === undefined) {
    return undefined;
  }
  const from = q.code ?? q.unit;
  const comparator = q.comparator === '<' || q.comparator === '<=' || q.comparator === '>' || q.comparator === '>=' ? q.comparator : undefined;
  if (from === unit) {
    return { value: q.value, ...(comparator ? { comparator } : {}) };
  }
  if (from === undefined) {
    return undefined;
  }
  const key = `${from}\u0000${unit}`;
  let factor = factors.get(key);
  if (factor === undefined) {
    const result = utils.convertUnitTo(from, 1, unit);
    factor = result.status === 'succeeded' && result.toVal !== null ? result.toVal : null;
    factors.set(key, factor);
  }
  if (factor === null) {
    return undefined;
  }
  // Twelve significant digits: 4.0 g/L is 400 mg/dL, not 400.00000000000006.
  return { value: Number((q.value * factor).toPrecision(12)), ...(comparator ? { comparator } : {}) };
}

/**
 * @param b - A reported value.
 * @param t - A threshold.
 * @returns True when the true value is certainly below t.
 */
export function certainlyBelow(b: Bound, t: number): boolean {
  switch (b.comparator) {
    case '<':
      return b.value <= t;
    case '<=':
    case undefined:
      return b.value < t;
    case '>':
    case '>=':
      return false;
  }
}

/**
 * @param b - A reported value.
 * @param t - A threshold.
 * @returns True when the true value may be below t.
 */
export function possiblyBelow(b: Bound, t: number): boolean {
  return b.comparator === '<' || b.comparator === '<=' ? true : b.value < t;
}

/**
 * @param b - A reported value.
 * @param t - A threshold.
 * @returns True when the true value is certainly above t.
 */
export function certainlyAbove(b: Bound, t: number): boolean {
  switch (b.comparator) {
    case '>':
      return b.value >= t;
    case '>=':
    case undefined:
      return b.value > t;
    case '<':
    case '<=':
      return false;
  }
}

/**
 * @param b - A reported value.
 * @param t - A threshold.
 * @returns True when the true value may be above t.
 */
export function possiblyAbove(b: Bound, t: number): boolean {
  return b.comparator === '>' || b.comparator === '>=' ? true : b.value > t;
}
