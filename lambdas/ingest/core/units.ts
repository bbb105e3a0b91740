import ucum from '@lhncbc/ucum-lhc';
import type { Quantity } from '@medplum/fhirtypes';

/** The UCUM code system URI. */
export const UCUM_SYSTEM = 'http://unitsofmeasure.org';

/** A quantity whose unit is unknown to UCUM or cannot be converted to the profile's unit. */
export class UnitConversionError extends Error {
  public override readonly name = 'UnitConversionError';
}

const utils = ucum.UcumLhcUtils.getInstance();

/**
 * The significant digits a number was written with (JSON keeps no trailing zeros, so `4.0` counts as 1).
 * @param value - A finite number.
 * @returns At least 1.
 */
export function significantDigits(value: number): number {
  const [mantissa = ''] = Math.abs(value).toExponential().split('e');
  return Math.max(1, mantissa.replace('.', '').replace(/0+$/, '').length);
}

/**
 * The UCUM code a source quantity means: its `code` when it says it is UCUM, else its `unit` text
 * when that parses as UCUM, else a known alias (a hospital's free-text unit such as `mg/24h`).
 * @param quantity - The source quantity.
 * @param aliases - Free-text unit → UCUM code, from the study's data.
 * @returns The UCUM code, or undefined when the unit means nothing to UCUM.
 */
export function ucumCodeOf(quantity: Quantity, aliases: ReadonlyMap<string, string>): string | undefined {
  // A code from another system is not a unit we can read; its display text may still be.
  const candidates = quantity.system === undefined || quantity.system === UCUM_SYSTEM ? [quantity.code, quantity.unit] : [quantity.unit];
  for (const candidate of candidates) {
    if (candidate === undefined) {
      continue;
    }
    const alias = aliases.get(candidate);
    if (alias) {
      return alias;
    }
    if (utils.validateUnitString(candidate).status === 'valid') {
      return candidate;
    }
  }
  return undefined;
}

/**
 * Converts a quantity to the profile's canonical UCUM unit. Conversion goes through floating point,
 * so the result is rounded to the precision the source value was written with (at least 3 digits):
 * 1 × 10⁹/L becomes 1 × 10³/µL, not 1.0000000000000002.
 * @param quantity - The source quantity (value and unit as sent).
 * @param canonical - The canonical UCUM code of the profile.
 * @param aliases - Free-text unit → UCUM code.
 * @returns A UCUM quantity in the canonical unit; the comparator is kept.
 */
export function toCanonicalUnit(quantity: Quantity, canonical: string, aliases: ReadonlyMap<string, string>): Quantity {
  if (quantity.value === undefined) {
    throw new UnitConversionError('Quantity has no value');
  }
  const from = ucumCodeOf(quantity, aliases);
  if (from === undefined) {
    // The unit's text is not echoed: it is free text the hospital typed (issue 12), and the sender has it.
    throw new UnitConversionError(`The quantity's unit${quantity.code ? ' code' : ''} is not a UCUM unit and has no known alias`);
  }
  let value = quantity.value;
  if (from !== canonical) {
    const result = utils.convertUnitTo(from, quantity.value, canonical);
    if (result.status !== 'succeeded' || result.toVal === null) {
      throw new UnitConversionError(`Unit '${from}' cannot be converted to '${canonical}'`);
    }
    const precision = Math.min(15, Math.max(3, significantDigits(quantity.value)));
    value = Number(result.toVal.toPrecision(precision));
  }
  return {
    ...(quantity.comparator ? { comparator: quantity.comparator } : {}),
    value,
    unit: canonical,
    system: UCUM_SYSTEM,
    code: canonical,
  };
}
