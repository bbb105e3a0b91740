import { describe, expect, it } from 'vitest';
import { newBilagDomains, sriCriteria } from '../../../lambdas/derive/core/sri.js';
import { ASSESSMENTS, BASE, BILAG, componentOf, find, grades, outcomeOf, reasonsOf, rules, SubjectBuilder, withRules } from './fixtures.js';

// Definitions pinned here: shared/reference/response-indices.md §1 (SRI-4 components, new A/new B,
// PGA worsening ≥ 0.3 in hundredths), §2 (SRI-5..8, not evaluable below threshold) and §3
// (non-responder conventions); the registry record (primary endpoint SRI-4 at week 48).

interface Spec {
  present?: string[];
  bilag?: Record<string, string>;
  pga?: number;
}

// Baseline 10: arthritis 4 + proteinuria 4 + rash 2.
const ACTIVE = ['arthritis', 'proteinuria', 'rash'];

function subject(baseline: Spec = {}, visits: Record<string, Spec> = {}): SubjectBuilder {
  const b = new SubjectBuilder();
  b.belimumab(b.day(0));
  b.visit('week-0', { present: baseline.present ?? ACTIVE, bilag: baseline.bilag ?? grades('C'), pga: baseline.pga ?? 1.5 });
  for (const [visit, spec] of Object.entries(visits)) {
    b.visit(visit, { present: spec.present ?? ['arthritis', 'rash'], bilag: spec.bilag ?? grades('C'), pga: spec.pga ?? 1.5 });
  }
  return b;
}

function sri(b: SubjectBuilder, visit = 'week-24', index = 'sri4', asOf = '2024-12-01'): ReturnType<typeof find> {
  return find(b.derive(asOf), index, visit);
}

function met(o: ReturnType<typeof find>, code: string): string | undefined {
  return componentOf(o, code)?.interpretation?.[0]?.coding?.[0]?.code;
}

describe('SRI-4 components (response-indices.md §1)', () => {
  it('responds with a 4-point reduction, no new A, no new B and no PGA worsening', () => {
    const o = sri(subject({}, { 'week-24': { present: ['arthritis', 'rash'] } }));
    expect(outcomeOf(o)).toBe('responder');
    expect(componentOf(o, 'sledai-2k-reduction')).toMatchObject({ valueInteger: 4 });
    expect(met(o, 'sledai-2k-reduction')).toBe('criterion-met');
    expect(met(o, 'bilag-new-a')).toBe('criterion-met');
    expect(met(o, 'bilag-new-b')).toBe('criterion-met');
    expect(met(o, 'pga-change')).toBe('criterion-met');
    expect(o.valueCodeableConcept?.coding?.[0]?.system).toBe(ASSESSMENTS);
  });

  it('does not respond with a 2-point reduction', () => {
    const o = sri(subject({}, { 'week-24': { present: ['arthritis', 'proteinuria'] } }));
    expect(outcomeOf(o)).toBe('non-responder');
    expect(componentOf(o, 'sledai-2k-reduction')).toMatchObject({ valueInteger: 2 });
    expect(met(o, 'sledai-2k-reduction')).toBe('criterion-not-met');
  });

  it('does not respond with one new A domain', () => {
    const o = sri(subject({}, { 'week-24': { bilag: grades('C', { renal: 'A' }) } }));
    expect(outcomeOf(o)).toBe('non-responder');
    expect(componentOf(o, 'bilag-new-a')).toMatchObject({ valueInteger: 1 });
    expect(met(o, 'bilag-new-a')).toBe('criterion-not-met');
  });

  it('responds with one new B but not with two', () => {
    const one = sri(subject({}, { 'week-24': { bilag: grades('C', { renal: 'B' }) } }));
    expect(outcomeOf(one)).toBe('responder');
    const two = sri(subject({}, { 'week-24': { bilag: grades('C', { renal: 'B', musculoskeletal: 'B' }) } }));
    expect(outcomeOf(two)).toBe('non-responder');
    expect(componentOf(two, 'bilag-new-b')).toMatchObject({ valueInteger: 2 });
  });

  it('uses the BILAG-2004 code system and records the BILAG observations as evidence', () => {
    const o = sri(subject({}, { 'week-24': {} }));
    expect(o.derivedFrom?.filter((r) => r.reference?.startsWith('Observation/obs-')).length).toBeGreaterThanOrEqual(2 * 9);
    expect(BILAG).toBe(`${BASE}/CodeSystem/bilag-2004`);
  });

  it('cites the baseline and visit SLEDAI-2K scores it compared', () => {
    const out = subject({}, { 'week-24': {} }).derive('2024-12-01');
    const o = find(out, 'sri4', 'week-24');
    const scores = [find(out, 'sledai-2k', 'week-0').id, find(out, 'sledai-2k', 'week-24').id].map((id) => `Observation/${id}`);
    expect(o.derivedFrom?.slice(0, 2).map((r) => r.reference)).toEqual(scores);
  });
});

describe('New BILAG-2004 A and B domains (response-indices.md §1: new A = A now, not A at baseline; new B = B now, C/D/E at baseline)', () => {
  const grade = (g: Record<string, string>) =>
    new Map(Object.entries(g).map(([d, x]) => [d, { grade: x, observation: { resourceType: 'Observation' as const, status: 'final' as const, code: {} } }]));

  it('does not count A→B improvement as a new B', () => {
    expect(newBilagDomains(grade(grades('D', { renal: 'A' })), grade(grades('D', { renal: 'B' })), rules)).toEqual({ newA: 0, newB: 0 });
  });

  it('counts C, D and E → B as new B and B→A, C→A as new A', () => {
    const baseline = grade(grades('E', { renal: 'C', musculoskeletal: 'D', mucocutaneous: 'B', hematological: 'C' }));
    const visit = grade(grades('E', { renal: 'B', musculoskeletal: 'B', constitutional: 'B', mucocutaneous: 'A', hematological: 'A' }));
    expect(newBilagDomains(baseline, visit, rules)).toEqual({ newA: 2, newB: 3 });
  });

  it('does not count A staying A, or B staying B', () => {
    expect(newBilagDomains(grade(grades('B', { renal: 'A' })), grade(grades('B', { renal: 'A' })), rules)).toEqual({ newA: 0, newB: 0 });
  });

  it('cannot decide when a domain is not graded at both visits', () => {
    const partial = grades('C');
    delete partial['ophthalmic'];
    expect(newBilagDomains(grade(grades('C')), grade(partial), rules)).toBeUndefined();
  });
});

describe('PGA worsening (response-indices.md §1: worsening = increase ≥ 0.30, compared in hundredths)', () => {
  it('2.0 → 2.3 is worsening, although 2.3 − 2.0 is 0.2999999999999998 in floating point', () => {
    expect(2.3 - 2.0 < 0.3).toBe(true); // the trap the hundredths avoid
    const o = sri(subject({ pga: 2.0 }, { 'week-24': { pga: 2.3 } }));
    expect(componentOf(o, 'pga-change')?.valueQuantity).toMatchObject({ value: 0.3, code: '{score}' });
    expect(met(o, 'pga-change')).toBe('criterion-not-met');
    expect(outcomeOf(o)).toBe('non-responder');
  });

  it('2.0 → 2.29 is not worsening', () => {
    const o = sri(subject({ pga: 2.0 }, { 'week-24': { pga: 2.29 } }));
    expect(met(o, 'pga-change')).toBe('criterion-met');
    expect(outcomeOf(o)).toBe('responder');
  });

  it('compares in integer hundredths', () => {
    const c = sriCriteria({ reduction: 4, newA: 0, newB: 0, pgaChange: 30 }, 4, rules);
    expect(c).toEqual({ sledai: true, newA: true, newB: true, pga: false });
  });
});

describe('Non-responder rules (response-indices.md §3)', () => {
  it('a prohibited medication after day 0 makes that visit and later ones non-responders, not earlier ones', () => {
    const b = subject({}, { 'week-8': {}, 'week-12': {}, 'week-24': {} });
    b.statement('121191', 'rituximab', 1000, b.day(70), { end: b.day(70), route: { coding: [{ system: 'http://snomed.info/sct', code: '47625008' }] } });
    const out = b.derive('2024-12-01');
    expect(outcomeOf(find(out, 'sri4', 'week-8'))).toBe('responder');
    const week12 = find(out, 'sri4', 'week-12');
    expect(outcomeOf(week12)).toBe('non-responder');
    expect(reasonsOf(week12)).toEqual(['prohibited-medication']);
    expect(week12.note?.[0]?.text).toMatch(/rituximab/);
    expect(week12.extension).toContainEqual({ url: `${BASE}/StructureDefinition/derivation-evidence`, valueReference: { reference: expect.stringMatching(/^MedicationStatement\//) } });
    expect(outcomeOf(find(out, 'sri4', 'week-24'))).toBe('non-responder');
  });

  it('ignores a prohibited medication that ended on or before day 0 (exclusion criterion, not a trial event)', () => {
    const b = subject({}, { 'week-24': {} });
    b.administration('3002', 'cyclophosphamide', b.day(0), 500, 'mg', { coding: [{ system: 'http://snomed.info/sct', code: '47625008' }] });
    expect(outcomeOf(sri(b))).toBe('responder');
  });

  it('counts ongoing use that started before day 0, but not a completed course without end date', () => {
    const ongoing = subject({}, { 'week-24': {} });
    ongoing.statement('121191', 'rituximab', 1000, ongoing.day(-200));
    expect(reasonsOf(sri(ongoing))).toEqual(['prohibited-medication']);
    const history = subject({}, { 'week-24': {} });
    history.statement('121191', 'rituximab', 1000, history.day(-200)).status = 'completed';
    expect(outcomeOf(sri(history))).toBe('responder');
  });

  it('matches a rituximab biosimilar by name and a request authored after day 0', () => {
    const b = subject({}, { 'week-24': {} });
    const request = b.request('9999999', 'rituximab-abbs', b.day(100));
    const o = sri(b);
    expect(outcomeOf(o)).toBe('non-responder');
    expect(o.note?.[0]?.text).toContain(`MedicationRequest/${request.id}`);
  });

  it('treats anifrolumab and a TNF inhibitor (other biologics) as prohibited', () => {
    for (const [code, name] of [
      ['0', 'anifrolumab-fnia'],
      ['327361', 'adalimumab'],
    ] as const) {
      const b = subject({}, { 'week-24': {} });
      b.request(code, name, b.day(30));
      expect(outcomeOf(sri(b))).toBe('non-responder');
    }
  });

  it('treats an IV methylprednisolone pulse after day 0 as prohibited (response-indices.md §8)', () => {
    const b = subject({}, { 'week-24': {} });
    b.administration('6902', 'methylprednisolone', b.day(40), 500, 'mg', { coding: [{ system: 'http://snomed.info/sct', code: '47625008' }] });
    const o = sri(b);
    expect(outcomeOf(o)).toBe('non-responder');
    expect(o.note?.[0]?.text).toMatch(/pulse/);
  });

  it('withdrawal: visits after the withdrawal date and the week-48 endpoint are non-responders', () => {
    const b = subject({}, { 'week-12': {}, 'week-24': {} });
    b.researchSubject('withdrawn', b.day(120));
    const out = b.derive('2024-12-01');
    expect(outcomeOf(find(out, 'sri4', 'week-12'))).toBe('responder');
    expect(reasonsOf(find(out, 'sri4', 'week-24'))).toEqual(['withdrawal']);
    const endpoint = find(out, 'sri4', 'week-48');
    expect(outcomeOf(endpoint)).toBe('non-responder');
    expect(reasonsOf(endpoint)).toEqual(['withdrawal']);
    expect(endpoint.effectivePeriod).toEqual({ start: b.day(322), end: b.day(350) });
  });

  it('off-study without a date applies to the endpoint only', () => {
    const b = subject({}, { 'week-24': {} });
    b.researchSubject('off-study');
    const out = b.derive('2024-12-01');
    expect(outcomeOf(find(out, 'sri4', 'week-24'))).toBe('responder');
    expect(reasonsOf(find(out, 'sri4', 'week-48'))).toEqual(['withdrawal']);
  });

  it('missing week 48: non-responder once asOf is past the window, nothing while it is open', () => {
    const b = subject({}, { 'week-36': {} });
    expect(b.derive(b.day(350)).some((o) => o.code.coding?.[0]?.code === 'sri4' && o.effectivePeriod)).toBe(false);
    const out = b.derive(b.day(351));
    const endpoint = find(out, 'sri4', 'week-48');
    expect(outcomeOf(endpoint)).toBe('non-responder');
    expect(reasonsOf(endpoint)).toEqual(['missing-endpoint']);
    expect(endpoint.category?.[1]?.coding?.[0]?.code).toBe('primary-endpoint');
  });

  it('a missing component at the visit makes a non-responder (the conservative choice of §3)', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ACTIVE, bilag: grades('C'), pga: 1.5 });
    b.visit('week-24', { present: ['arthritis'], bilag: grades('C') }); // no PGA
    const o = sri(b);
    expect(outcomeOf(o)).toBe('non-responder');
    expect(reasonsOf(o)).toEqual(['missing-component']);
    expect(componentOf(o, 'pga-change')?.dataAbsentReason?.coding?.[0]?.code).toBe('unknown');
  });

  it('a failed component decides even when another is missing, and the missing one is still named (D8)', () => {
    // D8: the reason lets a statistician apply LOCF instead, so it is reported whatever else fails.
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ACTIVE, bilag: grades('C'), pga: 1.5 });
    b.visit('week-24', { present: ACTIVE, bilag: grades('C') });
    expect(reasonsOf(sri(b))).toEqual(['missing-component']);
    expect(outcomeOf(sri(b))).toBe('non-responder');
    expect(componentOf(sri(b), 'sledai-2k-reduction')?.interpretation?.[0]?.coding?.[0]?.code).toBe('criterion-not-met');
  });

  it('with the LOCF switch, carries a missing component forward from the last post-baseline visit', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ACTIVE, bilag: grades('C'), pga: 1.5 });
    b.visit('week-12', { present: ['arthritis'], bilag: grades('C'), pga: 1.0 });
    b.visit('week-24', { present: ['arthritis'], bilag: grades('C') });
    const locf = withRules((r) => {
      r.response.sri.missingComponent = 'locf';
    });
    const o = find(b.derive('2024-12-01', locf), 'sri4', 'week-24');
    expect(outcomeOf(o)).toBe('responder');
    expect(reasonsOf(o)).toEqual(['locf']);
    expect(componentOf(o, 'pga-change')?.valueQuantity?.value).toBe(-0.5);
  });
});

describe('SRI-5..8 (response-indices.md §2)', () => {
  it('is not evaluable when the baseline score is below the index threshold', () => {
    // Baseline 6: arthritis 4 + rash 2; visit 0.
    const out = subject({ present: ['arthritis', 'rash'] }, { 'week-24': { present: [] } }).derive('2024-12-01');
    expect(outcomeOf(find(out, 'sri4', 'week-24'))).toBe('responder');
    expect(outcomeOf(find(out, 'sri5', 'week-24'))).toBe('responder');
    expect(outcomeOf(find(out, 'sri6', 'week-24'))).toBe('responder');
    for (const index of ['sri7', 'sri8']) {
      const o = find(out, index, 'week-24');
      expect(outcomeOf(o)).toBe('not-evaluable');
      expect(reasonsOf(o)).toEqual(['baseline-below-threshold']);
    }
  });

  it('needs the full reduction of its index: 6 points respond for SRI-6, not SRI-7', () => {
    const out = subject({ present: ['arthritis', 'proteinuria', 'rash', 'alopecia'] }, { 'week-24': { present: ['arthritis', 'rash'] } }).derive('2024-12-01');
    expect(outcomeOf(find(out, 'sri6', 'week-24'))).toBe('responder');
    expect(outcomeOf(find(out, 'sri7', 'week-24'))).toBe('non-responder');
  });

  it('is not evaluable without a baseline, naming each component without one (D1, D9)', () => {
    const b = new SubjectBuilder();
    b.visit('week-24', { present: ['arthritis'], bilag: grades('C'), pga: 1 });
    const o = sri(b);
    expect(outcomeOf(o)).toBe('not-evaluable');
    // The SLEDAI-2K total, the nine BILAG-2004 domains and the PGA.
    expect(reasonsOf(o)).toEqual(Array(11).fill('missing-baseline'));
  });
});

describe('Primary endpoint (registry record: SRI-4 at week 48)', () => {
  it('marks the week-48 SRI-4 and no other Observation as the primary endpoint', () => {
    const out = subject({}, { 'week-24': {}, 'week-48': {} }).derive('2025-06-01');
    const marked = out.filter((o) => o.category?.some((c) => c.coding?.some((k) => k.code === 'primary-endpoint')));
    expect(marked.map((o) => [o.code.coding?.[0]?.code, o.extension?.[0]?.valueCoding?.code])).toEqual([['sri4', 'week-48']]);
    expect(marked[0]?.meta?.profile).toEqual([`${BASE}/StructureDefinition/sri4-response`]);
  });
});
