import type { ResearchStudy } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadConformance } from '../../lambdas/commons/conformance/index.js';
import { VisitWindowsSchema } from './visit-windows.js';
import { BASE, cs, ICD10, LOINC, RXNORM, SNOMED } from './samples.js';

const HOSPITAL = 'http://hospital.example.org/fhir/CodeSystem';
const conformance = loadConformance();
const vs = (id: string): string => `${BASE}/ValueSet/${id}`;

describe('Function: translate', () => {
  it.each([
    ['local-lab', 'PLT', LOINC, '777-3'],
    ['local-lab', 'WBC', LOINC, '6690-2'],
    ['local-lab', 'C3', LOINC, '4485-9'],
    ['local-lab', 'C4', LOINC, '4498-2'],
    ['local-lab', 'DSDNA', LOINC, '5130-0'],
    ['local-lab', 'IGG', LOINC, '2465-3'],
    ['local-lab', 'IGA', LOINC, '2458-8'],
    ['local-lab', 'UPROT24', LOINC, '2889-4'],
    ['local-lab', 'TEMP', LOINC, '8310-5'],
    ['local-lab', 'NSMB', cs('b-cell-phenotypes'), 'non-switched-memory-b'],
    ['local-lab', 'BAFF', cs('study-lab'), 'baff'],
    ['local-drug', 'BELI', RXNORM, '1092437'],
    ['local-drug', 'PRED', RXNORM, '8640'],
    ['local-drug', 'HCQ', RXNORM, '5521'],
    ['local-drug', 'CYC', RXNORM, '3002'],
    ['local-drug', 'RTX', RXNORM, '121191'],
    ['local-diagnosis', 'SLE', SNOMED, '55464009'],
  ])('maps %s %s to %s|%s', (local, code, system, target) => {
    expect(conformance.translate({ system: `${HOSPITAL}/${local}`, code })).toMatchObject({ system, code: target });
  });

  it('maps Synthea clinical drugs (SCD) to their RxNorm ingredient', () => {
    expect(conformance.translate({ system: RXNORM, code: '312615' })).toMatchObject({ system: RXNORM, code: '8640' });
    expect(conformance.translate({ system: RXNORM, code: '241834' })).toMatchObject({ system: RXNORM, code: '3008' });
    expect(conformance.translate({ system: RXNORM, code: '1664463' })).toMatchObject({ system: RXNORM, code: '42316' });
  });

  it('passes a coding already in a study ValueSet unchanged', () => {
    const coding = { system: LOINC, code: '777-3', display: 'Platelets' };
    expect(conformance.translate(coding)).toEqual(coding);
    expect(conformance.translate({ system: ICD10, code: 'M32.14' })).toEqual({ system: ICD10, code: 'M32.14' });
  });

  it('returns undefined for an unknown code', () => {
    expect(conformance.translate({ system: `${HOSPITAL}/local-lab`, code: 'NOPE' })).toBeUndefined();
    expect(conformance.translate({ system: LOINC, code: '2093-3' })).toBeUndefined();
    expect(conformance.translate({ code: 'PLT' })).toBeUndefined();
  });
});

describe('Function: inValueSet', () => {
  it('matches listed concepts on system and code', () => {
    expect(conformance.inValueSet(vs('study-lab-codes'), { system: LOINC, code: '2889-4' })).toBe(true);
    expect(conformance.inValueSet(vs('study-lab-codes'), { system: SNOMED, code: '2889-4' })).toBe(false);
    expect(conformance.inValueSet(vs('study-medications'), { system: RXNORM, code: '1092437' })).toBe(true);
    expect(conformance.inValueSet(vs('study-medications'), { system: RXNORM, code: '1011464' })).toBe(false);
  });

  it('matches a whole study CodeSystem against its concepts', () => {
    expect(conformance.inValueSet(vs('study-bcell-codes'), { system: cs('b-cell-phenotypes'), code: 'switched-memory-b-count' })).toBe(true);
    expect(conformance.inValueSet(vs('study-bcell-codes'), { system: cs('b-cell-phenotypes'), code: 'memory-t' })).toBe(false);
    expect(conformance.inValueSet(vs('study-visits'), { system: cs('study-visit'), code: 'week-36' })).toBe(true);
  });

  it('applies regex filters on ICD-10-CM codes (malignancy C00-C96, SLE without drug-induced M32.0)', () => {
    const icd = (code: string): boolean => conformance.inValueSet(vs('study-conditions'), { system: ICD10, code });
    expect(icd('C50.911')).toBe(true);
    expect(icd('C96.9')).toBe(true);
    expect(icd('C97')).toBe(false);
    expect(icd('M32.14')).toBe(true);
    expect(icd('D80.2')).toBe(true);
    expect(icd('D84.81')).toBe(false);
    expect(icd('F17.210')).toBe(false);
    expect(icd('F10.20')).toBe(true);
  });

  it('is false for an unknown ValueSet or a coding without system', () => {
    expect(conformance.inValueSet(vs('nope'), { system: LOINC, code: '777-3' })).toBe(false);
    expect(conformance.inValueSet(vs('study-lab-codes'), { code: '777-3' })).toBe(false);
  });
});

describe('Function: observationProfileFor', () => {
  it.each([
    [LOINC, '777-3', 'study-lab-observation'],
    [LOINC, '13952-7', 'study-lab-observation'],
    [LOINC, '8117-4', 'study-bcell-observation'],
    [cs('b-cell-phenotypes'), 'cd86-b', 'study-bcell-observation'],
    [cs('sledai-2k'), 'total', 'study-disease-activity-observation'],
    [cs('bilag-2004'), 'renal', 'study-disease-activity-observation'],
    [cs('study-assessments'), 'excl-hiv', 'study-disease-activity-observation'],
    [LOINC, '8310-5', 'study-vital-sign-observation'],
    [LOINC, '29463-7', 'study-vital-sign-observation'],
  ])('%s|%s → %s', (system, code, profile) => {
    expect(conformance.observationProfileFor({ system, code })).toBe(`${BASE}/StructureDefinition/${profile}`);
  });

  it('is undefined for a code the study does not collect, or a BILAG grade', () => {
    expect(conformance.observationProfileFor({ system: LOINC, code: '2093-3' })).toBeUndefined();
    expect(conformance.observationProfileFor({ system: cs('bilag-2004'), code: 'A' })).toBeUndefined();
  });
});

describe('Function: visitWindows', () => {
  it('reads the visit windows of PlanDefinition visit-schedule in study days', () => {
    const windows = VisitWindowsSchema.parse(conformance.visitWindows());
    expect(windows.map((w) => w.code)).toEqual(['screening', 'week-0', 'week-2', 'week-4', 'week-8', 'week-12', 'week-24', 'week-36', 'week-48']);
    expect(windows.find((w) => w.code === 'week-0')).toMatchObject({ startDay: 0, endDay: 0 });
    expect(windows.find((w) => w.code === 'week-2')).toMatchObject({ startDay: 11, endDay: 17 });
    expect(windows.find((w) => w.code === 'week-48')).toMatchObject({ startDay: 322, endDay: 350 });
  });

  it('has windows that do not overlap and contain their nominal day', () => {
    const windows = conformance.visitWindows();
    for (let i = 1; i < windows.length; i++) {
      expect(windows[i]!.startDay).toBeGreaterThan(windows[i - 1]!.endDay);
    }
    for (const w of windows.filter((x) => x.code.startsWith('week-'))) {
      const nominal = Number(w.code.slice(5)) * 7;
      expect(nominal).toBeGreaterThanOrEqual(w.startDay);
      expect(nominal).toBeLessThanOrEqual(w.endDay);
    }
  });

  it('the ResearchStudy names the registry ids, phase 4, 72 participants and the schedule as protocol', () => {
    const study = conformance.get<ResearchStudy>('ResearchStudy', 'nct04893161')!;
    expect(study.identifier?.map((i) => i.value)).toEqual(['NCT04893161', 'XJTU1AF2020LSK-278']);
    expect(study.phase?.coding?.[0]?.code).toBe('phase-4');
    expect(study.protocol?.[0]?.reference).toBe('PlanDefinition/visit-schedule');
    expect(study.contained?.find((r) => r.resourceType === 'Group')).toMatchObject({ quantity: 72 });
  });
});
