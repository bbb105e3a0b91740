import type { Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { derivedId } from '../../../lambdas/derive/core/observations.js';
import { parseDerivationRules } from '../../../lambdas/derive/core/rules.js';
import { BASE, componentOf, find, grades, IV, outcomeOf, reasonsOf, rules, SUBJECT, SubjectBuilder } from './fixtures.js';

// The study's decisions on SRI-4 response (shared/reference/study-decisions.md D1, D6, D7, D8, D9)
// at their boundaries, over the published definitions they settle: response-indices.md §1 (SRI-4
// against baseline), §2 (not evaluable below threshold), §3 (non-responder conventions, the tabalumab
// SRI-5 medication rules) and the registry record (primary endpoint SRI-4 at week 48).

// Baseline 10 (arthritis 4 + proteinuria 4 + rash 2); a visit at 6 (arthritis + rash) is a 4-point drop.
const ACTIVE = ['arthritis', 'proteinuria', 'rash'];
const BETTER = ['arthritis', 'rash'];

/** A dosed subject (infusion on day 0) with the given post-baseline visits at 4-point improvement. */
function subject(visits: readonly string[] = ['week-24'], baseline: { visit?: string; date?: string; present?: string[] } = {}): SubjectBuilder {
  const b = new SubjectBuilder();
  b.belimumab(b.day(0));
  b.visit(baseline.visit ?? 'week-0', { present: baseline.present ?? ACTIVE, bilag: grades('C'), pga: 1.5, ...(baseline.date ? { date: baseline.date } : {}) });
  for (const visit of visits) {
    b.visit(visit, { present: BETTER, bilag: grades('C'), pga: 1.5 });
  }
  return b;
}

const ASOF = '2025-08-01';

/** The `sri-baseline` extensions of a criterion component: domain (BILAG) and date. */
function baselineDates(o: Observation, code: string): { domain?: string; date?: string; source?: string }[] {
  return (componentOf(o, code)?.extension ?? [])
    .filter((e) => e.url === `${BASE}/StructureDefinition/sri-baseline`)
    .map((e) => ({
      ...(e.extension?.find((x) => x.url === 'domain') ? { domain: e.extension.find((x) => x.url === 'domain')?.valueCode } : {}),
      date: e.extension?.find((x) => x.url === 'date')?.valueDate,
      source: e.extension?.find((x) => x.url === 'source')?.valueReference?.reference,
    }));
}

/** Each outcome-reason component as reason code, decision id and named item. */
function reasonDetails(o: Observation): { reason?: string; decision?: string; item?: string }[] {
  return (o.component ?? [])
    .filter((c) => c.code.coding?.[0]?.code === 'outcome-reason')
    .map((c) => ({
      reason: c.valueCodeableConcept?.coding?.[0]?.code,
      decision: c.extension?.find((e) => e.url.endsWith('/study-decision'))?.valueCode,
      item: c.extension?.find((e) => e.url.endsWith('/outcome-reason-item'))?.valueCoding?.code,
    }));
}

describe('D1 baseline: per component, the latest assessment on or before day 0 and no earlier than day −28', () => {
  it('uses a baseline assessed the day before the first infusion (day −1)', () => {
    const b = subject(['week-24'], { visit: 'screening', date: new SubjectBuilder().day(-1) });
    const o = find(b.derive(ASOF), 'sri4', 'week-24');
    expect(outcomeOf(o)).toBe('responder');
    expect(componentOf(o, 'sledai-2k-reduction')?.valueInteger).toBe(4);
    expect(baselineDates(o, 'sledai-2k-reduction')).toEqual([
      { date: b.day(-1), source: `Observation/${derivedId(SUBJECT, 'screening', 'sledai-2k')}` },
    ]);
    expect(baselineDates(o, 'pga-change')[0]?.date).toBe(b.day(-1));
  });

  it('uses day −28 (the window edge) but not day −29', () => {
    const edge = subject(['week-24'], { visit: 'screening', date: new SubjectBuilder().day(-28) });
    expect(outcomeOf(find(edge.derive(ASOF), 'sri4', 'week-24'))).toBe('responder');
    const before = subject(['week-24'], { visit: 'screening', date: new SubjectBuilder().day(-29) });
    const o = find(before.derive(ASOF), 'sri4', 'week-24');
    expect(outcomeOf(o)).toBe('not-evaluable');
    expect(reasonDetails(o)).toContainEqual({ reason: 'missing-baseline', decision: 'D9', item: 'total' });
  });

  it('takes the day-0 assessment as the week-0 baseline over an earlier screening one, and gives no SRI for week 0', () => {
    const b = new SubjectBuilder();
    b.belimumab(b.day(0));
    b.visit('screening', { date: b.day(-10), present: [...ACTIVE, 'alopecia', 'pleurisy'], bilag: grades('C'), pga: 2.5 }); // 16
    b.visit('week-0', { present: ACTIVE, bilag: grades('C'), pga: 1.5 }); // 10 on day 0
    b.visit('week-24', { present: BETTER, bilag: grades('C'), pga: 1.5 });
    const out = b.derive(ASOF);
    const o = find(out, 'sri4', 'week-24');
    expect(componentOf(o, 'sledai-2k-reduction')?.valueInteger).toBe(4);
    expect(componentOf(o, 'pga-change')?.valueQuantity?.value).toBe(0);
    expect(baselineDates(o, 'sledai-2k-reduction')[0]?.date).toBe(b.day(0));
    expect(() => find(out, 'sri4', 'week-0')).toThrow();
  });

  it('chooses each component separately: SLEDAI-2K at screening, PGA on day 0, each BILAG domain on its own day', () => {
    const b = new SubjectBuilder();
    b.belimumab(b.day(0));
    b.visit('screening', { date: b.day(-5), present: ACTIVE, bilag: grades('C') });
    b.bilag('unscheduled', b.day(-3), 'renal', 'B');
    b.pga('week-0', b.day(0), 1.5);
    b.visit('week-24', { present: BETTER, bilag: grades('C', { renal: 'B' }), pga: 1.7 });
    const o = find(b.derive(ASOF), 'sri4', 'week-24');
    expect(baselineDates(o, 'sledai-2k-reduction')[0]?.date).toBe(b.day(-5));
    expect(baselineDates(o, 'pga-change')[0]?.date).toBe(b.day(0));
    const bilag = baselineDates(o, 'bilag-new-b');
    expect(bilag).toHaveLength(9);
    expect(bilag.find((x) => x.domain === 'renal')?.date).toBe(b.day(-3));
    expect(bilag.find((x) => x.domain === 'mucocutaneous')?.date).toBe(b.day(-5));
    // Renal B at baseline (day −3) and B now: not a new B.
    expect(componentOf(o, 'bilag-new-b')?.valueInteger).toBe(0);
    expect(outcomeOf(o)).toBe('responder');
  });

  it('D1 with D3: the baseline SLEDAI-2K is the latest complete score in the window, never a partial one', () => {
    const b = new SubjectBuilder();
    b.belimumab(b.day(0));
    b.visit('screening', { date: b.day(-10), present: ACTIVE, bilag: grades('C'), pga: 1.5 }); // complete, 10
    b.visit('week-0', { present: ['arthritis'], recordAbsent: 'none', bilag: grades('C'), pga: 1.5 }); // partial
    b.visit('week-24', { present: BETTER, bilag: grades('C'), pga: 1.5 });
    const o = find(b.derive(ASOF), 'sri4', 'week-24');
    expect(baselineDates(o, 'sledai-2k-reduction')[0]?.date).toBe(b.day(-10));
    expect(componentOf(o, 'sledai-2k-reduction')?.valueInteger).toBe(4);
    // The PGA and BILAG baselines are the later day-0 ones.
    expect(baselineDates(o, 'pga-change')[0]?.date).toBe(b.day(0));
  });
});

describe('D6 withdrawal: withdrawn, or off-study ending before the week-48 assessment, is discontinuation; off-study on or after it is completion', () => {
  const week48 = (b: SubjectBuilder): Observation => find(b.derive(ASOF), 'sri4', 'week-48');

  it('off-study ending the day before the week-48 assessment: non-responder at week 48 (D6)', () => {
    const b = subject(['week-24', 'week-48']);
    b.researchSubject('off-study', b.day(335));
    const o = week48(b);
    expect(outcomeOf(o)).toBe('non-responder');
    expect(reasonDetails(o)).toEqual([{ reason: 'withdrawal', decision: 'D6' }]);
    expect(outcomeOf(find(b.derive(ASOF), 'sri4', 'week-24'))).toBe('responder');
  });

  it('off-study ending on the day of the week-48 assessment, or after it: completion, still a responder (D6)', () => {
    for (const end of [336, 340]) {
      const b = subject(['week-24', 'week-48']);
      b.researchSubject('off-study', b.day(end));
      const o = week48(b);
      expect(outcomeOf(o)).toBe('responder');
      expect(reasonsOf(o)).toEqual([]);
      expect(o.note?.map((n) => n.text).join(' ')).toMatch(/completed the study/);
    }
  });

  it('off-study with no week-48 assessment is discontinuation: the endpoint is a non-responder (D6)', () => {
    const b = subject(['week-24']);
    b.researchSubject('off-study');
    const o = find(b.derive('2024-12-01'), 'sri4', 'week-48');
    expect(outcomeOf(o)).toBe('non-responder');
    expect(reasonDetails(o)).toEqual([{ reason: 'withdrawal', decision: 'D6' }]);
  });

  it('withdrawn at week 30: responder still possible at week 24, non-responder at week 36 and week 48 (D6)', () => {
    const b = subject(['week-24', 'week-36']);
    b.researchSubject('withdrawn', b.day(210));
    const out = b.derive('2025-03-01');
    expect(outcomeOf(find(out, 'sri4', 'week-24'))).toBe('responder');
    for (const visit of ['week-36', 'week-48']) {
      const o = find(out, 'sri4', visit);
      expect(outcomeOf(o)).toBe('non-responder');
      expect(reasonDetails(o)).toEqual([{ reason: 'withdrawal', decision: 'D6' }]);
    }
  });

  it('withdrawn is discontinuation even with the week-48 assessment done: the endpoint is a non-responder (D6)', () => {
    const b = subject(['week-24', 'week-48']);
    b.researchSubject('withdrawn', b.day(340));
    expect(outcomeOf(week48(b))).toBe('non-responder');
  });
});

describe('D7 restricted medication after day 0: non-responder from the visit at which it happens (tabalumab SRI-5 pattern, response-indices.md §3)', () => {
  const PRED = ['8640', 'prednisone'] as const;

  it('D7(d): a prednisone-equivalent dose equal to baseline at week 24 is allowed, 0.5 mg/day above it is not', () => {
    const equal = subject(['week-24']);
    equal.statement(...PRED, 10, equal.day(-60));
    equal.statement(...PRED, 10, equal.day(150));
    expect(outcomeOf(find(equal.derive(ASOF), 'sri4', 'week-24'))).toBe('responder');

    const above = subject(['week-24']);
    above.statement(...PRED, 10, above.day(-60));
    above.statement(...PRED, 10.5, above.day(150));
    const o = find(above.derive(ASOF), 'sri4', 'week-24');
    expect(outcomeOf(o)).toBe('non-responder');
    expect(reasonDetails(o)).toEqual([{ reason: 'glucocorticoid-increase', decision: 'D7' }]);
    expect(o.note?.[0]?.text).toMatch(/not tapered back/);
  });

  it('D7(d): a rise above baseline before week 24 that is tapered back by week 24 is allowed', () => {
    const b = subject(['week-12', 'week-24']);
    b.statement(...PRED, 10, b.day(-60), { end: b.day(49) });
    b.statement(...PRED, 20, b.day(50), { end: b.day(119) });
    b.statement(...PRED, 10, b.day(120));
    const out = b.derive(ASOF);
    expect(outcomeOf(find(out, 'sri4', 'week-12'))).toBe('responder');
    expect(outcomeOf(find(out, 'sri4', 'week-24'))).toBe('responder');
  });

  it('D7(d): prednisone raised 10 → 40 mg/day after week 24 (a newer request over the older statement) is a non-responder from then on', () => {
    const b = subject(['week-24', 'week-36', 'week-48']);
    b.statement(...PRED, 10, b.day(-60));
    b.requestDose(...PRED, 40, b.day(200));
    const out = b.derive(ASOF);
    expect(outcomeOf(find(out, 'sri4', 'week-24'))).toBe('responder');
    for (const visit of ['week-36', 'week-48']) {
      const o = find(out, 'sri4', visit);
      expect(outcomeOf(o)).toBe('non-responder');
      expect(reasonsOf(o)).toEqual(['glucocorticoid-increase']);
    }
    expect(find(out, 'sri4', 'week-36').note?.[0]?.text).toMatch(/40 mg\/day on .* above the day-0 dose of 10 mg\/day \(increased above the baseline dose after week 24\)/);
  });

  it('D7(c): a new mycophenolate after day 0 is a non-responder from the visit at which it happens', () => {
    const b = subject(['week-4', 'week-8', 'week-24']);
    b.statement('68149', 'mycophenolate mofetil', 1000, b.day(40), { timing: { repeat: { frequency: 2, period: 1, periodUnit: 'd' } } });
    const out = b.derive(ASOF);
    expect(outcomeOf(find(out, 'sri4', 'week-4'))).toBe('responder');
    for (const visit of ['week-8', 'week-24']) {
      const o = find(out, 'sri4', visit);
      expect(outcomeOf(o)).toBe('non-responder');
      expect(reasonDetails(o)).toEqual([{ reason: 'new-immunosuppressant', decision: 'D7' }]);
    }
    expect(find(out, 'sri4', 'week-8').note?.[0]?.text).toMatch(/new mycophenolate mofetil/);
  });

  it('D7(c): an immunosuppressant taken at baseline at the same dose is allowed; its dose increase is not', () => {
    const same = subject(['week-24']);
    same.statement('1256', 'azathioprine', 100, same.day(-200));
    same.statement('1256', 'azathioprine', 100, same.day(60));
    expect(outcomeOf(find(same.derive(ASOF), 'sri4', 'week-24'))).toBe('responder');

    const raised = subject(['week-24']);
    raised.statement('5521', 'hydroxychloroquine', 200, raised.day(-200));
    raised.statement('5521', 'hydroxychloroquine', 400, raised.day(60));
    const o = find(raised.derive(ASOF), 'sri4', 'week-24');
    expect(reasonsOf(o)).toEqual(['new-immunosuppressant']);
    expect(o.note?.[0]?.text).toMatch(/hydroxychloroquine increased to 400 mg\/day/);
  });

  it('D7(a), D7(b): rituximab and an IV pulse ≥ 250 mg prednisone-equivalent carry decision D7', () => {
    const b = subject(['week-24']);
    b.administration('6902', 'methylprednisolone', b.day(40), 200, 'mg', IV); // 250 mg prednisone-equivalent: a pulse
    const o = find(b.derive(ASOF), 'sri4', 'week-24');
    expect(reasonDetails(o)).toEqual([{ reason: 'prohibited-medication', decision: 'D7' }]);
    const below = subject(['week-24']);
    below.administration('6902', 'methylprednisolone', below.day(40), 199, 'mg', IV);
    expect(reasonsOf(find(below.derive(ASOF), 'sri4', 'week-24'))).not.toContain('prohibited-medication');
  });
});

describe('D8 missing SRI component at a visit: non-responder, the missing component named', () => {
  it('a missing PGA at week 48 is a non-responder with reason missing-component: pga (D8)', () => {
    const b = subject(['week-24']);
    b.visit('week-48', { present: BETTER, bilag: grades('C') });
    const o = find(b.derive(ASOF), 'sri4', 'week-48');
    expect(outcomeOf(o)).toBe('non-responder');
    expect(reasonDetails(o)).toEqual([{ reason: 'missing-component', decision: 'D8', item: 'pga' }]);
    expect(componentOf(o, 'pga-change')?.dataAbsentReason).toBeDefined();
    // The other components are still reported.
    expect(componentOf(o, 'sledai-2k-reduction')?.valueInteger).toBe(4);
  });

  it('a partial SLEDAI-2K at the visit (D3) is a missing component, not a low score (D8)', () => {
    const b = subject([]);
    b.visit('week-24', { present: [], recordAbsent: 'none', bilag: grades('C'), pga: 1.5 });
    b.descriptor('week-24', b.visitDate('week-24'), 'rash', false);
    const o = find(b.derive(ASOF), 'sri4', 'week-24');
    expect(outcomeOf(o)).toBe('non-responder');
    expect(reasonDetails(o)).toEqual([{ reason: 'missing-component', decision: 'D8', item: 'total' }]);
  });
});

describe('D9 not evaluable at baseline, and the ITT count of the primary endpoint', () => {
  it('a baseline SLEDAI-2K of 3 is not evaluable for SRI-4, and an ITT non-responder at week 48', () => {
    const b = new SubjectBuilder();
    b.belimumab(b.day(0));
    b.visit('week-0', { present: ['alopecia', 'fever'], bilag: grades('C'), pga: 1.5 });
    b.visit('week-48', { present: [], bilag: grades('C'), pga: 1.0 });
    const out = b.derive(ASOF);
    expect(find(out, 'sledai-2k', 'week-0').valueInteger).toBe(3);
    const o = find(out, 'sri4', 'week-48');
    expect(outcomeOf(o)).toBe('not-evaluable');
    expect(reasonDetails(o)).toEqual([{ reason: 'baseline-below-threshold', decision: 'D9', item: 'total' }]);
    expect(o.category?.map((c) => c.coding?.[0]?.code)).toEqual(['survey', 'primary-endpoint', 'itt-non-responder']);
    expect(o.extension).toContainEqual({ url: `${BASE}/StructureDefinition/itt-population`, valueBoolean: true });
    // Only the primary endpoint carries the ITT count.
    expect(find(out, 'sri5', 'week-48').category?.map((c) => c.coding?.[0]?.code)).toEqual(['survey']);
  });

  it('a baseline SLEDAI-2K of 4 is evaluable for SRI-4 (the threshold itself)', () => {
    const b = subject(['week-48'], { present: ['arthritis'] });
    const o = find(b.derive(ASOF), 'sri4', 'week-48');
    expect(outcomeOf(o)).toBe('non-responder'); // 4 → 6: no reduction
    expect(o.category?.map((c) => c.coding?.[0]?.code)).toEqual(['survey', 'primary-endpoint']);
  });

  it('a subject who never received a dose is outside the ITT population: no itt-non-responder', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ['arthritis'], bilag: grades('C'), pga: 1.5 });
    b.visit('week-48', { present: [], bilag: grades('C'), pga: 1.0 });
    const o = find(b.derive(ASOF), 'sri4', 'week-48');
    expect(o.extension).toContainEqual({ url: `${BASE}/StructureDefinition/itt-population`, valueBoolean: false });
    expect(o.category?.map((c) => c.coding?.[0]?.code)).toEqual(['survey', 'primary-endpoint']);
  });
});

describe('D10 the glucocorticoid dose of D7(d) and LLDAS: latest record per product, products summed, conflicts reviewed', () => {
  it('an undecided dose at week 24 leaves the SRI-4 preliminary with a review item focused on it', () => {
    const b = subject(['week-24']);
    b.statement('8640', 'prednisone', 10, b.day(-60));
    b.statement('8640', 'prednisone', 10, b.day(160));
    b.requestDose('8640', 'prednisone', 20, b.day(160));
    const { observations, reviews } = b.deriveAll(ASOF);
    const o = find(observations, 'sri4', 'week-24');
    expect(outcomeOf(o)).toBe('responder');
    expect(o.status).toBe('preliminary');
    expect(o.note?.map((n) => n.text).join(' ')).toMatch(/undecided \(D10\)/);
    const doseReviews = reviews.filter((r) => r.question === 'review-glucocorticoid-dose');
    expect(doseReviews).toEqual([
      expect.objectContaining({ focus: `Observation/${o.id}`, reason: 'conflicting-dose-records', date: b.visitDate('week-24'), item: expect.objectContaining({ code: 'prednisone-equivalent-dose' }) }),
    ]);
  });

  it("the investigator's decision for the date decides the dose: above baseline makes a non-responder, and no review remains", () => {
    const b = subject(['week-24']);
    b.statement('8640', 'prednisone', 10, b.day(-60));
    b.statement('8640', 'prednisone', 10, b.day(160));
    b.requestDose('8640', 'prednisone', 20, b.day(160));
    b.investigatorDose(b.visitDate('week-24'), 20);
    const { observations, reviews } = b.deriveAll(ASOF);
    const o = find(observations, 'sri4', 'week-24');
    expect(o.status).toBe('final');
    expect(reasonsOf(o)).toEqual(['glucocorticoid-increase']);
    expect(componentOf(find(observations, 'lldas', 'week-24'), 'prednisone-equivalent-dose')?.valueQuantity?.value).toBe(20);
    expect(reviews.filter((r) => r.question === 'review-glucocorticoid-dose')).toEqual([]);
  });
});

describe('Rules as data: every response rule carries its decision id', () => {
  it('names D1, D6, D7, D8, D9, D10 and D11 in the data', () => {
    expect(rules.response.visits.baselineWindow).toMatchObject({ fromDay: -28, toDay: 0, decision: 'D1' });
    expect(rules.response.withdrawal.decision).toBe('D6');
    expect([rules.medications.prohibitedDecision, rules.medications.glucocorticoids.pulseDecision, rules.medications.immunosuppressants.decision]).toEqual(['D7', 'D7', 'D7']);
    expect(rules.response.sri.missingComponentDecision).toBe('D8');
    expect(rules.response.sri.notEvaluable.decision).toBe('D9');
    expect(rules.medications.glucocorticoids.currentDose.decision).toBe('D10');
    expect(rules.medications.maintenance.filter((m) => m.decision === 'D11').map((m) => [m.display, !!m.source])).toEqual([
      ['tacrolimus', true],
      ['cyclosporine', true],
    ]);
  });

  it('refuses a rule whose decision id is not a decision id', () => {
    const raw = structuredClone(rules) as unknown as { response: { withdrawal: { decision: string } } };
    raw.response.withdrawal.decision = 'withdrawal';
    expect(() => parseDerivationRules(raw as never)).toThrow(/response-indices.json: withdrawal.decision/);
  });
});
