import type { Observation, ObservationReferenceRange } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { derivedId } from '../../../lambdas/derive/core/observations.js';
import { ASSESSMENTS, BASE, RXNORM, rules, SLEDAI, SNOMED, SUBJECT, SubjectBuilder } from './fixtures.js';

// Study decisions D4 (undecidable lab descriptors) and D5 (attribution of lab descriptors) of
// shared/reference/study-decisions.md, on the definitions of shared/reference/sledai-2k.md: §1 "Labs
// inside the window" (the reporting lab's own range for low complement and DNA binding, never a fixed
// cut-off) and "Attribution" (a lab-derived descriptor is a candidate until a clinician confirms it),
// §2 rows 12, 14, 20-24 (the exclusions: infection, drug-induced).

const V3 = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
const ALL = rules.sledai.descriptors.map((d) => d.code);

/** A week-0 visit where the clinician recorded every descriptor absent except `open`, left to the labs. */
function visitWithLabs(...open: string[]): { b: SubjectBuilder; date: string } {
  const b = new SubjectBuilder();
  const date = b.visitDate('week-0');
  for (const code of ALL.filter((c) => !open.includes(c))) {
    b.descriptor('week-0', date, code, false);
  }
  return { b, date };
}

type Outcome = 'present' | 'absent' | 'missing' | `undecided:${string}`;

/** What the score says of one descriptor. */
function outcomeOf(b: SubjectBuilder, code: string): Outcome {
  const { score } = b.sledai();
  if (!score) {
    throw new Error('no score');
  }
  if (score.present.some((f) => f.code === code)) {
    return 'present';
  }
  const undecided = score.undecided.find((u) => u.code === code);
  if (undecided) {
    return `undecided:${undecided.reason}`;
  }
  return score.missing.includes(code) ? 'missing' : 'absent';
}

const flag = (code: string): Pick<Observation, 'interpretation'> => ({ interpretation: [{ coding: [{ system: V3, code }] }] });
const range = (r: ObservationReferenceRange): Pick<Observation, 'referenceRange'> => ({ referenceRange: [r] });

describe('D4: low complement against the reporting lab range only (sledai-2k.md §2 row 20: below the testing lab LLN)', () => {
  it('C3 below the lab low is present, equal to it absent', () => {
    const below = visitWithLabs('low-complement');
    below.b.lab(below.date, '4485-9', 87.9, 'mg/dL', range({ low: { value: 88, code: 'mg/dL' } }));
    expect(outcomeOf(below.b, 'low-complement')).toBe('present');
    const equal = visitWithLabs('low-complement');
    equal.b.lab(equal.date, '4485-9', 88, 'mg/dL', range({ low: { value: 88, code: 'mg/dL' } }));
    expect(outcomeOf(equal.b, 'low-complement')).toBe('absent');
    expect(equal.b.sledai().score?.total).toBe(0);
  });

  it("the lab's own range, not a fixed cut-off: 85 mg/dL against a lab low of 80 is not low", () => {
    const { b, date } = visitWithLabs('low-complement');
    b.lab(date, '4485-9', 85, 'mg/dL', range({ low: { value: 80, code: 'mg/dL' } }));
    expect(outcomeOf(b, 'low-complement')).toBe('absent');
    for (const rule of rules.labs.rules) {
      for (const analyte of rule.analytes) {
        expect(analyte).not.toHaveProperty('fallbackLimit');
      }
    }
  });

  it('C3 without a range and an L flag is present; N or H flags say not low', () => {
    for (const [code, expected] of [
      ['L', 'present'],
      ['LL', 'present'],
      ['N', 'absent'],
      ['H', 'absent'],
    ] as const) {
      const { b, date } = visitWithLabs('low-complement');
      b.lab(date, '4485-9', 70, 'mg/dL', flag(code));
      expect([code, outcomeOf(b, 'low-complement')]).toEqual([code, expected]);
    }
  });

  it('C4 without a range and without a flag is undecided (no-usable-range): not counted, named on the score, no total', () => {
    const { b, date } = visitWithLabs('low-complement');
    const c4 = b.lab(date, '4498-2', 8, 'mg/dL');
    const { score, observation } = b.sledai();
    expect(score?.undecided).toEqual([{ code: 'low-complement', reason: 'no-usable-range', evidence: [c4], causes: [] }]);
    expect(score?.present).toEqual([]);
    expect(score?.total).toBeUndefined();
    expect(observation?.valueInteger).toBeUndefined();
    const component = observation?.component?.find((c) => c.code.coding?.[0]?.code === 'low-complement');
    expect(component).toEqual({
      code: { coding: [{ system: SLEDAI, code: 'low-complement', display: 'Low complement' }] },
      dataAbsentReason: { coding: [expect.objectContaining({ code: 'unknown' })] },
      interpretation: [{ coding: [{ system: ASSESSMENTS, code: 'descriptor-undecided' }] }, { coding: [{ system: ASSESSMENTS, code: 'no-usable-range' }] }],
    });
    expect(observation?.derivedFrom).toContainEqual({ reference: `Observation/${c4.id}` });
  });

  it('an A (abnormal) flag does not decide low complement (complement also rises in inflammation)', () => {
    const { b, date } = visitWithLabs('low-complement');
    b.lab(date, '4485-9', 70, 'mg/dL', flag('A'));
    expect(outcomeOf(b, 'low-complement')).toBe('undecided:no-usable-range');
  });

  it('a range in another unit than the result is not usable: the flag decides, or nothing does', () => {
    const gL = { low: { value: 0.9, code: 'g/L' } };
    const noFlag = visitWithLabs('low-complement');
    noFlag.b.lab(noFlag.date, '4485-9', 85, 'mg/dL', range(gL));
    expect(outcomeOf(noFlag.b, 'low-complement')).toBe('undecided:no-usable-range');
    const flagged = visitWithLabs('low-complement');
    flagged.b.lab(flagged.date, '4485-9', 85, 'mg/dL', { ...range(gL), ...flag('L') });
    expect(outcomeOf(flagged.b, 'low-complement')).toBe('present');
  });

  it('a low C3 decides even when C4 has no range (any qualifying result in the window); a normal C3 does not rule out an unjudgeable C4', () => {
    const low = visitWithLabs('low-complement');
    low.b.lab(low.date, '4485-9', 60, 'mg/dL', range({ low: { value: 90, code: 'mg/dL' } }));
    low.b.lab(low.date, '4498-2', 8, 'mg/dL');
    expect(outcomeOf(low.b, 'low-complement')).toBe('present');
    const normal = visitWithLabs('low-complement');
    normal.b.lab(normal.date, '4485-9', 120, 'mg/dL', range({ low: { value: 90, code: 'mg/dL' } }));
    normal.b.lab(normal.date, '4498-2', 8, 'mg/dL');
    expect(outcomeOf(normal.b, 'low-complement')).toBe('undecided:no-usable-range');
  });

  it('a range the lab wrote as text in the result unit is its range ("90-180 mg/dL": 89.9 low, 90 not); text without a unit is not compared', () => {
    for (const [value, text, expected] of [
      [89.9, '90-180 mg/dL', 'present'],
      [90, '90-180 mg/dL', 'absent'],
      [90, '>90 mg/dL', 'present'],
      [90, '>=90 mg/dL', 'absent'],
      [50, '90-180', 'undecided:no-usable-range'],
      [50, '0.9-1.8 g/L', 'undecided:no-usable-range'],
    ] as const) {
      const { b, date } = visitWithLabs('low-complement');
      b.lab(date, '4485-9', value, 'mg/dL', range({ text }));
      expect([value, text, outcomeOf(b, 'low-complement')]).toEqual([value, text, expected]);
    }
  });

  it('CH50 with its own range (assay-specific units) is judged against it', () => {
    const { b, date } = visitWithLabs('low-complement');
    b.lab(date, '4532-8', 30, "[arb'U]/mL", range({ low: { value: 41, code: "[arb'U]/mL" } }));
    expect(outcomeOf(b, 'low-complement')).toBe('present');
  });
});

describe('D4: increased DNA binding, titres and qualitative results (sledai-2k.md §2 row 21: above the testing lab range; §4 11013-0 titre)', () => {
  const titreRange = { text: '<1:10' };

  it('anti-dsDNA 45 IU/mL above the lab high of 30 is present, 30 is not', () => {
    const over = visitWithLabs('increased-dna-binding');
    over.b.lab(over.date, '33800-4', 45, '[IU]/mL', range({ high: { value: 30, code: '[IU]/mL' } }));
    expect(outcomeOf(over.b, 'increased-dna-binding')).toBe('present');
    const at = visitWithLabs('increased-dna-binding');
    at.b.lab(at.date, '33800-4', 30, '[IU]/mL', range({ high: { value: 30, code: '[IU]/mL' } }));
    expect(outcomeOf(at.b, 'increased-dna-binding')).toBe('absent');
  });

  it('a titre 1:160 against a lab range "<1:10" is present, 1:5 absent, 1:10 (the cut-off itself) present', () => {
    for (const [value, expected] of [
      ['1:160', 'present'],
      ['1:5', 'absent'],
      ['1:10', 'present'],
      ['<1:10', 'absent'],
    ] as const) {
      const { b, date } = visitWithLabs('increased-dna-binding');
      b.lab(date, '11013-0', { valueString: value, ...range(titreRange) });
      expect([value, outcomeOf(b, 'increased-dna-binding')]).toEqual([value, expected]);
    }
  });

  it('a valueRatio titre reads as its reciprocal dilution, written 1/160 or 160/1', () => {
    for (const [numerator, denominator] of [
      [1, 160],
      [160, 1],
    ]) {
      const { b, date } = visitWithLabs('increased-dna-binding');
      b.lab(date, '11013-0', { valueRatio: { numerator: { value: numerator }, denominator: { value: denominator } }, ...range(titreRange) });
      expect(outcomeOf(b, 'increased-dna-binding')).toBe('present');
    }
    const low = visitWithLabs('increased-dna-binding');
    low.b.lab(low.date, '11013-0', { valueRatio: { numerator: { value: 1 }, denominator: { value: 5 } }, ...range(titreRange) });
    expect(outcomeOf(low.b, 'increased-dna-binding')).toBe('absent');
  });

  it('a titre range given as its upper normal titre (high 80 {titer}): 1:80 is still normal, 1:160 increased', () => {
    const high = { high: { value: 80, unit: '{titer}', system: 'http://unitsofmeasure.org', code: '{titer}' } };
    const at = visitWithLabs('increased-dna-binding');
    at.b.lab(at.date, '11013-0', { valueString: '1:80', ...range(high) });
    expect(outcomeOf(at.b, 'increased-dna-binding')).toBe('absent');
    const over = visitWithLabs('increased-dna-binding');
    over.b.lab(over.date, '11013-0', { valueString: '1:160', ...range(high) });
    expect(outcomeOf(over.b, 'increased-dna-binding')).toBe('present');
  });

  it('a text range "<30 [IU]/mL" puts 30 itself above normal, 29 not', () => {
    for (const [value, expected] of [
      [30, 'present'],
      [29, 'absent'],
    ] as const) {
      const { b, date } = visitWithLabs('increased-dna-binding');
      b.lab(date, '5130-0', value, '[IU]/mL', range({ text: '<30 [IU]/mL' }));
      expect([value, outcomeOf(b, 'increased-dna-binding')]).toEqual([value, expected]);
    }
  });

  it('a titre is never compared with a range in IU/mL: without a flag it is undecided', () => {
    const { b, date } = visitWithLabs('increased-dna-binding');
    b.lab(date, '5130-0', { valueString: '1:160', ...range({ high: { value: 30, code: '[IU]/mL' } }) });
    expect(outcomeOf(b, 'increased-dna-binding')).toBe('undecided:no-usable-range');
  });

  it('without a range, POS, H or DET decides present and NEG or N absent; no flag leaves it undecided', () => {
    for (const [code, expected] of [
      ['POS', 'present'],
      ['H', 'present'],
      ['DET', 'present'],
      ['A', 'present'],
      ['NEG', 'absent'],
      ['N', 'absent'],
    ] as const) {
      const { b, date } = visitWithLabs('increased-dna-binding');
      b.lab(date, '5130-0', 250, '[IU]/mL', flag(code));
      expect([code, outcomeOf(b, 'increased-dna-binding')]).toEqual([code, expected]);
    }
    const bare = visitWithLabs('increased-dna-binding');
    bare.b.lab(bare.date, '5130-0', 250, '[IU]/mL');
    expect(outcomeOf(bare.b, 'increased-dna-binding')).toBe('undecided:no-usable-range');
  });

  it('a usable range wins over a flag that disagrees', () => {
    const { b, date } = visitWithLabs('increased-dna-binding');
    b.lab(date, '5130-0', 20, '[IU]/mL', { ...range({ high: { value: 30, code: '[IU]/mL' } }), ...flag('H') });
    expect(outcomeOf(b, 'increased-dna-binding')).toBe('absent');
  });

  it('a qualitative result is the lab call: "positive", a Positive code, or valueBoolean', () => {
    const text = visitWithLabs('increased-dna-binding');
    text.b.lab(text.date, '5130-0', { valueString: 'Positive' });
    expect(outcomeOf(text.b, 'increased-dna-binding')).toBe('present');
    const coded = visitWithLabs('increased-dna-binding');
    coded.b.lab(coded.date, '5130-0', { valueCodeableConcept: { coding: [{ system: SNOMED, code: '260385009' }] } });
    expect(outcomeOf(coded.b, 'increased-dna-binding')).toBe('absent');
    const bool = visitWithLabs('increased-dna-binding');
    bool.b.lab(bool.date, '5130-0', { valueBoolean: true });
    expect(outcomeOf(bool.b, 'increased-dna-binding')).toBe('present');
  });

  it('names D4 in the data', () => {
    expect(rules.labs.referenceRange.decision).toBe('D4');
  });
});

describe('D5: drug attribution of leukopenia and thrombocytopenia (sledai-2k.md §2 rows 23-24: does not count if drug-induced)', () => {
  it('leukopenia 2.5 ×10³/µL while on azathioprine is undecided (drug-attribution) and goes to review', () => {
    const { b, date } = visitWithLabs('leukopenia');
    const wbc = b.lab(date, '6690-2', 2.5, '10*3/uL');
    const aza = b.statement('1256', 'azathioprine', 100, b.day(-90));
    const { score, observation, reviews } = b.sledai();
    expect(score?.undecided).toEqual([{ code: 'leukopenia', reason: 'drug-attribution', evidence: [wbc], causes: [aza] }]);
    expect(score?.total).toBeUndefined();
    expect(observation?.extension).toContainEqual({ url: `${BASE}/StructureDefinition/derivation-evidence`, valueReference: { reference: `MedicationStatement/${aza.id}` } });
    expect(reviews).toEqual([
      {
        question: 'review-sledai-descriptor',
        subject: SUBJECT,
        focus: `Observation/${derivedId(SUBJECT, 'week-0', 'sledai-2k')}`,
        item: { system: SLEDAI, code: 'leukopenia', display: 'Leukopenia' },
        visit: 'week-0',
        date,
        reason: 'drug-attribution',
        evidence: [`MedicationStatement/${aza.id}`, `Observation/${wbc.id}`].sort(),
      },
    ]);
    expect(reviews[0]?.focus).toBe(`Observation/${observation?.id}`);
  });

  it('the same leukopenia without azathioprine counts, marked laboratory', () => {
    const { b, date } = visitWithLabs('leukopenia');
    b.lab(date, '6690-2', 2.5, '10*3/uL');
    const { score, reviews } = b.sledai();
    expect(score?.present).toEqual([expect.objectContaining({ code: 'leukopenia', source: 'laboratory' })]);
    expect(score?.total).toBe(1);
    expect(reviews).toEqual([]);
  });

  it('azathioprine stopped before the window does not attribute; stopped on its first day does', () => {
    const before = visitWithLabs('leukopenia');
    before.b.lab(before.date, '6690-2', 2.5, '10*3/uL');
    before.b.statement('1256', 'azathioprine', 100, before.b.day(-90), { end: before.b.day(-11) });
    expect(outcomeOf(before.b, 'leukopenia')).toBe('present');
    const edge = visitWithLabs('leukopenia');
    edge.b.lab(edge.date, '6690-2', 2.5, '10*3/uL');
    edge.b.statement('1256', 'azathioprine', 100, edge.b.day(-90), { end: edge.b.day(-10) });
    expect(outcomeOf(edge.b, 'leukopenia')).toBe('undecided:drug-attribution');
  });

  it('a clinician record for the visit confirms or refutes it (leukopenia present → counts; absent → absent)', () => {
    for (const recorded of [true, false]) {
      const { b, date } = visitWithLabs('leukopenia');
      b.lab(date, '6690-2', 2.5, '10*3/uL');
      b.statement('1256', 'azathioprine', 100, b.day(-90));
      b.descriptor('week-0', date, 'leukopenia', recorded);
      const { score, reviews } = b.sledai();
      expect(score?.total).toBe(recorded ? 1 : 0);
      expect(score?.present.map((f) => [f.code, f.source])).toEqual(recorded ? [['leukopenia', 'clinician']] : []);
      expect(reviews).toEqual([]);
    }
  });

  it('thrombocytopenia on tacrolimus or on mycophenolic acid (matched by name) is undecided', () => {
    const tac = visitWithLabs('thrombocytopenia');
    tac.b.lab(tac.date, '777-3', 80, '10*3/uL');
    tac.b.statement('42316', 'tacrolimus', 2, tac.b.day(-30));
    expect(outcomeOf(tac.b, 'thrombocytopenia')).toBe('undecided:drug-attribution');
    const mpa = visitWithLabs('thrombocytopenia');
    mpa.b.lab(mpa.date, '777-3', 80, '10*3/uL');
    const record = mpa.b.request('000000', 'Mycophenolic acid 360 MG Delayed Release Oral Tablet', mpa.b.day(-5));
    record.medicationCodeableConcept = { coding: [{ system: RXNORM, code: '000000', display: 'Mycophenolic acid 360 MG Delayed Release Oral Tablet' }] };
    expect(outcomeOf(mpa.b, 'thrombocytopenia')).toBe('undecided:drug-attribution');
  });

  it('a drug on the list does not touch other descriptors (proteinuria on azathioprine counts)', () => {
    const { b, date } = visitWithLabs('proteinuria');
    b.lab(date, '2889-4', 1.2, 'g/(24.h)');
    b.statement('1256', 'azathioprine', 100, b.day(-90));
    expect(outcomeOf(b, 'proteinuria')).toBe('present');
  });

  it('names D5 in the data and lists the seven drugs it names by RxNorm ingredient (mycophenolic acid by name)', () => {
    expect(rules.labs.attribution.decision).toBe('D5');
    const codes = rules.labs.attribution.drug.drugs.map((d) => d.rxnorm);
    for (const rxnorm of ['1256', '68149', '6851', '3002', '27169', '42316', '3008']) {
      expect(codes).toContain(rxnorm);
    }
    expect(rules.labs.attribution.drug.drugs.find((d) => d.display === 'mycophenolic acid')?.names).toContain('mycophenolic acid');
  });
});

describe('D5: infection attribution of pyuria, haematuria and fever (sledai-2k.md §2 rows 12, 14, 22: does not count if due to infection)', () => {
  it('pyuria with a urinary tract infection Condition in the window is undecided (infection-attribution)', () => {
    const { b, date } = visitWithLabs('pyuria');
    const wbc = b.lab(date, '5821-4', 20, '/[HPF]');
    const uti = b.condition(SNOMED, '68566005', b.day(-3), { clinicalStatus: 'active' });
    const { score, reviews } = b.sledai();
    expect(score?.undecided).toEqual([{ code: 'pyuria', reason: 'infection-attribution', evidence: [wbc], causes: [uti] }]);
    expect(reviews.map((r) => [r.item.code, r.reason, r.evidence])).toEqual([['pyuria', 'infection-attribution', [`Condition/${uti.id}`, `Observation/${wbc.id}`].sort()]]);
  });

  it('an ICD-10-CM UTI sent undotted (N390) and an infection that began before the window and is still active count as in the window', () => {
    const { b, date } = visitWithLabs('hematuria');
    b.lab(date, '13945-1', 12, '/[HPF]');
    b.condition(ICD10, 'N390', b.day(-40));
    expect(outcomeOf(b, 'hematuria')).toBe('undecided:infection-attribution');
  });

  it('fever with pneumonia (J18.9) in the window is undecided; fever without it counts', () => {
    const infected = visitWithLabs('fever');
    infected.b.lab(infected.date, '8310-5', 38.6, 'Cel');
    infected.b.condition(ICD10, 'J18.9', infected.b.day(-2));
    expect(outcomeOf(infected.b, 'fever')).toBe('undecided:infection-attribution');
    const clean = visitWithLabs('fever');
    clean.b.lab(clean.date, '8310-5', 38.6, 'Cel');
    expect(outcomeOf(clean.b, 'fever')).toBe('present');
  });

  it('an infection that abated the day before the window, a refuted one, or a non-infection Condition does not attribute', () => {
    const cases: [string, (b: SubjectBuilder) => void][] = [
      ['abated on visit−11', (b) => b.condition(SNOMED, '68566005', b.day(-30), { abatement: b.day(-11), clinicalStatus: 'resolved' })],
      ['refuted', (b) => b.condition(SNOMED, '68566005', b.day(-2), { verificationStatus: 'refuted' })],
      ['lupus nephritis', (b) => b.condition(SNOMED, '68815009', b.day(-2))],
    ];
    for (const [name, add] of cases) {
      const { b, date } = visitWithLabs('pyuria');
      b.lab(date, '5821-4', 20, '/[HPF]');
      add(b);
      expect([name, outcomeOf(b, 'pyuria')]).toEqual([name, 'present']);
    }
    const edge = visitWithLabs('pyuria');
    edge.b.lab(edge.date, '5821-4', 20, '/[HPF]');
    edge.b.condition(SNOMED, '68566005', edge.b.day(-30), { abatement: edge.b.day(-10), clinicalStatus: 'resolved' });
    expect(outcomeOf(edge.b, 'pyuria')).toBe('undecided:infection-attribution');
  });

  it('an infection does not touch other descriptors: proteinuria with a UTI counts', () => {
    const { b, date } = visitWithLabs('proteinuria');
    b.lab(date, '2889-4', 1.2, 'g/(24.h)');
    b.condition(SNOMED, '68566005', b.day(-3));
    expect(outcomeOf(b, 'proteinuria')).toBe('present');
  });
});

describe('The investigator settles an undecided descriptor (issue 11: every undecided item is a Task the investigator settles)', () => {
  it('a descriptor record from {base}/investigator for the visit decides it, completing the score', () => {
    for (const decided of [true, false]) {
      const { b, date } = visitWithLabs('leukopenia');
      b.lab(date, '6690-2', 2.5, '10*3/uL');
      b.statement('1256', 'azathioprine', 100, b.day(-90));
      expect(b.sledai().reviews).toHaveLength(1);
      const decision = b.investigatorDescriptor('week-0', date, 'leukopenia', decided);
      const { score, observation, reviews } = b.sledai();
      expect(score?.complete).toBe(true);
      expect(score?.total).toBe(decided ? 1 : 0);
      expect(reviews).toEqual([]);
      expect(observation?.derivedFrom).toContainEqual({ reference: `Observation/${decision.id}` });
    }
  });

  it('a no-usable-range descriptor is settled the same way', () => {
    const { b, date } = visitWithLabs('low-complement');
    b.lab(date, '4498-2', 8, 'mg/dL');
    b.investigatorDescriptor('week-0', date, 'low-complement', true);
    expect(b.sledai().score).toMatchObject({ complete: true, total: 2 });
  });

  it("the investigator's decision wins over a clinician record of the same visit, whatever their order", () => {
    const { b, date } = visitWithLabs('rash');
    b.investigatorDescriptor('week-0', b.day(-1), 'rash', true);
    b.descriptor('week-0', date, 'rash', false);
    expect(b.sledai().score?.total).toBe(2);
  });

  it('a record from another source is an ordinary clinician record', () => {
    const { b, date } = visitWithLabs('rash');
    const settled = b.descriptor('week-0', date, 'rash', true);
    settled.meta = { source: `${BASE}/not-the-investigator` };
    b.descriptor('week-0', b.day(1), 'rash', false);
    expect(b.sledai().score?.total).toBe(0);
  });
});
