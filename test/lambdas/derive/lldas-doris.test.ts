import type { Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { componentOf, find, grades, SubjectBuilder } from './fixtures.js';

// Definitions pinned here: shared/reference/response-indices.md §6 (LLDAS, Franklyn 2016, Table 1)
// and §7 (DORIS 2021 remission, van Vollenhoven 2021); prednisone equivalents per §8.

const SEROLOGY = ['low-complement', 'increased-dna-binding'];

interface Spec {
  present?: string[];
  pga?: number;
  bilag?: Record<string, string>;
  prednisone?: number;
}

/** Baseline with active disease plus serology; week 24 as specified; prednisone from day -60. */
function subject(week24: Spec): SubjectBuilder {
  const b = new SubjectBuilder();
  b.belimumab(b.day(0));
  b.visit('week-0', { present: ['arthritis', 'rash', ...SEROLOGY], bilag: grades('C'), pga: 1.5 });
  b.visit('week-24', { present: week24.present ?? SEROLOGY, bilag: week24.bilag ?? grades('D'), pga: week24.pga ?? 0.8 });
  if (week24.prednisone !== undefined) {
    b.statement('8640', 'prednisone', week24.prednisone, b.day(-60));
  }
  return b;
}

function lldas(b: SubjectBuilder): Observation {
  return find(b.derive('2024-12-01'), 'lldas', 'week-24');
}

function doris(b: SubjectBuilder): Observation {
  return find(b.derive('2024-12-01'), 'doris-remission', 'week-24');
}

function criterion(o: Observation, code: string): boolean | undefined {
  return componentOf(o, code)?.valueBoolean;
}

describe('LLDAS (Franklyn 2016; response-indices.md §6)', () => {
  it('is attained with SLEDAI-2K 4 from serology only, GI inactive, PGA 0.8 and prednisone 7.5 mg/day', () => {
    const o = lldas(subject({ prednisone: 7.5 }));
    expect(o.valueBoolean).toBe(true);
    expect(componentOf(o, 'prednisone-equivalent-dose')?.valueQuantity).toMatchObject({ value: 7.5, code: 'mg/d' });
  });

  it('is not attained at 7.6 mg/day prednisone (criterion 4: ≤ 7.5)', () => {
    const o = lldas(subject({ prednisone: 7.6 }));
    expect(o.valueBoolean).toBe(false);
    expect(criterion(o, 'lldas-glucocorticoid')).toBe(false);
  });

  it('counts methylprednisolone 6 mg as 7.5 mg prednisone', () => {
    const b = subject({});
    b.statement('6902', 'methylprednisolone', 6, b.day(-60));
    expect(lldas(b).valueBoolean).toBe(true);
  });

  it('is not attained with a major-organ descriptor even when the total is ≤ 4 (proteinuria is renal)', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ['arthritis', 'proteinuria'], bilag: grades('C'), pga: 1.5 });
    b.visit('week-24', { present: ['proteinuria'], bilag: grades('D'), pga: 0.5 });
    const o = lldas(b);
    expect(criterion(o, 'lldas-sledai')).toBe(false);
    expect(o.valueBoolean).toBe(false);
  });

  it('is not attained with SLEDAI-2K above 4', () => {
    const o = lldas(subject({ present: [...SEROLOGY, 'rash'] }));
    expect(criterion(o, 'lldas-sledai')).toBe(false);
  });

  it('is not attained with BILAG-2004 gastrointestinal activity (C)', () => {
    const o = lldas(subject({ bilag: grades('D', { gastrointestinal: 'C' }) }));
    expect(criterion(o, 'lldas-sledai')).toBe(false);
  });

  it('is not attained with haemolysis recorded at the visit', () => {
    const b = subject({});
    b.assessment('week-24', b.visitDate('week-24'), 'hemolytic-anemia', { valueBoolean: true });
    expect(criterion(lldas(b), 'lldas-sledai')).toBe(false);
  });

  it('is not attained with new activity since the previous visit (criterion 2)', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ['arthritis'], bilag: grades('C'), pga: 1.5 });
    b.visit('week-24', { present: ['alopecia'], bilag: grades('D'), pga: 0.5 });
    const o = lldas(b);
    expect(criterion(o, 'lldas-sledai')).toBe(true);
    expect(criterion(o, 'lldas-no-new-activity')).toBe(false);
  });

  it('is not attained with PGA 1.01 and is with PGA 1.00 (criterion 3: ≤ 1)', () => {
    expect(criterion(lldas(subject({ pga: 1.01 })), 'lldas-pga')).toBe(false);
    expect(criterion(lldas(subject({ pga: 1.0 })), 'lldas-pga')).toBe(true);
  });

  it('allows hydroxychloroquine 400 mg/day and methotrexate 25 mg/week, not hydroxychloroquine 600 mg/day (criterion 5)', () => {
    const ok = subject({});
    ok.statement('5521', 'hydroxychloroquine', 400, ok.day(-60));
    ok.statement('6851', 'methotrexate', 25, ok.day(-60), { timing: { repeat: { frequency: 1, period: 1, periodUnit: 'wk' } } });
    expect(criterion(lldas(ok), 'lldas-maintenance')).toBe(true);
    const high = subject({});
    high.statement('5521', 'hydroxychloroquine', 600, high.day(-60));
    expect(criterion(lldas(high), 'lldas-maintenance')).toBe(false);
  });

  it('is unknown, not false, when only the PGA is missing', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ['arthritis'], bilag: grades('C'), pga: 1.5 });
    b.visit('week-24', { present: [], bilag: grades('D') });
    const o = lldas(b);
    expect(o.valueBoolean).toBeUndefined();
    expect(o.dataAbsentReason?.coding?.[0]?.code).toBe('unknown');
    expect(componentOf(o, 'lldas-pga')?.dataAbsentReason).toBeDefined();
  });
});

describe('DORIS 2021 remission (van Vollenhoven 2021; response-indices.md §7)', () => {
  it('is attained with serology only (clinical SLEDAI-2K 0), PGA 0.4 and prednisone 5 mg/day', () => {
    const o = doris(subject({ pga: 0.4, prednisone: 5 }));
    expect(o.valueBoolean).toBe(true);
  });

  it('allows exactly 5 mg/day (≤ 5 per the abstract) but not 5.5', () => {
    expect(criterion(doris(subject({ pga: 0.4, prednisone: 5 })), 'doris-glucocorticoid')).toBe(true);
    expect(criterion(doris(subject({ pga: 0.4, prednisone: 5.5 })), 'doris-glucocorticoid')).toBe(false);
  });

  it('is not attained with PGA 0.5 (< 0.5 required)', () => {
    const o = doris(subject({ pga: 0.5 }));
    expect(criterion(o, 'doris-pga')).toBe(false);
    expect(o.valueBoolean).toBe(false);
  });

  it('is not attained with any clinical descriptor (rash)', () => {
    const o = doris(subject({ present: ['rash'], pga: 0.2 }));
    expect(criterion(o, 'doris-clinical-sledai')).toBe(false);
  });

  it('does not depend on duration: attained at the first qualifying visit', () => {
    expect(doris(subject({ pga: 0 })).valueBoolean).toBe(true);
  });
});

describe('D11: LLDAS maintenance maxima include tacrolimus and cyclosporine (criterion 5, response-indices.md §6)', () => {
  it('tacrolimus 4 mg/day (the maximum) is a maintenance dose, 4.5 mg/day is not', () => {
    const ok = subject({});
    ok.statement('42316', 'tacrolimus', 2, ok.day(-60), { timing: { repeat: { frequency: 2, period: 1, periodUnit: 'd' } } });
    expect(criterion(lldas(ok), 'lldas-maintenance')).toBe(true);
    const high = subject({});
    high.statement('42316', 'tacrolimus', 4.5, high.day(-60));
    expect(criterion(lldas(high), 'lldas-maintenance')).toBe(false);
  });

  it('cyclosporine 200 mg/day is a maintenance dose, 250 mg/day is not', () => {
    const ok = subject({});
    ok.statement('3008', 'cyclosporine', 100, ok.day(-60), { timing: { repeat: { frequency: 2, period: 1, periodUnit: 'd' } } });
    expect(criterion(lldas(ok), 'lldas-maintenance')).toBe(true);
    const high = subject({});
    high.statement('3008', 'cyclosporine', 250, high.day(-60));
    expect(criterion(doris(high), 'doris-maintenance')).toBe(false);
  });
});
