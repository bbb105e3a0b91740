import type { Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { studyUrls } from '../../../lambdas/derive/core/fhir-access.js';
import { prednisoneEquivalentOn, toPrednisoneEquivalent } from '../../../lambdas/derive/core/glucocorticoids.js';
import { isUsableMedication, type MedicationResource } from '../../../lambdas/derive/core/medications.js';
import { BASE, componentOf, find, grades, IV, rules, SNOMED, SubjectBuilder } from './fixtures.js';

// Definitions pinned here: shared/reference/response-indices.md §8 (prednisone equivalents: factor =
// 5 mg ÷ dose equal to 5 mg prednisolone; systemic routes only; pulses are not averaged in) and
// study-decisions.md D10 (the current dose: each product's latest covering record, summed over
// products; disagreeing records of one product are undecided and go to the investigator).

const meds = rules.medications;
const drug = (name: string) => meds.glucocorticoids.drugs.find((d) => d.display === name)!;

function records(b: SubjectBuilder): MedicationResource[] {
  return b.resources.filter((r): r is MedicationResource => isUsableMedication(r, meds));
}

describe('Function: toPrednisoneEquivalent', () => {
  it.each([
    ['prednisone', 5, 5],
    ['prednisolone', 5, 5],
    ['methylprednisolone', 4, 5],
    ['hydrocortisone', 20, 5],
    ['dexamethasone', 0.75, 5],
    ['betamethasone', 0.75, 5],
    ['deflazacort', 6, 5],
    ['cortisone', 25, 5],
    ['triamcinolone', 4, 5],
  ])('%s %f mg = %f mg prednisone (BNF equivalent doses)', (name, mg, expected) => {
    expect(toPrednisoneEquivalent(mg, drug(name))).toBe(expected);
  });

  it('methylprednisolone 16 mg = 20 mg prednisone', () => {
    expect(toPrednisoneEquivalent(16, drug('methylprednisolone'))).toBe(20);
  });
});

describe('Function: prednisoneEquivalentOn', () => {
  it('converts a daily methylprednisolone 4 mg statement to 5 mg/day prednisone', () => {
    const b = new SubjectBuilder();
    b.statement('6902', 'methylprednisolone', 4, b.day(-30));
    expect(prednisoneEquivalentOn(b.day(10), records(b), meds)).toMatchObject({ mgPerDay: 5, hundredths: 500 });
  });

  it('sums two glucocorticoids and multiplies by the timing (5 mg twice a day = 10 mg/day)', () => {
    const b = new SubjectBuilder();
    b.statement('8638', 'prednisolone', 5, b.day(-30), { timing: { repeat: { frequency: 2, period: 1, periodUnit: 'd' } } });
    b.statement('5492', 'hydrocortisone', 10, b.day(-30));
    expect(prednisoneEquivalentOn(b.day(0), records(b), meds).mgPerDay).toBe(12.5);
  });

  it('counts systemic routes only: a topical or inhaled record is left out', () => {
    const b = new SubjectBuilder();
    b.statement('5492', 'hydrocortisone', 100, b.day(-30), { route: { coding: [{ system: SNOMED, code: '6064005' }] } });
    expect(prednisoneEquivalentOn(b.day(0), records(b), meds).mgPerDay).toBe(0);
  });

  it('counts a record without route as systemic (data switch routeMissingIsSystemic)', () => {
    const b = new SubjectBuilder();
    b.statement('8640', 'prednisone', 7.5, b.day(-30), { route: null });
    expect(prednisoneEquivalentOn(b.day(0), records(b), meds).mgPerDay).toBe(7.5);
  });

  it('reads a tablet count through the SCD strength (RxNorm 312615 prednisone 20 mg tablet)', () => {
    const b = new SubjectBuilder();
    b.statement('312615', 'predniSONE 20 MG Oral Tablet', 0.5, b.day(-30), { unit: '{tbl}' });
    expect(prednisoneEquivalentOn(b.day(0), records(b), meds).mgPerDay).toBe(10);
  });

  it('takes the latest-starting statement when a taper adds a new one without ending the old', () => {
    const b = new SubjectBuilder();
    b.statement('8640', 'prednisone', 20, b.day(-60));
    b.statement('8640', 'prednisone', 10, b.day(20));
    expect(prednisoneEquivalentOn(b.day(10), records(b), meds).mgPerDay).toBe(20);
    expect(prednisoneEquivalentOn(b.day(30), records(b), meds).mgPerDay).toBe(10);
  });

  it('is 0 when no glucocorticoid record covers the day', () => {
    const b = new SubjectBuilder();
    b.statement('8640', 'prednisone', 20, b.day(-60), { end: b.day(-1) });
    expect(prednisoneEquivalentOn(b.day(0), records(b), meds)).toMatchObject({ mgPerDay: 0, evidence: [] });
  });

  it('leaves an IV methylprednisolone pulse out of the daily dose', () => {
    const b = new SubjectBuilder();
    b.administration('6902', 'methylprednisolone', b.day(5), 500, 'mg', IV);
    expect(prednisoneEquivalentOn(b.day(5), records(b), meds).mgPerDay).toBe(0);
  });

  it('is unknown when a covering dose cannot be read as mg', () => {
    const b = new SubjectBuilder();
    b.statement('8640', 'prednisone', 1, b.day(-30), { unit: 'mL' });
    expect(prednisoneEquivalentOn(b.day(0), records(b), meds).mgPerDay).toBeUndefined();
  });

  it('ignores records entered in error', () => {
    const b = new SubjectBuilder();
    const s = b.statement('8640', 'prednisone', 20, b.day(-30));
    s.status = 'entered-in-error';
    expect(prednisoneEquivalentOn(b.day(0), records(b), meds).mgPerDay).toBe(0);
  });
});

describe('D10: the current dose is the sum over products of each product’s latest covering record', () => {
  it('sums concurrent prednisone 10 mg and methylprednisolone 4 mg/day to 15 mg/day prednisone-equivalent (D10, §8 factors)', () => {
    const b = new SubjectBuilder();
    b.statement('8640', 'prednisone', 10, b.day(-30));
    b.requestDose('6902', 'methylprednisolone', 4, b.day(-10));
    expect(prednisoneEquivalentOn(b.day(0), records(b), meds)).toMatchObject({ mgPerDay: 15, undecided: [] });
  });

  it('a newer, higher MedicationRequest supersedes an older MedicationStatement of the same product (D10)', () => {
    const b = new SubjectBuilder();
    b.statement('8640', 'prednisone', 10, b.day(-60));
    const request = b.requestDose('8640', 'prednisone', 20, b.day(30));
    expect(prednisoneEquivalentOn(b.day(29), records(b), meds).mgPerDay).toBe(10);
    const later = prednisoneEquivalentOn(b.day(40), records(b), meds);
    expect(later.mgPerDay).toBe(20);
    expect(later.evidence).toEqual([request]);
  });

  it('a statement asserted after the request supersedes it: "latest" is when the record was made, not the type (D10)', () => {
    const b = new SubjectBuilder();
    b.requestDose('8640', 'prednisone', 20, b.day(30));
    b.statement('8640', 'prednisone', 15, b.day(30)).dateAsserted = b.day(35);
    expect(prednisoneEquivalentOn(b.day(40), records(b), meds).mgPerDay).toBe(15);
  });

  it('records of one product made the same day that disagree make the dose undecided, naming them (D10)', () => {
    const b = new SubjectBuilder();
    const statement = b.statement('8640', 'prednisone', 10, b.day(30));
    const request = b.requestDose('8640', 'prednisone', 20, b.day(30));
    b.statement('6902', 'methylprednisolone', 4, b.day(-30));
    const dose = prednisoneEquivalentOn(b.day(40), records(b), meds);
    expect(dose).toMatchObject({ mgPerDay: undefined, hundredths: undefined });
    expect(dose.undecided).toEqual([{ product: 'prednisone', records: [request, statement].sort((x, y) => (x.id ?? '').localeCompare(y.id ?? '')) }]);
  });

  it('records of one product made the same day that agree are one dose, not a conflict (D10)', () => {
    const b = new SubjectBuilder();
    b.statement('8640', 'prednisone', 10, b.day(30));
    b.requestDose('8640', 'prednisone', 10, b.day(30));
    expect(prednisoneEquivalentOn(b.day(40), records(b), meds)).toMatchObject({ mgPerDay: 10, undecided: [] });
  });

  it("the investigator's decision for the date decides an undecided dose (D10)", () => {
    const b = new SubjectBuilder();
    b.statement('8640', 'prednisone', 10, b.day(30));
    b.requestDose('8640', 'prednisone', 20, b.day(30));
    const decision = b.investigatorDose(b.day(40), 12.5);
    const observations = b.resources.filter((r): r is Observation => r.resourceType === 'Observation');
    const dose = prednisoneEquivalentOn(b.day(40), records(b), meds, { observations, urls: studyUrls(BASE) });
    expect(dose).toMatchObject({ mgPerDay: 12.5, hundredths: 1250, decidedBy: decision });
    // Only for its own date, and only from the investigator's source.
    expect(prednisoneEquivalentOn(b.day(41), records(b), meds, { observations, urls: studyUrls(BASE) }).mgPerDay).toBeUndefined();
    const forged = { ...decision, meta: { source: `${BASE}/ehr` } };
    expect(prednisoneEquivalentOn(b.day(40), records(b), meds, { observations: [forged], urls: studyUrls(BASE) }).mgPerDay).toBeUndefined();
  });

  it('an overlapping conflict at a visit puts the LLDAS dose component as unknown and yields one review item (D10)', () => {
    const b = new SubjectBuilder();
    b.belimumab(b.day(0));
    b.visit('week-0', { present: ['arthritis', 'rash'], bilag: grades('C'), pga: 1.5 });
    b.visit('week-12', { present: [], bilag: grades('D'), pga: 0.5 });
    b.statement('8640', 'prednisone', 5, b.day(60));
    b.requestDose('8640', 'prednisone', 7.5, b.day(60));
    const { observations, reviews } = b.deriveAll('2024-12-01');
    const lldas = find(observations, 'lldas', 'week-12');
    expect(componentOf(lldas, 'prednisone-equivalent-dose')?.dataAbsentReason).toBeDefined();
    expect(lldas.note?.[0]?.text).toMatch(/undecided \(D10\): records of prednisone disagree/);
    expect(reviews.filter((r) => r.question === 'review-glucocorticoid-dose')).toEqual([
      {
        question: 'review-glucocorticoid-dose',
        subject: b.subject,
        focus: `Observation/${lldas.id}`,
        item: { system: `${BASE}/CodeSystem/study-assessments`, code: 'prednisone-equivalent-dose', display: 'Prednisone-equivalent dose' },
        date: b.visitDate('week-12'),
        reason: 'conflicting-dose-records',
        evidence: expect.arrayContaining([expect.stringMatching(/^MedicationRequest\//), expect.stringMatching(/^MedicationStatement\//)]),
      },
    ]);
  });
});
