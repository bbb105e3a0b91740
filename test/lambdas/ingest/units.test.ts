import { describe, expect, it } from 'vitest';
import { significantDigits, toCanonicalUnit, UCUM_SYSTEM, UnitConversionError } from '../../../lambdas/ingest/core/units.js';

const ucum = (value: number, code: string) => ({ value, unit: code, system: UCUM_SYSTEM, code });
const noAliases = new Map<string, string>();

describe('Function: toCanonicalUnit', () => {
  it('converts 10^9/L to 10*3/uL without floating-point noise', () => {
    // @lhncbc/ucum-lhc alone answers 1.0000000000000002 for this conversion.
    expect(toCanonicalUnit(ucum(1, '10*9/L'), '10*3/uL', noAliases)).toEqual(ucum(1, '10*3/uL'));
  });

  it('converts IgG 4.0 g/L to 400 mg/dL (the E-4 boundary of the eligibility codes, 1 g/L = 100 mg/dL)', () => {
    expect(toCanonicalUnit(ucum(4.0, 'g/L'), 'mg/dL', noAliases).value).toBe(400);
  });

  it('converts 24-h urine protein mg to g keeping 0.5 exact', () => {
    expect(toCanonicalUnit(ucum(500, 'mg/(24.h)'), 'g/(24.h)', noAliases).value).toBe(0.5);
  });

  it('converts Fahrenheit to Celsius to the precision written (100.4 °F is 38.00 °C)', () => {
    expect(toCanonicalUnit(ucum(100.4, '[degF]'), 'Cel', noAliases).value).toBe(38);
  });

  it('keeps a value already in the canonical unit untouched, comparator included', () => {
    const q = { ...ucum(310.64710531594994, '10*3/uL'), comparator: '<' as const };
    expect(toCanonicalUnit(q, '10*3/uL', noAliases)).toEqual(q);
  });

  it('reads a free-text unit through the alias table', () => {
    const aliases = new Map([['mg/24h', 'mg/(24.h)']]);
    expect(toCanonicalUnit({ value: 1200, unit: 'mg/24h' }, 'g/(24.h)', aliases).value).toBe(1.2);
  });

  it('reads a UCUM unit sent only as display text', () => {
    expect(toCanonicalUnit({ value: 3.5, unit: 'g/L' }, 'mg/dL', noAliases).value).toBe(350);
  });

  it('refuses a unit that is not UCUM', () => {
    expect(() => toCanonicalUnit({ value: 1, unit: 'x10^9/L' }, '10*3/uL', noAliases)).toThrow(UnitConversionError);
  });

  it('refuses a unit of another dimension', () => {
    expect(() => toCanonicalUnit(ucum(4, 'mg/dL'), 'kg', noAliases)).toThrow(/cannot be converted/);
  });

  it('refuses a quantity with no value', () => {
    expect(() => toCanonicalUnit({ unit: 'g/L', system: UCUM_SYSTEM, code: 'g/L' }, 'mg/dL', noAliases)).toThrow(UnitConversionError);
  });
});

describe('Function: significantDigits', () => {
  it.each([
    [1, 1],
    [400, 1],
    [0.05, 1],
    [3.75, 3],
    [100.4, 4],
    [310.64710531594994, 17],
  ])('counts %d as %d significant digits', (value, digits) => {
    expect(significantDigits(value)).toBe(digits);
  });
});
