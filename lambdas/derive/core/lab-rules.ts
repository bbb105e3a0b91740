import type { CodeableConcept, Observation, ObservationReferenceRange, Quantity } from '@medplum/fhirtypes';
import { conceptHasAny } from './fhir-access.js';
import type { AnalyteRule, DerivationRules } from './rules.js';

/** What one result says about a descriptor: meets the rule, does not, or cannot decide (e.g. `<120` against `< 100`). */
export type LabDecision = 'meets' | 'fails' | 'undecided';

/**
 * What one result says about a descriptor, with the D4 case apart: `no-usable-range` when a
 * reference-range test has neither a range the result can be compared with nor an interpretation flag.
 */
export type AnalyteDecision = LabDecision | 'no-usable-range';

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

/**
 * Decides a reading against a limit. `inclusive` (the default, as for fixed limits and the ends of a
 * reference range) means the limit itself is normal; otherwise (a range written `<1:10` or `<30`) the
 * limit itself is already outside normal.
 */
function decideReading(reading: Reading, test: 'below' | 'above', limit: number, inclusive = true): LabDecision {
  const decide = test === 'below' ? (inclusive ? decideBelow : decideAtMost) : inclusive ? decideAbove : decideAtLeast;
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

/** Decides `true value <= limit` (a result at the lower end of a range written `>90` is already low). */
function decideAtMost(value: number, comparator: Comparator, limit: number): LabDecision {
  switch (comparator) {
    case undefined:
      return value <= limit ? 'meets' : 'fails';
    case '<':
    case '<=':
      return value <= limit ? 'meets' : 'undecided';
    case '>':
      return value >= limit ? 'fails' : 'undecided';
    case '>=':
      return value > limit ? 'fails' : 'undecided';
  }
  return 'undecided';
}

/** Decides `true value >= limit` (a titre at the lab's `<1:N` cut-off is already above its range). */
function decideAtLeast(value: number, comparator: Comparator, limit: number): LabDecision {
  switch (comparator) {
    case undefined:
      return value >= limit ? 'meets' : 'fails';
    case '>':
    case '>=':
      return value >= limit ? 'meets' : 'undecided';
    case '<':
      return value <= limit ? 'fails' : 'undecided';
    case '<=':
      return value < limit ? 'fails' : 'undecided';
  }
  return 'undecided';
}

const MEANING_NORMAL = 'normal';

/** The ranges that state the normal range: untyped ones and those typed `normal` (not treatment or therapeutic ranges). */
function normalRanges(observation: Observation): ObservationReferenceRange[] {
  return (observation.referenceRange ?? []).filter((r) => !r.type?.coding?.length || r.type.coding.some((c) => c.code === MEANING_NORMAL));
}

function isTitreUnit(q: Quantity | undefined, titreUnits: readonly string[]): boolean {
  return !!q && ((q.code !== undefined && titreUnits.includes(q.code)) || (q.unit !== undefined && titreUnits.includes(q.unit)));
}

function referenceLimit(ranges: readonly ObservationReferenceRange[], bound: 'low' | 'high', reading: Reading, titreUnits: readonly string[]): number | undefined {
  for (const range of ranges) {
    const q = range[bound];
    // A range in another unit than the result cannot be compared with it.
    if (q?.value !== undefined && !isTitreUnit(q, titreUnits) && (q.code === undefined || reading.unit === undefined || q.code === reading.unit)) {
      return q.value;
    }
  }
  return undefined;
}

/** A limit of a normal range; `inclusive` when the limit itself is normal. */
interface Limit {
  readonly value: number;
  readonly inclusive: boolean;
}

const TEXT_RANGE = new RegExp(
  String.raw`^\s*(?:(<=|<|≤)\s*${NUMBER}|${NUMBER}\s*[-–]\s*${NUMBER}|(>=|>|≥)\s*${NUMBER})\s*(\S.*?)?\s*$`,
);

/**
 * A limit from a range the lab wrote as text (`90-180 mg/dL`, `<30 [IU]/mL`, `>=0.9 g/L`). The text
 * must name the result's own unit: the ingest converts a result to the study's unit but never the text,
 * so a text without a unit, or in another unit, is not compared.
 */
function textLimit(ranges: readonly ObservationReferenceRange[], bound: 'low' | 'high', observation: Observation): Limit | undefined {
  const units = [observation.valueQuantity?.code, observation.valueQuantity?.unit].filter((u): u is string => !!u);
  for (const range of ranges) {
    const m = range.text ? TEXT_RANGE.exec(range.text) : null;
    if (!m || !m[7] || !units.includes(m[7])) {
      continue;
    }
    const [, upperOp, upper, from, to, lowerOp, lower] = m;
    if (bound === 'high' && upper !== undefined) {
      return { value: Number(upper), inclusive: upperOp !== '<' };
    }
    if (from !== undefined && to !== undefined) {
      return { value: Number(bound === 'low' ? from : to), inclusive: true };
    }
    if (bound === 'low' && lower !== undefined) {
      return { value: Number(lower), inclusive: lowerOp !== '>' };
    }
  }
  return undefined;
}

const COMPARATOR_TEXT: Record<string, Comparator> = { '<': '<', '<=': '<=', '≤': '<=', '>': '>', '>=': '>=', '≥': '>=' };
const TITRE = /^\s*(<=|>=|<|>|≤|≥)?\s*1\s*[:/]\s*(\d+(?:\.\d+)?)\s*$/;
const FLIP: Record<string, Comparator> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

/** A titre read as its reciprocal dilution (1:160 → 160), with its comparator. */
export interface Titre {
  readonly value: number;
  readonly comparator?: Comparator;
}

/**
 * The titre of a result (D4): a `valueRatio` (1/160, or 160/1: a dilution is never above 1, so the
 * larger term is the reciprocal dilution), a string `1:160` (or `1/160`, with a comparator such as
 * `<1:10`), or a quantity in a titre unit. A comparator on the smaller term of a ratio is flipped.
 * @param observation - The result.
 * @param titreUnits - UCUM codes of titre quantities.
 * @returns The titre, or undefined when the result is not one.
 */
export function titreOf(observation: Observation, titreUnits: readonly string[]): Titre | undefined {
  const ratio = observation.valueRatio;
  const n = ratio?.numerator?.value;
  const d = ratio?.denominator?.value;
  if (ratio && n !== undefined && d !== undefined && n > 0 && d > 0) {
    const [big, small] = n >= d ? [ratio.numerator, ratio.denominator] : [ratio.denominator, ratio.numerator];
    const comparator = big?.comparator ?? (small?.comparator ? FLIP[small.comparator] : undefined);
    return { value: Math.max(n, d) / Math.min(n, d), ...(comparator ? { comparator } : {}) };
  }
  const text = observation.valueString ? TITRE.exec(observation.valueString) : null;
  if (text) {
    const comparator = text[1] ? COMPARATOR_TEXT[text[1]] : undefined;
    return { value: Number(text[2]), ...(comparator ? { comparator } : {}) };
  }
  const q = observation.valueQuantity;
  return q?.value !== undefined && isTitreUnit(q, titreUnits) ? { value: q.value, ...(q.comparator ? { comparator: q.comparator } : {}) } : undefined;
}

const TITRE_RANGE = /^\s*(<=|<|≤)\s*1\s*[:/]\s*(\d+(?:\.\d+)?)\s*$/;

/** The upper limit of normal of a titre range (`<1:10`, `<=1:80`, or a high in a titre unit). */
function titreLimit(ranges: readonly ObservationReferenceRange[], titreUnits: readonly string[]): Limit | undefined {
  for (const range of ranges) {
    const text = range.text ? TITRE_RANGE.exec(range.text) : null;
    if (text) {
      return { value: Number(text[2]), inclusive: text[1] !== '<' };
    }
    if (range.high?.value !== undefined && isTitreUnit(range.high, titreUnits)) {
      return { value: range.high.value, inclusive: true };
    }
  }
  return undefined;
}

type Labs = DerivationRules['labs'];

/** A qualitative result: valueBoolean, a presence code, or a positive / negative string. */
function qualitative(observation: Observation, labs: Labs): LabDecision | undefined {
  if (observation.valueBoolean !== undefined) {
    return observation.valueBoolean ? 'meets' : 'fails';
  }
  if (conceptHasAny(observation.valueCodeableConcept, labs.presenceCodes.present)) {
    return 'meets';
  }
  if (conceptHasAny(observation.valueCodeableConcept, labs.presenceCodes.absent)) {
    return 'fails';
  }
  const text = observation.valueString?.trim().toLowerCase();
  if (text !== undefined && labs.qualitativeStrings.positive.includes(text)) {
    return 'meets';
  }
  return text !== undefined && labs.qualitativeStrings.negative.includes(text) ? 'fails' : undefined;
}

/** The D4 interpretation flag: decides a reference-range test when the range cannot. */
function flagDecision(observation: Observation, test: 'below' | 'above', labs: Labs): LabDecision | undefined {
  const { interpretationSystems } = labs.referenceRange;
  const codes = (observation.interpretation ?? [])
    .flatMap((c: CodeableConcept) => c.coding ?? [])
    .filter((c) => c.system !== undefined && interpretationSystems.includes(c.system) && c.code)
    .map((c) => c.code as string);
  const meaning = test === 'above' ? labs.referenceRange.above : labs.referenceRange.below;
  if (codes.some((c) => meaning.present.includes(c))) {
    return 'meets';
  }
  return codes.some((c) => meaning.absent.includes(c)) ? 'fails' : undefined;
}

function hasValue(observation: Observation): boolean {
  return Object.keys(observation).some((k) => k.startsWith('value'));
}

/**
 * D4: a result against the reporting lab's own range, never a fixed cut-off. A qualitative result
 * decides increased DNA binding by itself (the lab's own call); a titre is compared only with a titre
 * range, a number only with a numeric range in its unit; when the range cannot decide, the
 * interpretation flag does; otherwise `no-usable-range` (or `undecided` when a comparable range was
 * there but the result's comparator straddles it).
 */
function referenceDecision(observation: Observation, test: 'below' | 'above', labs: Labs): AnalyteDecision | undefined {
  const { titreUnits } = labs.referenceRange;
  if (test === 'above') {
    const call = qualitative(observation, labs);
    if (call) {
      return call;
    }
  }
  const ranges = normalRanges(observation);
  let decided: LabDecision | undefined;
  const titre = titreOf(observation, titreUnits);
  if (titre) {
    const limit = test === 'above' ? titreLimit(ranges, titreUnits) : undefined;
    if (limit) {
      decided = decideReading(titre, 'above', limit.value, limit.inclusive);
    }
  } else {
    const reading = readingOf(observation);
    const bound = test === 'below' ? 'low' : 'high';
    const own = reading && referenceLimit(ranges, bound, reading, titreUnits);
    const limit: Limit | undefined = own !== undefined ? { value: own, inclusive: true } : textLimit(ranges, bound, observation);
    if (reading && limit) {
      decided = decideReading(reading, test, limit.value, limit.inclusive);
    }
  }
  if (decided === 'meets' || decided === 'fails') {
    return decided;
  }
  const flag = flagDecision(observation, test, labs);
  if (flag) {
    return flag;
  }
  if (decided === 'undecided') {
    return 'undecided';
  }
  // A result without any value (e.g. only a dataAbsentReason) is no result at all.
  return hasValue(observation) ? 'no-usable-range' : undefined;
}

/**
 * Whether the report of a result names one of the words (lower case): code text and displays, value
 * text and displays, method and interpretation text.
 * @param observation - The result.
 * @param words - Lower-case words.
 * @returns True when one is named.
 */
export function reportSays(observation: Observation, words: readonly string[]): boolean {
  const concepts = [observation.code, observation.valueCodeableConcept, observation.method, ...(observation.interpretation ?? [])];
  const texts = [observation.valueString, ...concepts.flatMap((c) => [c?.text, ...(c?.coding ?? []).map((k) => k.display)])]
    .filter((t): t is string => !!t)
    .map((t) => t.toLowerCase());
  return words.some((w) => texts.some((t) => t.includes(w)));
}

/**
 * Evaluates one result against one analyte rule of a lab descriptor (sledai-2k.md §2, §4): fixed
 * limits in the rule's unit, the testing lab's own reference range for complement and anti-dsDNA
 * (D4: no fixed cut-off; titres, qualitative results and interpretation flags), or a presence result.
 * @param observation - The result.
 * @param analyte - The rule.
 * @param labs - The lab rules file.
 * @returns The decision, or undefined when the result is unusable (no value, foreign unit, not the text the rule requires).
 */
export function evaluateAnalyte(observation: Observation, analyte: AnalyteRule, labs: Labs): AnalyteDecision | undefined {
  if (analyte.requiresText && !reportSays(observation, analyte.requiresText)) {
    return undefined;
  }
  switch (analyte.test) {
    case 'present':
      return presence(observation, labs);
    case 'below':
    case 'above': {
      const raw = readingOf(observation);
      const reading = raw && convert(raw, analyte.units);
      return reading && analyte.limit !== undefined ? decideReading(reading, analyte.test, analyte.limit) : undefined;
    }
    case 'below-reference-low':
      return referenceDecision(observation, 'below', labs);
    case 'above-reference-high':
      return referenceDecision(observation, 'above', labs);
  }
}

function presence(observation: Observation, labs: Labs): LabDecision | undefined {
  const call = qualitative(observation, labs);
  if (call) {
    return call;
  }
  const count = readingOf(observation);
  return count ? decideReading(count, 'above', 0) : undefined;
}
