import type { Observation, Quantity } from '@medplum/fhirtypes';
import { conceptHasAny } from './fhir-access.js';
import type { AnalyteRule, DerivationRules } from './rules.js';

/** What one result says about a descriptor: meets the rule, does not, or cannot decide (e.g. `<120` against `< 100`). */
export type LabDecision = 'meets' | 'fails' | 'undecided';

type Comparator = Quantity['comparator'];

/**
 * Decides `true value < limit` for a value that may carry a comparator (sledai-2k.md §4: never drop
 * the comparator). `<100` meets `< 100`, since every value below 100 is; `<120` does not decide.
 * @param value - The reported number.
 * @param comparator - Its comparator, if any.
 * @param limit - The limit.
 * @returns The decision.
 */
export function decideBelow(value: number, comparator: Comparator, limit: number): LabDecision {
  switch (comparator) {
    case undefined:
      return value < limit ? 'meets' : 'fails';
    case '<':
      return value <= limit ? 'meets' : 'undecided';
    case '<=':
      return value < limit ? 'meets' : 'undecided';
    case '>':
    case '>=':
      return value >= limit ? 'fails' : 'undecided';
  }
  // 'ad' (sufficient to achieve) and anything else unknown cannot decide.
  return 'undecided';
}

/**
 * Decides `true value > limit`, the mirror of {@link decideBelow}.
 * @param value - The reported number.
 * @param comparator - Its comparator, if any.
 * @param limit - The limit.
 * @returns The decision.
 */
export function decideAbove(value: number, comparator: Comparator, limit: number): LabDecision {
  switch (comparator) {
    case undefined:
      return value > limit ? 'meets' : 'fails';
    case '>':
      return value >= limit ? 'meets' : 'undecided';
    case '>=':
      return value > limit ? 'meets' : 'undecided';
    case '<':
    case '<=':
      return value <= limit ? 'fails' : 'undecided';
  }
  // 'ad' (sufficient to achieve) and anything else unknown cannot decide.
  return 'undecided';
}

interface Reading {
  readonly value: number;
  readonly comparator?: Comparator;
  /** The upper end when the lab reported a range such as `5-10`. */
  readonly high?: number;
  readonly unit?: string;
}

const NUMBER = String.raw`(\d+(?:\.\d+)?)`;
const SINGLE = new RegExp(String.raw`^\s*(<=|>=|<|>)?\s*${NUMBER}\s*$`);
const RANGE = new RegExp(String.raw`^\s*${NUMBER}\s*[-–]\s*${NUMBER}\s*$`);

/**
 * The numeric reading of a result: `valueQuantity` (with comparator), `valueRange`, `valueInteger`,
 * or a `valueString` such as `<100`, `5-10` (sledai-2k.md §4: these arrive as strings or ranges).
 * @param observation - A lab or vital Observation.
 * @returns The reading, or undefined when not numeric.
 */
export function readingOf(observation: Observation): Reading | undefined {
  const q = observation.valueQuantity;
  if (q?.value !== undefined) {
    return { value: q.value, ...(q.comparator ? { comparator: q.comparator } : {}), ...(q.code ? { unit: q.code } : {}) };
  }
  const range = observation.valueRange;
  if (range?.low?.value !== undefined && range.high?.value !== undefined) {
    return { value: range.low.value, high: range.high.value, ...(range.low.code ? { unit: range.low.code } : {}) };
  }
  if (observation.valueInteger !== undefined) {
    return { value: observation.valueInteger };
  }
  const text = observation.valueString;
  const single = text ? SINGLE.exec(text) : null;
  if (single) {
    return { value: Number(single[2]), ...(single[1] ? { comparator: single[1] as Comparator } : {}) };
  }
  const pair = text ? RANGE.exec(text) : null;
  return pair ? { value: Number(pair[1]), high: Number(pair[2]) } : undefined;
}

function decideReading(reading: Reading, test: 'below' | 'above', limit: number): LabDecision {
  const decide = test === 'below' ? decideBelow : decideAbove;
  if (reading.high === undefined) {
    return decide(reading.value, reading.comparator, limit);
  }
  // A reported range decides only when both ends agree.
  const low = decide(reading.value, undefined, limit);
  const high = decide(reading.high, undefined, limit);
  return low === high ? low : 'undecided';
}

function convert(reading: Reading, units: Record<string, number> | undefined): Reading | undefined {
  if (!units) {
    return reading;
  }
  // A bare number or string has no unit: the ingest normalised units, so assume the rule's unit.
  const factor = reading.unit === undefined ? 1 : units[reading.unit];
  if (factor === undefined) {
    return undefined;
  }
  return { ...reading, value: reading.value * factor, ...(reading.high === undefined ? {} : { high: reading.high * factor }) };
}

function referenceLimit(observation: Observation, bound: 'low' | 'high', reading: Reading): number | undefined {
  for (const range of observation.referenceRange ?? []) {
    const q = range[bound];
    // A range in another unit than the result cannot be compared with it.
    if (q?.value !== undefined && (q.code === undefined || reading.unit === undefined || q.code === reading.unit)) {
      return q.value;
    }
  }
  return undefined;
}

/**
 * Evaluates one result against one analyte rule of a lab descriptor (sledai-2k.md §2, §4): fixed
 * limits in the rule's unit, the testing lab's own reference range for complement and anti-dsDNA
 * (a configured fallback only when the lab sent none), or a presence result.
 * @param observation - The result.
 * @param analyte - The rule.
 * @param labs - The lab rules file (presence codes).
 * @returns The decision, or undefined when the result is unusable (no value, foreign unit, no limit).
 */
export function evaluateAnalyte(observation: Observation, analyte: AnalyteRule, labs: DerivationRules['labs']): LabDecision | undefined {
  if (analyte.test === 'present') {
    return presence(observation, labs);
  }
  const raw = readingOf(observation);
  if (!raw) {
    return undefined;
  }
  switch (analyte.test) {
    case 'below':
    case 'above': {
      const reading = convert(raw, analyte.units);
      return reading && analyte.limit !== undefined ? decideReading(reading, analyte.test, analyte.limit) : undefined;
    }
    case 'below-reference-low':
    case 'above-reference-high': {
      const test = analyte.test === 'below-reference-low' ? 'below' : 'above';
      const own = referenceLimit(observation, test === 'below' ? 'low' : 'high', raw);
      if (own !== undefined) {
        return decideReading(raw, test, own);
      }
      const reading = convert(raw, analyte.units);
      return reading && analyte.fallbackLimit !== undefined ? decideReading(reading, test, analyte.fallbackLimit) : undefined;
    }
  }
}

function presence(observation: Observation, labs: DerivationRules['labs']): LabDecision | undefined {
  if (observation.valueBoolean !== undefined) {
    return observation.valueBoolean ? 'meets' : 'fails';
  }
  if (conceptHasAny(observation.valueCodeableConcept, labs.presenceCodes.present)) {
    return 'meets';
  }
  if (conceptHasAny(observation.valueCodeableConcept, labs.presenceCodes.absent)) {
    return 'fails';
  }
  const count = readingOf(observation);
  return count ? decideReading(count, 'above', 0) : undefined;
}
