import { describe, expect, it } from 'vitest';
import { BASE, find, rules, SubjectBuilder, withRules } from './fixtures.js';

// Definitions pinned here: shared/reference/sledai-2k.md §1 (scoring conventions, window),
// §2 (the 24 descriptors and weights) and §4 (lab codes, units, thresholds).

/** A scored week-0 visit: one clinician record (rash absent) so the visit is scored, labs added by the test. */
function visitWithLabs(): { b: SubjectBuilder; date: string } {
  const b = new SubjectBuilder();
  const date = b.visitDate('week-0');
  b.descriptor('week-0', date, 'rash', false);
  return { b, date };
}

function score(b: SubjectBuilder, visit = 'week-0'): { total: number | undefined; codes: string[] } {
  const o = find(b.derive(), 'sledai-2k', visit);
  return { total: o.valueInteger, codes: (o.component ?? []).map((c) => c.code.coding?.[0]?.code ?? '') };
}

describe('SLEDAI-2K: the 24 descriptors (sledai-2k.md §2)', () => {
  it('has 24 descriptors whose weights sum to 105 (sledai-2k.md §1: 8×8 + 6×4 + 7×2 + 3×1)', () => {
    expect(rules.sledai.descriptors).toHaveLength(24);
    expect(rules.sledai.descriptors.reduce((s, d) => s + d.weight, 0)).toBe(105);
  });

  it.each(rules.sledai.descriptors.map((d) => [d.code, d.weight] as const))(
    'scores a clinician-recorded %s with its weight %i and nothing else',
    (code, weight) => {
      const b = new SubjectBuilder();
      b.visit('week-0', { present: [code] });
      const o = find(b.derive(), 'sledai-2k', 'week-0');
      expect(o.valueInteger).toBe(weight);
      expect(o.component).toEqual([
        expect.objectContaining({ code: { coding: [expect.objectContaining({ system: `${BASE}/CodeSystem/sledai-2k`, code })] }, valueInteger: weight }),
      ]);
    },
  );

  it('scores all 24 present as 105, the top of the range', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: rules.sledai.descriptors.map((d) => d.code) });
    expect(score(b).total).toBe(105);
  });

  it('does not score a visit that has no clinician SLEDAI-2K record (a lab-only total would understate activity)', () => {
    const b = new SubjectBuilder();
    b.pga('week-0', b.visitDate('week-0'), 1);
    b.lab(b.visitDate('week-0'), '777-3', 50, '10*3/uL');
    expect(b.derive().filter((o) => o.code.coding?.[0]?.code === 'total')).toEqual([]);
  });
});

describe('SLEDAI-2K: lab descriptors from results in the window (sledai-2k.md §2, §4)', () => {
  it('low complement: C3 below the lab reference low (row 20)', () => {
    const { b, date } = visitWithLabs();
    b.lab(date, '4485-9', 85, 'mg/dL', { referenceRange: [{ low: { value: 88, code: 'mg/dL' } }] });
    expect(score(b)).toEqual({ total: 2, codes: ['low-complement'] });
  });

  it('low complement: C3 at the lab reference low is not low', () => {
    const { b, date } = visitWithLabs();
    b.lab(date, '4485-9', 88, 'mg/dL', { referenceRange: [{ low: { value: 88, code: 'mg/dL' } }] });
    expect(score(b).total).toBe(0);
  });

  it("low complement: uses the lab's own range over the configured fallback (§1: never substitute a fixed cut-off)", () => {
    const { b, date } = visitWithLabs();
    // 85 is below the fallback 90 but not below this lab's range.
    b.lab(date, '4485-9', 85, 'mg/dL', { referenceRange: [{ low: { value: 80, code: 'mg/dL' } }] });
    expect(score(b).total).toBe(0);
  });

  it('low complement: C4 without a range falls back to the configured limit (data)', () => {
    const { b, date } = visitWithLabs();
    b.lab(date, '4498-2', 8, 'mg/dL');
    expect(score(b).codes).toEqual(['low-complement']);
  });

  it('low complement: CH50 without a range does not decide (assay-specific, no fallback)', () => {
    const { b, date } = visitWithLabs();
    b.lab(date, '4532-8', 10, "[arb'U]/mL");
    expect(score(b).total).toBe(0);
  });

  it('increased DNA binding: anti-dsDNA above the lab reference high (row 21)', () => {
    const { b, date } = visitWithLabs();
    b.lab(date, '33800-4', 45, '[IU]/mL', { referenceRange: [{ high: { value: 30, code: '[IU]/mL' } }] });
    expect(score(b)).toEqual({ total: 2, codes: ['increased-dna-binding'] });
  });

  it('thrombocytopenia: platelets 99 ×10⁹/L count, 100 do not (row 23: < 100)', () => {
    const low = visitWithLabs();
    low.b.lab(low.date, '777-3', 99, '10*3/uL');
    expect(score(low.b)).toEqual({ total: 1, codes: ['thrombocytopenia'] });
    const edge = visitWithLabs();
    edge.b.lab(edge.date, '777-3', 100, '10*3/uL');
    expect(score(edge.b).total).toBe(0);
  });

  it('thrombocytopenia: "<100" counts as < 100, "<120" does not decide (§4: never drop the comparator)', () => {
    const lt100 = visitWithLabs();
    lt100.b.lab(lt100.date, '26515-7', 100, '10*3/uL', { comparator: '<' });
    expect(score(lt100.b).codes).toEqual(['thrombocytopenia']);
    const lt120 = visitWithLabs();
    lt120.b.lab(lt120.date, '26515-7', 120, '10*3/uL', { comparator: '<' });
    const o = find(lt120.b.derive(), 'sledai-2k', 'week-0');
    expect(o.valueInteger).toBe(0);
    expect(o.note?.[0]?.text).toMatch(/could not decide/);
  });

  it('leukopenia: WBC 2.9 ×10⁹/L counts, 3.0 does not (row 24: < 3)', () => {
    const low = visitWithLabs();
    low.b.lab(low.date, '6690-2', 2.9, '10*3/uL');
    expect(score(low.b)).toEqual({ total: 1, codes: ['leukopenia'] });
    const edge = visitWithLabs();
    edge.b.lab(edge.date, '804-5', 3, '10*3/uL');
    expect(score(edge.b).total).toBe(0);
  });

  it('proteinuria: 0.51 g/24 h counts, 0.5 does not (row 13: > 0.5 g/24 h)', () => {
    const over = visitWithLabs();
    over.b.lab(over.date, '2889-4', 0.51, 'g/(24.h)');
    expect(score(over.b)).toEqual({ total: 4, codes: ['proteinuria'] });
    const edge = visitWithLabs();
    edge.b.lab(edge.date, '2889-4', 0.5, 'g/(24.h)');
    expect(score(edge.b).total).toBe(0);
  });

  it('proteinuria: 510 mg/24 h is converted to 0.51 g and counts', () => {
    const { b, date } = visitWithLabs();
    b.lab(date, '2889-4', 510, 'mg/(24.h)');
    expect(score(b).codes).toEqual(['proteinuria']);
  });

  it('proteinuria: a spot UPCR does not score unless the data switch is on (§4 UPCR note)', () => {
    const { b, date } = visitWithLabs();
    b.lab(date, '2890-2', 0.8, 'mg/mg');
    expect(score(b).total).toBe(0);
    const on = withRules((r) => {
      r.labs.switches['upcrForProteinuria'] = true;
    });
    expect(find(b.derive('2024-07-01', on), 'sledai-2k', 'week-0').valueInteger).toBe(4);
  });

  it('hematuria: 6 RBC/HPF counts, 5 does not (row 12: > 5)', () => {
    const over = visitWithLabs();
    over.b.lab(over.date, '13945-1', 6, '/[HPF]');
    expect(score(over.b)).toEqual({ total: 4, codes: ['hematuria'] });
    const edge = visitWithLabs();
    edge.b.lab(edge.date, '13945-1', 5, '/[HPF]');
    expect(score(edge.b).total).toBe(0);
  });

  it('hematuria: a reported range "5-10" does not decide, "6-10" does', () => {
    const open = visitWithLabs();
    open.b.lab(open.date, '13945-1', { valueString: '5-10' });
    expect(score(open.b).total).toBe(0);
    const both = visitWithLabs();
    both.b.lab(both.date, '13945-1', { valueString: '6-10' });
    expect(score(both.b).codes).toEqual(['hematuria']);
  });

  it('pyuria: 6 WBC/HPF counts (row 14: > 5)', () => {
    const { b, date } = visitWithLabs();
    b.lab(date, '5821-4', 6, '/[HPF]');
    expect(score(b)).toEqual({ total: 4, codes: ['pyuria'] });
  });

  it('urinary casts: RBC casts 1/LPF or a "present" result count (row 11)', () => {
    const count = visitWithLabs();
    count.b.lab(count.date, '5807-3', 1, '/[LPF]');
    expect(score(count.b)).toEqual({ total: 4, codes: ['urinary-casts'] });
    const presence = visitWithLabs();
    presence.b.lab(presence.date, '33804-6', { valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '52101004' }] } });
    expect(score(presence.b).codes).toEqual(['urinary-casts']);
    const none = visitWithLabs();
    none.b.lab(none.date, '5807-3', 0, '/[LPF]');
    expect(score(none.b).total).toBe(0);
  });

  it('fever: 38.1 °C counts, 38.0 does not (row 22: > 38 °C), at any listed site', () => {
    const over = visitWithLabs();
    over.b.lab(over.date, '8331-1', 38.1, 'Cel');
    expect(score(over.b)).toEqual({ total: 1, codes: ['fever'] });
    const edge = visitWithLabs();
    edge.b.lab(edge.date, '8310-5', 38.0, 'Cel');
    expect(score(edge.b).total).toBe(0);
  });

  it('fever: a temperature in an unlisted unit is not used', () => {
    const { b, date } = visitWithLabs();
    b.lab(date, '8310-5', 101, '[degF]');
    expect(score(b).total).toBe(0);
  });
});

describe('SLEDAI-2K: the look-back window (sledai-2k.md §1)', () => {
  it('counts a lab 10 days before the visit and not one 11 days before', () => {
    const ten = visitWithLabs();
    ten.b.lab(ten.b.day(-10), '777-3', 50, '10*3/uL');
    expect(score(ten.b).total).toBe(1);
    const eleven = visitWithLabs();
    eleven.b.lab(eleven.b.day(-11), '777-3', 50, '10*3/uL');
    expect(score(eleven.b).total).toBe(0);
  });

  it('does not count a lab taken after the visit day', () => {
    const { b } = visitWithLabs();
    b.lab(b.day(1), '777-3', 50, '10*3/uL');
    expect(score(b).total).toBe(0);
  });

  it('stores the window with the score and dates the score on the visit day', () => {
    const { b } = visitWithLabs();
    const o = find(b.derive(), 'sledai-2k', 'week-0');
    expect(o.effectiveDateTime).toBe('2024-06-03');
    expect(o.extension).toContainEqual({ url: `${BASE}/StructureDefinition/look-back-window`, valuePeriod: { start: '2024-05-24', end: '2024-06-03' } });
  });

  it('takes the window length from the data (30 days is a data change)', () => {
    const { b } = visitWithLabs();
    b.lab(b.day(-20), '777-3', 50, '10*3/uL');
    expect(score(b).total).toBe(0);
    const thirty = withRules((r) => {
      r.sledai.lookBackDays = 30;
    });
    expect(find(b.derive('2024-07-01', thirty), 'sledai-2k', 'week-0').valueInteger).toBe(1);
  });
});

describe('SLEDAI-2K: clinician records and the EHR total (sledai-2k.md §1 attribution)', () => {
  it("a clinician's record of haematuria absent wins over a lab of 20 RBC/HPF", () => {
    const b = new SubjectBuilder();
    const date = b.visitDate('week-0');
    b.descriptor('week-0', date, 'hematuria', false);
    b.lab(date, '13945-1', 20, '/[HPF]');
    expect(score(b).total).toBe(0);
  });

  it("a clinician's record of thrombocytopenia present counts without a lab", () => {
    const b = new SubjectBuilder();
    b.descriptor('week-0', b.visitDate('week-0'), 'thrombocytopenia', true);
    expect(score(b)).toEqual({ total: 1, codes: ['thrombocytopenia'] });
  });

  it('marks each finding with its source and cites the evidence in derivedFrom', () => {
    const b = new SubjectBuilder();
    const date = b.visitDate('week-0');
    const rash = b.descriptor('week-0', date, 'rash', true);
    const plt = b.lab(date, '777-3', 50, '10*3/uL');
    const o = find(b.derive(), 'sledai-2k', 'week-0');
    const sources = (o.component ?? []).map((c) => [c.code.coding?.[0]?.code, c.extension?.[0]?.valueCode]);
    expect(sources).toEqual([
      ['rash', 'clinician'],
      ['thrombocytopenia', 'laboratory'],
    ]);
    expect(o.derivedFrom?.map((r) => r.reference).sort()).toEqual([`Observation/${plt.id}`, `Observation/${rash.id}`].sort());
  });

  it('keeps an EHR total that agrees, marked as agreeing, with no note', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ['arthritis'] });
    b.ehrTotal('week-0', b.visitDate('week-0'), 4);
    const o = find(b.derive(), 'sledai-2k', 'week-0');
    const ehr = o.extension?.find((e) => e.url === `${BASE}/StructureDefinition/ehr-reported-total`);
    expect(ehr?.extension).toContainEqual({ url: 'agrees', valueBoolean: true });
    expect(o.note).toBeUndefined();
  });

  it('flags an EHR total that disagrees, keeps it as sent, and never overwrites the derived total', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ['arthritis', 'rash'] });
    const ehrTotal = b.ehrTotal('week-0', b.visitDate('week-0'), 4);
    const before = structuredClone(ehrTotal);
    const out = b.derive();
    const o = find(out, 'sledai-2k', 'week-0');
    expect(o.valueInteger).toBe(6);
    const ehr = o.extension?.find((e) => e.url === `${BASE}/StructureDefinition/ehr-reported-total`);
    expect(ehr?.extension).toEqual([
      { url: 'value', valueInteger: 4 },
      { url: 'agrees', valueBoolean: false },
      { url: 'source', valueReference: { reference: `Observation/${ehrTotal.id}` } },
    ]);
    expect(o.note?.[0]?.text).toMatch(/EHR reported a SLEDAI-2K total of 4; the descriptors give 6/);
    expect(ehrTotal).toEqual(before);
    expect(out.some((x) => x.id === ehrTotal.id)).toBe(false);
  });
});
