import type { Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { ASSESSMENTS, BASE, rules, SLEDAI, SubjectBuilder, withRules } from './fixtures.js';

// Definitions pinned here: shared/reference/sledai-2k.md §1 (scoring conventions, window),
// §2 (the 24 descriptors and weights) and §4 (lab codes, units, thresholds); study decisions D2
// (look-back window) and D3 (a complete SLEDAI-2K) of shared/reference/study-decisions.md.

const LAB_DESCRIPTORS = new Set(rules.labs.rules.map((r) => r.descriptor));
const ALL = rules.sledai.descriptors.map((d) => d.code);

/**
 * A week-0 visit whose clinician recorded every descriptor absent except `open`, which are left to the
 * labs the test adds: the score is then complete exactly when the labs assess `open`.
 */
function visitWithLabs(...open: string[]): { b: SubjectBuilder; date: string } {
  const b = new SubjectBuilder();
  const date = b.visitDate('week-0');
  for (const code of ALL.filter((c) => !open.includes(c))) {
    b.descriptor('week-0', date, code, false);
  }
  return { b, date };
}

interface Scored {
  total: number | undefined;
  codes: string[];
  missing: readonly string[];
  undecided: string[];
}

function score(b: SubjectBuilder, visit = 'week-0', override = rules): Scored {
  const { score: s } = b.sledai(visit, override);
  if (!s) {
    throw new Error(`no score at ${visit}`);
  }
  return { total: s.total, codes: s.present.map((f) => f.code), missing: s.missing, undecided: s.undecided.map((u) => `${u.code}:${u.reason}`) };
}

function observationOf(b: SubjectBuilder, visit = 'week-0', override = rules): Observation {
  const { observation } = b.sledai(visit, override);
  if (!observation) {
    throw new Error(`no score Observation at ${visit}`);
  }
  return observation;
}

const componentCodes = (o: Observation): string[] => (o.component ?? []).map((c) => c.code.coding?.[0]?.code ?? '');

describe('SLEDAI-2K: the 24 descriptors (sledai-2k.md §2)', () => {
  it('has 24 descriptors whose weights sum to 105 (sledai-2k.md §1: 8×8 + 6×4 + 7×2 + 3×1)', () => {
    expect(rules.sledai.descriptors).toHaveLength(24);
    expect(rules.sledai.descriptors.reduce((s, d) => s + d.weight, 0)).toBe(105);
  });

  it.each(rules.sledai.descriptors.map((d) => [d.code, d.weight] as const))(
    'scores a clinician-recorded %s with its weight %i and nothing else, when all 24 are recorded',
    (code, weight) => {
      const b = new SubjectBuilder();
      b.visit('week-0', { present: [code] });
      const o = observationOf(b);
      expect(o.valueInteger).toBe(weight);
      expect(o.status).toBe('final');
      expect(o.component).toEqual([
        expect.objectContaining({ code: { coding: [expect.objectContaining({ system: SLEDAI, code })] }, valueInteger: weight }),
      ]);
    },
  );

  it('scores all 24 present as 105, the top of the range', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ALL });
    expect(score(b).total).toBe(105);
  });
});

describe('SLEDAI-2K: a complete score needs all 24 descriptors assessed (D3)', () => {
  it('one clinician item filled in is a partial score that names the other 23 as missing, with no total', () => {
    const b = new SubjectBuilder();
    b.descriptor('week-0', b.visitDate('week-0'), 'rash', true);
    const s = score(b);
    expect(s.total).toBeUndefined();
    expect(s.codes).toEqual(['rash']);
    expect([...s.missing].sort()).toEqual(ALL.filter((c) => c !== 'rash').sort());
    const o = observationOf(b);
    expect(o.valueInteger).toBeUndefined();
    expect(o.status).toBe('preliminary');
    expect(o.dataAbsentReason?.coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown' });
    const missing = (o.component ?? []).filter((c) => c.interpretation?.some((i) => i.coding?.[0]?.code === 'descriptor-missing'));
    expect(missing).toHaveLength(23);
    for (const c of missing) {
      expect(c.valueInteger).toBeUndefined();
      expect(c.dataAbsentReason?.coding?.[0]?.code).toBe('not-performed');
      expect(c.code.coding?.[0]?.system).toBe(SLEDAI);
    }
    // The present descriptors' sum is a lower bound, in its own component and never as the total.
    const partial = (o.component ?? []).find((c) => c.code.coding?.[0]?.system === ASSESSMENTS && c.code.coding[0].code === 'partial-score');
    expect(partial?.valueInteger).toBe(2);
    expect(o.note?.[0]?.text).toMatch(/Partial SLEDAI-2K \(D3\): no total/);
  });

  it('23 of 24 recorded is still partial: the last one is named (an unassessed descriptor is missing, never absent)', () => {
    const { b } = visitWithLabs('seizure');
    const s = score(b);
    expect(s).toMatchObject({ total: undefined, missing: ['seizure'] });
  });

  it('week-48 labs that never came: the clinician records the 15 clinical descriptors, the 9 lab descriptors are missing', () => {
    const b = new SubjectBuilder();
    b.visit('week-48', { recordAbsent: 'clinical' });
    const s = score(b, 'week-48');
    expect(s.total).toBeUndefined();
    expect([...s.missing].sort()).toEqual([...LAB_DESCRIPTORS].sort());
    expect(LAB_DESCRIPTORS.size).toBe(9);
  });

  it('labs outside the window assess nothing: the lab descriptors stay missing', () => {
    const b = new SubjectBuilder();
    b.visit('week-48', { recordAbsent: 'clinical' });
    normalPanel(b, b.day(336 - 11));
    expect(score(b, 'week-48').missing).toHaveLength(9);
  });

  it('the clinical descriptors recorded and a normal lab panel in the window make a complete score of 0', () => {
    const b = new SubjectBuilder();
    const date = b.visit('week-48', { recordAbsent: 'clinical' });
    normalPanel(b, date);
    const s = score(b, 'week-48');
    expect(s).toEqual({ total: 0, codes: [], missing: [], undecided: [] });
    expect(observationOf(b, 'week-48').valueInteger).toBe(0);
  });

  it('a clinician record of a lab descriptor assesses it without a lab', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { recordAbsent: 'clinical' });
    const date = b.visitDate('week-0');
    for (const code of LAB_DESCRIPTORS) {
      b.descriptor('week-0', date, code, code === 'thrombocytopenia');
    }
    expect(score(b)).toEqual({ total: 1, codes: ['thrombocytopenia'], missing: [], undecided: [] });
  });

  it('an assessed visit with no SLEDAI-2K data at all gets a fully missing partial score, never a complete 0', () => {
    const b = new SubjectBuilder();
    b.pga('week-0', b.visitDate('week-0'), 1);
    const o = observationOf(b);
    expect(o.valueInteger).toBeUndefined();
    expect(o.dataAbsentReason).toBeDefined();
    expect(componentCodes(o).filter((c) => c !== 'partial-score').sort()).toEqual([...ALL].sort());
  });

  it('the data can decline to score a visit without any SLEDAI-2K data (D3 choice as data)', () => {
    const b = new SubjectBuilder();
    b.pga('week-0', b.visitDate('week-0'), 1);
    const off = withRules((r) => {
      r.sledai.completeness.scoreVisitsWithoutData = false;
    });
    expect(b.sledai('week-0', off).score).toBeUndefined();
    b.descriptor('week-0', b.visitDate('week-0'), 'rash', false);
    expect(b.sledai('week-0', off).score?.complete).toBe(false);
  });

  it('names D3 in the data', () => {
    expect(rules.sledai.completeness.decision).toBe('D3');
  });
});

/** A normal result for every lab descriptor, each judged by its own rule. */
function normalPanel(b: SubjectBuilder, date: string): void {
  b.lab(date, '4485-9', 120, 'mg/dL', { referenceRange: [{ low: { value: 90, code: 'mg/dL' }, high: { value: 180, code: 'mg/dL' } }] });
  b.lab(date, '5130-0', 10, '[IU]/mL', { referenceRange: [{ high: { value: 30, code: '[IU]/mL' } }] });
  b.lab(date, '777-3', 250, '10*3/uL');
  b.lab(date, '6690-2', 6, '10*3/uL');
  b.lab(date, '2889-4', 0.1, 'g/(24.h)');
  b.lab(date, '13945-1', 1, '/[HPF]');
  b.lab(date, '5821-4', 2, '/[HPF]');
  b.lab(date, '5807-3', 0, '/[LPF]');
  b.lab(date, '8310-5', 36.8, 'Cel');
}

describe('SLEDAI-2K: lab descriptors from results in the window (sledai-2k.md §2, §4)', () => {
  it('thrombocytopenia: platelets 99 ×10⁹/L count, 100 do not (row 23: < 100)', () => {
    const low = visitWithLabs('thrombocytopenia');
    low.b.lab(low.date, '777-3', 99, '10*3/uL');
    expect(score(low.b)).toMatchObject({ total: 1, codes: ['thrombocytopenia'] });
    const edge = visitWithLabs('thrombocytopenia');
    edge.b.lab(edge.date, '777-3', 100, '10*3/uL');
    expect(score(edge.b)).toMatchObject({ total: 0, missing: [] });
  });

  it('thrombocytopenia: "<100" counts as < 100; "<120" does not decide and so does not assess it (§4: never drop the comparator)', () => {
    const lt100 = visitWithLabs('thrombocytopenia');
    lt100.b.lab(lt100.date, '26515-7', 100, '10*3/uL', { comparator: '<' });
    expect(score(lt100.b).codes).toEqual(['thrombocytopenia']);
    const lt120 = visitWithLabs('thrombocytopenia');
    const vague = lt120.b.lab(lt120.date, '26515-7', 120, '10*3/uL', { comparator: '<' });
    expect(score(lt120.b)).toMatchObject({ total: undefined, missing: ['thrombocytopenia'] });
    expect(observationOf(lt120.b).note?.map((n) => n.text).join(' ')).toContain(`could not decide a descriptor (not qualifying results): Observation/${vague.id}`);
    // A qualifying result beside it decides.
    lt120.b.lab(lt120.date, '26515-7', 150, '10*3/uL');
    expect(score(lt120.b).total).toBe(0);
  });

  it('leukopenia: WBC 2.9 ×10⁹/L counts, 3.0 does not (row 24: < 3)', () => {
    const low = visitWithLabs('leukopenia');
    low.b.lab(low.date, '6690-2', 2.9, '10*3/uL');
    expect(score(low.b)).toMatchObject({ total: 1, codes: ['leukopenia'] });
    const edge = visitWithLabs('leukopenia');
    edge.b.lab(edge.date, '804-5', 3, '10*3/uL');
    expect(score(edge.b).total).toBe(0);
  });

  it('proteinuria: 0.51 g/24 h counts, 0.5 does not (row 13: > 0.5 g/24 h); 510 mg/24 h is converted', () => {
    const over = visitWithLabs('proteinuria');
    over.b.lab(over.date, '2889-4', 0.51, 'g/(24.h)');
    expect(score(over.b)).toMatchObject({ total: 4, codes: ['proteinuria'] });
    const edge = visitWithLabs('proteinuria');
    edge.b.lab(edge.date, '2889-4', 0.5, 'g/(24.h)');
    expect(score(edge.b).total).toBe(0);
    const mg = visitWithLabs('proteinuria');
    mg.b.lab(mg.date, '2889-4', 510, 'mg/(24.h)');
    expect(score(mg.b).codes).toEqual(['proteinuria']);
  });

  it('proteinuria: a spot UPCR assesses nothing unless the data switch is on (§4 UPCR note)', () => {
    const { b, date } = visitWithLabs('proteinuria');
    b.lab(date, '2890-2', 0.8, 'mg/mg');
    expect(score(b)).toMatchObject({ total: undefined, missing: ['proteinuria'] });
    const on = withRules((r) => {
      r.labs.switches['upcrForProteinuria'] = true;
    });
    expect(score(b, 'week-0', on).total).toBe(4);
  });

  it('hematuria: 6 RBC/HPF counts, 5 does not (row 12: > 5); a reported range "5-10" does not decide, "6-10" does', () => {
    const over = visitWithLabs('hematuria');
    over.b.lab(over.date, '13945-1', 6, '/[HPF]');
    expect(score(over.b)).toMatchObject({ total: 4, codes: ['hematuria'] });
    const edge = visitWithLabs('hematuria');
    edge.b.lab(edge.date, '13945-1', 5, '/[HPF]');
    expect(score(edge.b).total).toBe(0);
    const open = visitWithLabs('hematuria');
    open.b.lab(open.date, '13945-1', { valueString: '5-10' });
    expect(score(open.b).missing).toEqual(['hematuria']);
    const both = visitWithLabs('hematuria');
    both.b.lab(both.date, '13945-1', { valueString: '6-10' });
    expect(score(both.b).codes).toEqual(['hematuria']);
  });

  it('pyuria: 6 WBC/HPF counts (row 14: > 5)', () => {
    const { b, date } = visitWithLabs('pyuria');
    b.lab(date, '5821-4', 6, '/[HPF]');
    expect(score(b)).toMatchObject({ total: 4, codes: ['pyuria'] });
  });

  it('urinary casts: RBC casts 1/LPF or a "present" result count, 0/LPF does not (row 11)', () => {
    const count = visitWithLabs('urinary-casts');
    count.b.lab(count.date, '5807-3', 1, '/[LPF]');
    expect(score(count.b)).toMatchObject({ total: 4, codes: ['urinary-casts'] });
    const presence = visitWithLabs('urinary-casts');
    presence.b.lab(presence.date, '33804-6', { valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '52101004' }] } });
    expect(score(presence.b).codes).toEqual(['urinary-casts']);
    const none = visitWithLabs('urinary-casts');
    none.b.lab(none.date, '5807-3', 0, '/[LPF]');
    expect(score(none.b).total).toBe(0);
  });

  it('urinary casts: heme-granular casts are read as urinary casts, plain granular casts are not (row 11: "heme-granular or RBC casts"; §4 granular-casts note)', () => {
    const heme = visitWithLabs('urinary-casts');
    heme.b.lab(heme.date, '5793-5', 2, '/[LPF]', { code: { coding: [{ system: 'http://loinc.org', code: '5793-5' }], text: 'Heme-granular casts' } });
    expect(score(heme.b)).toMatchObject({ total: 4, codes: ['urinary-casts'] });
    const haem = visitWithLabs('urinary-casts');
    haem.b.lab(haem.date, '25160-3', {
      valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '52101004' }], text: 'Pigmented (haem-granular) casts seen' },
    });
    expect(score(haem.b).codes).toEqual(['urinary-casts']);
    const plain = visitWithLabs('urinary-casts');
    plain.b.lab(plain.date, '5793-5', 2, '/[LPF]');
    expect(score(plain.b)).toMatchObject({ total: undefined, missing: ['urinary-casts'] });
    const none = visitWithLabs('urinary-casts');
    none.b.lab(none.date, '5793-5', 0, '/[LPF]', { code: { coding: [{ system: 'http://loinc.org', code: '5793-5' }], text: 'Heme-granular casts' } });
    expect(score(none.b)).toMatchObject({ total: 0, missing: [] });
  });

  it('fever: 38.1 °C counts, 38.0 does not (row 22: > 38 °C), at any listed site; an unlisted unit assesses nothing', () => {
    const over = visitWithLabs('fever');
    over.b.lab(over.date, '8331-1', 38.1, 'Cel');
    expect(score(over.b)).toMatchObject({ total: 1, codes: ['fever'] });
    const edge = visitWithLabs('fever');
    edge.b.lab(edge.date, '8310-5', 38.0, 'Cel');
    expect(score(edge.b).total).toBe(0);
    const f = visitWithLabs('fever');
    f.b.lab(f.date, '8310-5', 101, '[degF]');
    expect(score(f.b).missing).toEqual(['fever']);
  });

  it('a lab-derived finding is marked laboratory (not confirmed by a clinician), a recorded one clinician, and both are cited', () => {
    const { b, date } = visitWithLabs('rash', 'thrombocytopenia');
    const rash = b.descriptor('week-0', date, 'rash', true);
    const plt = b.lab(date, '777-3', 50, '10*3/uL');
    const o = observationOf(b);
    const sources = (o.component ?? []).filter((c) => c.valueInteger !== undefined && c.code.coding?.[0]?.system === SLEDAI);
    expect(sources.map((c) => [c.code.coding?.[0]?.code, c.extension?.[0]?.valueCode])).toEqual([
      ['rash', 'clinician'],
      ['thrombocytopenia', 'laboratory'],
    ]);
    expect(o.valueInteger).toBe(3);
    expect(o.derivedFrom?.map((r) => r.reference)).toEqual(expect.arrayContaining([`Observation/${plt.id}`, `Observation/${rash.id}`]));
  });
});

describe('SLEDAI-2K: the look-back window (D2; sledai-2k.md §1)', () => {
  it('counts a lab on day visit−10 and not one on visit−11 (which leaves the descriptor missing, not absent)', () => {
    const ten = visitWithLabs('thrombocytopenia');
    ten.b.lab(ten.b.day(-10), '777-3', 50, '10*3/uL');
    expect(score(ten.b).total).toBe(1);
    const eleven = visitWithLabs('thrombocytopenia');
    eleven.b.lab(eleven.b.day(-11), '777-3', 50, '10*3/uL');
    expect(score(eleven.b)).toMatchObject({ total: undefined, missing: ['thrombocytopenia'] });
  });

  it('counts a lab on the visit day and not one taken after it', () => {
    const same = visitWithLabs('thrombocytopenia');
    same.b.lab(same.date, '777-3', 50, '10*3/uL');
    expect(score(same.b).total).toBe(1);
    const after = visitWithLabs('thrombocytopenia');
    after.b.lab(after.b.day(1), '777-3', 50, '10*3/uL');
    expect(score(after.b).missing).toEqual(['thrombocytopenia']);
  });

  it('stores the window with every score, complete or partial, and dates the score on the visit day', () => {
    const partial = new SubjectBuilder();
    partial.descriptor('week-0', partial.visitDate('week-0'), 'rash', false);
    const complete = new SubjectBuilder();
    complete.visit('week-0');
    for (const b of [partial, complete]) {
      const o = observationOf(b);
      expect(o.effectiveDateTime).toBe('2024-06-03');
      expect(o.extension).toContainEqual({ url: `${BASE}/StructureDefinition/look-back-window`, valuePeriod: { start: '2024-05-24', end: '2024-06-03' } });
    }
  });

  it('takes the window length from the data, which names D2 (30 days is a data change)', () => {
    expect(rules.sledai.lookBackDecision.decision).toBe('D2');
    expect(rules.sledai.lookBackDays).toBe(10);
    const { b } = visitWithLabs('thrombocytopenia');
    b.lab(b.day(-20), '777-3', 50, '10*3/uL');
    expect(score(b).total).toBeUndefined();
    const thirty = withRules((r) => {
      r.sledai.lookBackDays = 30;
    });
    expect(score(b, 'week-0', thirty).total).toBe(1);
  });
});

describe('SLEDAI-2K: clinician records and the EHR total (sledai-2k.md §1 attribution)', () => {
  it("a clinician's record of haematuria absent wins over a lab of 20 RBC/HPF", () => {
    const b = new SubjectBuilder();
    b.visit('week-0');
    b.lab(b.visitDate('week-0'), '13945-1', 20, '/[HPF]');
    expect(score(b).total).toBe(0);
  });

  it('the latest clinician record of a descriptor at the visit decides it', () => {
    const { b, date } = visitWithLabs('arthritis');
    b.descriptor('week-0', b.day(-1), 'arthritis', true);
    b.descriptor('week-0', date, 'arthritis', false);
    expect(score(b).total).toBe(0);
  });

  it('keeps an EHR total that agrees, marked as agreeing, with no note', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ['arthritis'] });
    b.ehrTotal('week-0', b.visitDate('week-0'), 4);
    const o = observationOf(b);
    const ehr = o.extension?.find((e) => e.url === `${BASE}/StructureDefinition/ehr-reported-total`);
    expect(ehr?.extension).toContainEqual({ url: 'agrees', valueBoolean: true });
    expect(o.note).toBeUndefined();
  });

  it('flags an EHR total that disagrees, keeps it as sent, and never overwrites the derived total', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ['arthritis', 'rash'] });
    const ehrTotal = b.ehrTotal('week-0', b.visitDate('week-0'), 4);
    const before = structuredClone(ehrTotal);
    const o = observationOf(b);
    expect(o.valueInteger).toBe(6);
    const ehr = o.extension?.find((e) => e.url === `${BASE}/StructureDefinition/ehr-reported-total`);
    expect(ehr?.extension).toEqual([
      { url: 'value', valueInteger: 4 },
      { url: 'agrees', valueBoolean: false },
      { url: 'source', valueReference: { reference: `Observation/${ehrTotal.id}` } },
    ]);
    expect(o.note?.[0]?.text).toMatch(/EHR reported a SLEDAI-2K total of 4; the descriptors give 6/);
    expect(ehrTotal).toEqual(before);
  });

  it('an EHR total never completes a partial score: kept as sent, not compared, no total derived', () => {
    const b = new SubjectBuilder();
    b.descriptor('week-0', b.visitDate('week-0'), 'arthritis', true);
    b.ehrTotal('week-0', b.visitDate('week-0'), 4);
    const o = observationOf(b);
    expect(o.valueInteger).toBeUndefined();
    const ehr = o.extension?.find((e) => e.url === `${BASE}/StructureDefinition/ehr-reported-total`);
    expect(ehr?.extension?.map((e) => e.url)).toEqual(['value', 'source']);
    expect(o.note?.map((n) => n.text).join(' ')).toMatch(/not compared/);
  });
});
