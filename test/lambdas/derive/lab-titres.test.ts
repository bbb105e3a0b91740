import type { Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { evaluateAnalyte, reportSays, titreOf } from '../../../lambdas/derive/core/lab-rules.js';
import { rules } from './fixtures.js';

// D4 (study-decisions.md): a titre (valueRatio or a string such as 1:160) counts against the lab's range
// expressed the same way; sledai-2k.md §4: 11013-0 is the anti-dsDNA titre, "never drop the comparator".

const TITRE_UNITS = rules.labs.referenceRange.titreUnits;
const obs = (value: Partial<Observation>): Observation => ({ resourceType: 'Observation', status: 'final', code: {}, ...value });
const dsDnaTitre = rules.labs.rules.find((r) => r.descriptor === 'increased-dna-binding')?.analytes.find((a) => a.loinc === '11013-0');

describe('Function: titreOf (D4: a titre is its reciprocal dilution)', () => {
  it('reads strings 1:160 and 1/160, keeping a comparator', () => {
    expect(titreOf(obs({ valueString: '1:160' }), TITRE_UNITS)).toEqual({ value: 160 });
    expect(titreOf(obs({ valueString: ' 1 / 40 ' }), TITRE_UNITS)).toEqual({ value: 40 });
    expect(titreOf(obs({ valueString: '<1:10' }), TITRE_UNITS)).toEqual({ value: 10, comparator: '<' });
    expect(titreOf(obs({ valueString: '≥1:640' }), TITRE_UNITS)).toEqual({ value: 640, comparator: '>=' });
  });

  it('reads a valueRatio either way round (a dilution is never above 1) and flips a comparator on the smaller term', () => {
    expect(titreOf(obs({ valueRatio: { numerator: { value: 1 }, denominator: { value: 320 } } }), TITRE_UNITS)).toEqual({ value: 320 });
    expect(titreOf(obs({ valueRatio: { numerator: { value: 320 }, denominator: { value: 1 } } }), TITRE_UNITS)).toEqual({ value: 320 });
    expect(titreOf(obs({ valueRatio: { numerator: { value: 1, comparator: '<' }, denominator: { value: 10 } } }), TITRE_UNITS)).toEqual({
      value: 10,
      comparator: '>',
    });
  });

  it('reads a quantity in a titre unit, and nothing else', () => {
    expect(titreOf(obs({ valueQuantity: { value: 80, code: '{titer}' } }), TITRE_UNITS)).toEqual({ value: 80 });
    expect(titreOf(obs({ valueQuantity: { value: 80, code: '[IU]/mL' } }), TITRE_UNITS)).toBeUndefined();
    expect(titreOf(obs({ valueString: '160' }), TITRE_UNITS)).toBeUndefined();
    expect(titreOf(obs({ valueString: '2:160' }), TITRE_UNITS)).toBeUndefined();
    expect(titreOf(obs({ valueRatio: { numerator: { value: 0 }, denominator: { value: 10 } } }), TITRE_UNITS)).toBeUndefined();
  });
});

describe('Function: evaluateAnalyte on titres (D4)', () => {
  it('"<=1:80" keeps 1:80 normal; "<1:80" does not', () => {
    expect(dsDnaTitre).toBeDefined();
    const at = (text: string, value: string) => evaluateAnalyte(obs({ valueString: value, referenceRange: [{ text }] }), dsDnaTitre!, rules.labs);
    expect(at('<=1:80', '1:80')).toBe('fails');
    expect(at('≤1:80', '1:160')).toBe('meets');
    expect(at('<1:80', '1:80')).toBe('meets');
    expect(at('<1:80', '1:40')).toBe('fails');
  });

  it('a result comparator that straddles the cut-off does not decide (a non-qualifying result, not a range problem)', () => {
    const straddles = evaluateAnalyte(obs({ valueString: '>1:5', referenceRange: [{ text: '<1:10' }] }), dsDnaTitre!, rules.labs);
    expect(straddles).toBe('undecided');
  });

  it('a therapeutic (non-normal) range is not the normal range', () => {
    const therapeutic = {
      text: '<1:10',
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/referencerange-meaning', code: 'treatment' }] },
    };
    expect(evaluateAnalyte(obs({ valueString: '1:160', referenceRange: [therapeutic] }), dsDnaTitre!, rules.labs)).toBe('no-usable-range');
  });

  it('a result with no value and no flag is no result', () => {
    expect(evaluateAnalyte(obs({ dataAbsentReason: { text: 'haemolysed' } }), dsDnaTitre!, rules.labs)).toBeUndefined();
  });
});

describe('Function: reportSays (heme-granular casts, sledai-2k.md §4 granular-casts note)', () => {
  it('finds a word in code text, value text or value concept text, case-insensitively', () => {
    expect(reportSays(obs({ code: { text: 'HEME-granular casts' } }), ['heme'])).toBe(true);
    expect(reportSays(obs({ valueString: 'pigmented casts 2/LPF' }), ['pigment'])).toBe(true);
    expect(reportSays(obs({ valueCodeableConcept: { text: 'haem-granular' } }), ['haem'])).toBe(true);
    expect(reportSays(obs({ code: { text: 'Granular casts' }, valueString: '2' }), ['heme', 'haem', 'pigment'])).toBe(false);
  });
});
