import ucum from '@lhncbc/ucum-lhc';
import type { ConceptMap, Observation } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConformance } from '../../../lambdas/commons/conformance/index.js';
import { unitAliases } from '../../../lambdas/commons/study-context.js';
import { toCanonicalUnit, UCUM_SYSTEM, UnitConversionError } from '../../../lambdas/ingest/core/units.js';
import { startTestApp, type TestApp } from '../../support/local-app.js';

/*
 * Decision U1 (study-decisions.md): a unit-alias ConceptMap ships with the common non-UCUM labels
 * hospitals send, each mapped to its UCUM code; an unknown unit is still refused per entry, never
 * guessed. UCUM itself (https://ucum.org/ucum) is the published definition the targets are checked
 * against, through @lhncbc/ucum-lhc.
 */

const conformance = loadConformance();
const map = conformance.get<ConceptMap>('ConceptMap', 'unit-aliases');
const aliases = unitAliases(conformance);
const utils = ucum.UcumLhcUtils.getInstance();

/** The labels U1 names, and the ones issue 11 asks for, with what each means in UCUM. */
const REQUIRED: [string, string][] = [
  ['g/24h', 'g/(24.h)'],
  ['mg/24h', 'mg/(24.h)'],
  ['mg/24 hr', 'mg/(24.h)'],
  ['g/24 hr', 'g/(24.h)'],
  ['x10^9/L', '10*9/L'],
  ['10^9/L', '10*9/L'],
  ['x10E9/L', '10*9/L'],
  ['x10E3/uL', '10*3/uL'],
  ['10^3/uL', '10*3/uL'],
  ['K/uL', '10*3/uL'],
  ['K/µL', '10*3/uL'],
  ['x10^12/L', '10*12/L'],
  ['M/uL', '10*6/uL'],
  ['°C', 'Cel'],
  ['deg C', 'Cel'],
  ['degC', 'Cel'],
  ['°F', '[degF]'],
  ['mg/dl', 'mg/dL'],
  ['g/dl', 'g/dL'],
  ['IU/ml', '[IU]/mL'],
  ['U/ml', 'U/mL'],
  ['mmHg', 'mm[Hg]'],
  ['mm Hg', 'mm[Hg]'],
  ['bpm', '/min'],
  ['kg', 'kg'],
  ['/hpf', '/[HPF]'],
  ['/HPF', '/[HPF]'],
  // Seen in ../shared/data (Synthea, HL7 examples, Microsoft FHIR server test files).
  ['degrees C', 'Cel'],
  ['K/ul', '10*3/uL'],
  ['lbs', '[lb_av]'],
  ['10^12/L', '10*12/L'],
  ['beats/minute', '/min'],
  ['breaths/minute', '/min'],
  ['mL/min/1.73m2', 'mL/min/{1.73_m2}'],
];

describe('U1: the unit-alias ConceptMap (fhir-profiles/ConceptMap/unit-aliases.json)', () => {
  it('is loaded by the conformance loader, on the study base, and cites U1', () => {
    expect(map?.url).toBe(`${conformance.base}/ConceptMap/unit-aliases`);
    expect(map?.description).toContain('U1');
    expect(map?.group?.every((g) => g.target === UCUM_SYSTEM)).toBe(true);
  });

  it.each(REQUIRED)('maps the hospital label "%s" to UCUM %s', (label, code) => {
    expect(aliases.get(label)).toBe(code);
  });

  it('maps every label to a valid UCUM code (checked by @lhncbc/ucum-lhc), each element citing U1', () => {
    const elements = map?.group?.flatMap((g) => g.element ?? []) ?? [];
    expect(elements.length).toBe(aliases.size);
    for (const element of elements) {
      const target = element.target?.[0]?.code ?? '';
      const check = utils.validateUnitString(target);
      expect(check.status, `${element.code ?? ''} -> ${target}`).toBe('valid');
      expect(check.ucumCode, target).toBe(target);
      expect(element.target?.[0]?.comment).toContain('U1');
    }
  });

  it('lets the hospital meaning win over a label that UCUM reads otherwise (K/uL is kelvin per microlitre in UCUM)', () => {
    expect(utils.validateUnitString('K/uL').status).toBe('valid');
    expect(aliases.get('K/uL')).toBe('10*3/uL');
  });

  it('does not alias a label whose meaning is ambiguous (C: coulomb in UCUM, Celsius in some systems)', () => {
    expect(aliases.has('C')).toBe(false);
  });
});

describe('U1: conversion through the shipped aliases', () => {
  it('accepts 24-h proteinuria in g/24h and converts mg/24 hr to the canonical g/(24.h)', () => {
    expect(toCanonicalUnit({ value: 1.5, unit: 'g/24h' }, 'g/(24.h)', aliases)).toEqual({ value: 1.5, unit: 'g/(24.h)', system: UCUM_SYSTEM, code: 'g/(24.h)' });
    expect(toCanonicalUnit({ value: 1200, unit: 'mg/24 hr' }, 'g/(24.h)', aliases).value).toBe(1.2);
  });

  it('reads K/uL as thousands per microlitre, not kelvin', () => {
    expect(toCanonicalUnit({ value: 4.2, unit: 'K/uL' }, '10*3/uL', aliases).value).toBe(4.2);
    expect(toCanonicalUnit({ value: 4.2, unit: 'x10^9/L' }, '10*3/uL', aliases).value).toBe(4.2);
  });

  it('converts 100.4 °F to 38 Cel and 37.5 deg C unchanged', () => {
    expect(toCanonicalUnit({ value: 100.4, unit: '°F' }, 'Cel', aliases).value).toBe(38);
    expect(toCanonicalUnit({ value: 37.5, unit: 'deg C' }, 'Cel', aliases).value).toBe(37.5);
  });

  it('refuses an unknown label instead of guessing', () => {
    expect(() => toCanonicalUnit({ value: 1.5, unit: 'grams per day-ish' }, 'g/(24.h)', aliases)).toThrow(UnitConversionError);
    expect(() => toCanonicalUnit({ value: 1.5, unit: 'grams per day-ish' }, 'g/(24.h)', aliases)).toThrow(/is not a UCUM unit and has no known alias/);
  });
});

describe('U1 through POST /fhir', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  const protein = (id: string, value: number, unit: string): Observation => ({
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '2889-4' }] },
    subject: { reference: 'urn:uuid:u1-patient' },
    effectiveDateTime: '2024-03-01',
    valueQuantity: { value, unit },
  });

  it('stores a g/24h lab in UCUM and converts a mg/24 hr one (value as sent kept), and refuses only the entry with an unknown unit', async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { fullUrl: 'urn:uuid:u1-patient', resource: { resourceType: 'Patient', id: 'u1-patient', gender: 'female', birthDate: '1980-01-01' }, request: { method: 'PUT', url: 'Patient/u1-patient' } },
        { fullUrl: 'urn:uuid:u1-a', resource: protein('u1-a', 1.5, 'g/24h'), request: { method: 'POST', url: 'Observation' } },
        { fullUrl: 'urn:uuid:u1-b', resource: protein('u1-b', 1500, 'mg/24 hr'), request: { method: 'POST', url: 'Observation' } },
        { fullUrl: 'urn:uuid:u1-c', resource: protein('u1-c', 1.5, 'grams/day-ish'), request: { method: 'POST', url: 'Observation' } },
      ],
    };
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(bundle) });
    expect(res.status).toBe(200);
    const [, a, b, c] = res.body.entry;
    expect(a.response.status).toBe('201 Created');
    expect(b.response.status).toBe('201 Created');
    expect(c.response.status).toBe('422 Unprocessable Entity');
    expect(c.response.outcome.issue[0].code).toBe('code-invalid');
    // The label is not echoed (free text the hospital typed); the entry and the reason are named.
    expect(c.response.outcome.issue[0].details.text).toContain('is not a UCUM unit and has no known alias');
    expect(c.response.outcome.issue[0].expression).toEqual(['Bundle.entry[3].resource']);

    const stored = (await app.fetchFhir(`/${a.response.location.split('/_history')[0]}`)).body;
    expect(stored.valueQuantity).toMatchObject({ value: 1.5, system: UCUM_SYSTEM, code: 'g/(24.h)' });
    const converted = (await app.fetchFhir(`/${b.response.location.split('/_history')[0]}`)).body;
    expect(converted.valueQuantity).toMatchObject({ value: 1.5, code: 'g/(24.h)' });
    // The value as sent is kept in original-quantity (its unit as the UCUM code the label means).
    expect(converted.valueQuantity.extension[0].valueQuantity).toMatchObject({ value: 1500 });
  });
});
