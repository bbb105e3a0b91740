import { describe, expect, it } from 'vitest';
import type { CodeableConcept, MedicationRequest, Resource } from '@medplum/fhirtypes';
import {
  administration,
  allergy,
  baseline,
  cc,
  condition,
  criteria,
  criterion,
  daysBefore,
  HCQ,
  ICD,
  lab,
  medicationRequest,
  medicationStatement,
  ORAL,
  patient,
  RXNORM,
  SCT,
  sledai,
  stateOf,
} from './builders.js';

const withoutConditions = () => baseline().filter((r) => r.resourceType !== 'Condition');
const withoutPatient = () => baseline().filter((r) => r.resourceType !== 'Patient');
const withoutSledai = () => baseline().filter((r) => !(r.resourceType === 'Observation' && r.code.coding?.[0]?.code === 'total'));
const withoutTherapy = () => baseline().filter((r) => r.resourceType !== 'MedicationStatement');

describe('Inclusion "Fulfillment of the 1997 ACR revised criteria for SLE" (incl-sle-diagnosis)', () => {
  it('is under review when SLE is coded (SNOMED 55464009): ACR 1997 fulfilment needs the investigator', () => {
    const result = criterion(baseline(), 'incl-sle-diagnosis');
    expect(result.state).toBe('review');
    expect(result.evidence).toHaveLength(1);
    expect(result.evidence[0]).toMatch(/^Condition\//);
  });

  it.each([['M32.14'], ['M32.19'], ['M32.9'], ['M328']])('is under review for ICD-10-CM %s (SLE codes)', (code) => {
    expect(stateOf([...withoutConditions(), condition(ICD, code, { onset: '2020-01-01' })], 'incl-sle-diagnosis')).toBe('review');
  });

  it('is under review for a listed SNOMED child (lupus nephritis WHO class IV, 36402006)', () => {
    expect(stateOf([...withoutConditions(), condition(SCT, '36402006', { onset: '2020-01-01' })], 'incl-sle-diagnosis')).toBe('review');
  });

  it('is under review for 200936003 lupus erythematosus (possible SLE, the Synthea code)', () => {
    const result = criterion([...withoutConditions(), condition(SCT, '200936003', { onset: '2020-01-01' })], 'incl-sle-diagnosis');
    expect(result.state).toBe('review');
    expect(result.reason).toContain('possible SLE');
  });

  it('is not met for drug-induced lupus only (M32.0, 201436003)', () => {
    expect(stateOf([...withoutConditions(), condition(ICD, 'M32.0')], 'incl-sle-diagnosis')).toBe('not-met');
    expect(stateOf([...withoutConditions(), condition(SCT, '201436003')], 'incl-sle-diagnosis')).toBe('not-met');
  });

  it('is not met for limited or cutaneous lupus (239886003), which is not SLE', () => {
    expect(stateOf([...withoutConditions(), condition(SCT, '239886003')], 'incl-sle-diagnosis')).toBe('not-met');
  });

  it('is not met with no SLE diagnosis on record', () => {
    const result = criterion(withoutConditions(), 'incl-sle-diagnosis');
    expect(result.state).toBe('not-met');
    expect(result.reason).toBe('No SLE diagnosis on record.');
  });

  it('ignores a refuted SLE diagnosis', () => {
    expect(stateOf([...withoutConditions(), condition(SCT, '55464009', { verification: 'refuted' })], 'incl-sle-diagnosis')).toBe('not-met');
  });
});

describe('Inclusion "Aged more than 18 years" (incl-age; E2, study-decisions.md: 18 or over on the screening date)', () => {
  // Screening date 2024-06-10: the 18th birthday of someone born 2006-06-10.
  it('is met on the day of the 18th birthday', () => {
    expect(stateOf([...withoutPatient(), patient('2006-06-10')], 'incl-age')).toBe('met');
  });

  it('is not met on the day before the 18th birthday', () => {
    expect(stateOf([...withoutPatient(), patient('2006-06-11')], 'incl-age')).toBe('not-met');
  });

  it('counts a 29 February birthday as reached on 28 February of a common year', () => {
    const asOf = new Date('2022-02-28T12:00:00Z');
    expect(stateOf([...withoutPatient(), patient('2004-02-29')], 'incl-age', asOf)).toBe('met');
    expect(stateOf([...withoutPatient(), patient('2004-02-29')], 'incl-age', new Date('2022-02-27T12:00:00Z'))).toBe('not-met');
  });

  it('is unknown when the birth date is missing', () => {
    expect(stateOf([...withoutPatient(), patient(null)], 'incl-age')).toBe('unknown');
  });

  it('is unknown when there is no Patient resource at all', () => {
    expect(stateOf(withoutPatient(), 'incl-age')).toBe('unknown');
  });

  it('is under review for a partial birth date that straddles the 18th birthday', () => {
    expect(stateOf([...withoutPatient(), patient('2006')], 'incl-age')).toBe('review');
    expect(stateOf([...withoutPatient(), patient('2006-06')], 'incl-age')).toBe('review');
  });

  it('decides a partial birth date that cannot straddle it', () => {
    expect(stateOf([...withoutPatient(), patient('1980')], 'incl-age')).toBe('met');
    expect(stateOf([...withoutPatient(), patient('2006-05')], 'incl-age')).toBe('met');
    expect(stateOf([...withoutPatient(), patient('2010')], 'incl-age')).toBe('not-met');
  });
});

describe('Inclusion "Active (according to SLEDAI-2K)" (incl-active-disease; threshold 6, 30-day look-back, data defaults)', () => {
  it('is met at exactly the threshold (6)', () => {
    expect(stateOf([...withoutSledai(), sledai(6, daysBefore(1))], 'incl-active-disease')).toBe('met');
  });

  it('is not met just below it (5)', () => {
    expect(stateOf([...withoutSledai(), sledai(5, daysBefore(1))], 'incl-active-disease')).toBe('not-met');
  });

  it('uses the latest total in the window', () => {
    expect(stateOf([...withoutSledai(), sledai(10, daysBefore(20)), sledai(4, daysBefore(2))], 'incl-active-disease')).toBe('not-met');
  });

  it('counts a total 30 days before day 0 and ignores one 31 days before', () => {
    expect(stateOf([...withoutSledai(), sledai(8, daysBefore(30))], 'incl-active-disease')).toBe('met');
    expect(stateOf([...withoutSledai(), sledai(8, daysBefore(31))], 'incl-active-disease')).toBe('unknown');
  });

  it('is unknown with no score', () => {
    expect(stateOf(withoutSledai(), 'incl-active-disease')).toBe('unknown');
  });

  it('prefers the derived total over an EHR-sent total of the same day', () => {
    const result = criterion([...withoutSledai(), sledai(4, daysBefore(1), false), sledai(7, daysBefore(1), true)], 'incl-active-disease');
    expect(result.state).toBe('met');
    expect(result.evidence).toHaveLength(1);
  });

  it('accepts an EHR-sent total when no derived one exists', () => {
    expect(stateOf([...withoutSledai(), sledai(9, daysBefore(1), false)], 'incl-active-disease')).toBe('met');
  });

  it('measures the window from the first belimumab infusion once there is one (day 0)', () => {
    const infused = administration('1092437', { start: daysBefore(40) });
    // A score 3 days before screening is after day 0; only scores in the 30 days before day 0 count.
    expect(stateOf([...withoutSledai(), infused, sledai(8, daysBefore(3))], 'incl-active-disease')).toBe('unknown');
    expect(stateOf([...withoutSledai(), infused, sledai(8, daysBefore(45))], 'incl-active-disease')).toBe('met');
  });
});

describe('Inclusion "refractory SLE manifestations" (incl-refractory; E1, study-decisions.md)', () => {
  it('is met when disease is still active after an antimalarial (unresponsiveness)', () => {
    const result = criterion(baseline(), 'incl-refractory');
    expect(result.state).toBe('met');
    expect(result.evidence.some((e) => e.startsWith('MedicationStatement/'))).toBe(true);
  });

  it('is not met when treated but the disease is not active and nothing else is recorded', () => {
    expect(stateOf([...withoutSledai(), sledai(2, daysBefore(1))], 'incl-refractory')).toBe('not-met');
  });

  it('is unknown when treated but activity is unknown', () => {
    expect(stateOf(withoutSledai(), 'incl-refractory')).toBe('unknown');
  });

  it('is unknown when no therapy is on record', () => {
    expect(stateOf(withoutTherapy(), 'incl-refractory')).toBe('unknown');
  });

  it('is met on drug intolerance (AllergyIntolerance type intolerance to hydroxychloroquine)', () => {
    const intolerance = allergy({ type: 'intolerance', code: cc(RXNORM, HCQ) });
    expect(stateOf([...withoutSledai(), sledai(2, daysBefore(1)), intolerance], 'incl-refractory')).toBe('met');
  });

  it('does not count an allergy-type record as intolerance (data: intoleranceTypes)', () => {
    const allergic = allergy({ type: 'allergy', code: cc(RXNORM, HCQ) });
    expect(stateOf([...withoutSledai(), sledai(2, daysBefore(1)), allergic], 'incl-refractory')).toBe('not-met');
  });

  describe('renal rule: 24-h proteinuria (2889-4) > 1 g at least 1 year after the start of therapy', () => {
    const inactive = () => [...withoutSledai(), sledai(2, daysBefore(1))];
    // Therapy started 2020-01-01; one year later is 2021-01-01.
    it('is met for 1.5 g/(24.h) on 2021-01-01', () => {
      expect(stateOf([...inactive(), lab('2889-4', 1.5, 'g/(24.h)', '2021-01-01')], 'incl-refractory')).toBe('met');
    });

    it('is met for 1500 mg/(24.h) (converted through UCUM)', () => {
      expect(stateOf([...inactive(), lab('2889-4', 1500, 'mg/(24.h)', '2023-01-01')], 'incl-refractory')).toBe('met');
    });

    it('is not met for exactly 1 g (the rule is > 1 g)', () => {
      expect(stateOf([...inactive(), lab('2889-4', 1, 'g/(24.h)', '2023-01-01')], 'incl-refractory')).toBe('not-met');
    });

    it('does not count > 1 g less than a year after the start of therapy', () => {
      expect(stateOf([...inactive(), lab('2889-4', 1.5, 'g/(24.h)', '2020-12-31')], 'incl-refractory')).toBe('not-met');
    });

    it('is met on a renal flare: > 1 g after a complete response (< 0.5 g, data default)', () => {
      const series = [lab('2889-4', 0.3, 'g/(24.h)', '2020-03-01'), lab('2889-4', 1.2, 'g/(24.h)', '2020-06-01')];
      expect(stateOf([...inactive(), ...series], 'incl-refractory')).toBe('met');
    });

    it('is met on a doubling without a previous complete response', () => {
      const series = [lab('2889-4', 0.6, 'g/(24.h)', '2020-03-01'), lab('2889-4', 1.0, 'g/(24.h)', '2020-05-01'), lab('2889-4', 1.2, 'g/(24.h)', '2020-06-01')];
      expect(stateOf([...inactive(), ...series], 'incl-refractory')).toBe('met');
    });

    it('is not met when the rise is less than double', () => {
      const series = [lab('2889-4', 0.7, 'g/(24.h)', '2020-03-01'), lab('2889-4', 1.3, 'g/(24.h)', '2020-06-01')];
      expect(stateOf([...inactive(), ...series], 'incl-refractory')).toBe('not-met');
    });

    it('is under review when proteinuria > 1 g is on record but the start of therapy is not dated', () => {
      const undated = medicationStatement(HCQ, {});
      const records = [...withoutTherapy().filter((r) => !(r.resourceType === 'Observation' && r.code.coding?.[0]?.code === 'total')), sledai(2, daysBefore(1))];
      expect(stateOf([...records, undated, lab('2889-4', 2, 'g/(24.h)', '2023-01-01')], 'incl-refractory')).toBe('review');
    });

    it('is under review when the latest late result is reported as "<2 g" (cannot tell > 1 g)', () => {
      expect(stateOf([...inactive(), lab('2889-4', 2, 'g/(24.h)', '2023-01-01', '<')], 'incl-refractory')).toBe('review');
    });
  });
});

/*
 * E1 (study-decisions.md): refractory needs systemic therapy (oral, IV, IM or subcutaneous) with a
 * corticosteroid, antimalarial or immunosuppressant for at least 12 weeks before screening, or a
 * documented intolerance or relapse; shorter therapy, or topical therapy alone, makes the criterion
 * review, never met. The registry bullet (NCT04893161): "drug intolerance, unresponsiveness or
 * relapse under corticosteroids, antimalarials and/or immunosuppressants". Day 0 here is the
 * screening date 2024-06-10; 12 weeks = 84 days before it.
 */
describe('E1: refractory needs 12 weeks of systemic therapy before day 0', () => {
  const TOPICAL = cc(SCT, '6064005', 'Topical route');
  const SUBCUT = cc(SCT, '34206005', 'Subcutaneous route');
  const PREDNISONE = '8640';
  const HYDROCORTISONE = '5492';
  const TACROLIMUS = '42316';
  const METHOTREXATE = '6851';
  /** Active disease (SLEDAI-2K 8 three days ago), no therapy: add the therapy under test. */
  const active = (): Resource[] => withoutTherapy();
  const refractory = (...therapy: Resource[]) => criterion([...active(), ...therapy], 'incl-refractory');
  const course = (rxnorm: string, start: number, end?: number, o: { route?: CodeableConcept; display?: string } = { route: ORAL }) =>
    medicationStatement(rxnorm, { start: daysBefore(start), ...(end !== undefined ? { end: daysBefore(end) } : {}), status: end === undefined ? 'active' : 'completed', ...o });

  it('is met for oral hydroxychloroquine started exactly 84 days (12 wk) before day 0 and still taken', () => {
    const result = refractory(course(HCQ, 84));
    expect(result.state).toBe('met');
    expect(result.reason).toContain('12 wk');
  });

  it('is review, never met, for oral hydroxychloroquine started 83 days before day 0 (one day short)', () => {
    const result = refractory(course(HCQ, 83));
    expect(result.state).toBe('review');
    expect(result.reason).toContain('E1');
    expect(result.evidence).toHaveLength(1);
  });

  it('is review for two days of hydroxychloroquine (the case issue 11 names)', () => {
    const result = refractory(course(HCQ, 30, 29));
    expect(result.state).toBe('review');
    expect(result.reason).toContain('less than 12 wk');
  });

  it('is review for a topical steroid alone, however long (route topical)', () => {
    const result = refractory(course(HYDROCORTISONE, 400, undefined, { route: TOPICAL }));
    expect(result.state).toBe('review');
    expect(result.reason).toContain('topical');
  });

  it('reads a topical or ophthalmic dose form from the drug name when no route is recorded', () => {
    expect(refractory(course(HYDROCORTISONE, 400, undefined, { display: 'hydrocortisone 10 MG/ML Topical Cream' })).state).toBe('review');
    expect(refractory(course('8638', 400, undefined, { display: 'prednisoLONE acetate 10 MG/ML Ophthalmic Suspension' })).state).toBe('review');
    expect(refractory(course(PREDNISONE, 400, undefined, { display: 'predniSONE 20 MG Oral Tablet' })).state).toBe('met');
  });

  it('counts a drug with no local form (hydroxychloroquine) as systemic without route or form, but not one that has one (tacrolimus)', () => {
    expect(refractory(course(HCQ, 400, undefined, {})).state).toBe('met');
    const tacrolimus = refractory(course(TACROLIMUS, 400, undefined, {}));
    expect(tacrolimus.state).toBe('review');
    expect(tacrolimus.reason).toContain('route');
  });

  it('is review for a topical steroid for a year plus two days of an oral one', () => {
    expect(refractory(course(HYDROCORTISONE, 400, undefined, { route: TOPICAL }), course(PREDNISONE, 30, 29)).state).toBe('review');
  });

  it('adds up non-contiguous courses: 45 + 45 days met, 40 + 40 days review', () => {
    expect(refractory(course(HCQ, 300, 256), course(PREDNISONE, 100, 56)).state).toBe('met');
    expect(refractory(course(HCQ, 300, 261), course(PREDNISONE, 100, 61)).state).toBe('review');
  });

  it('counts overlapping records once (60 days of two drugs together is 60 days)', () => {
    expect(refractory(course(HCQ, 100, 41), course(PREDNISONE, 100, 41)).state).toBe('review');
  });

  it('bridges a gap of up to 7 days between records (data: maxGap) but not 8', () => {
    // 40 days, a 7-day gap, 40 days: 87 days of therapy; with an 8-day gap, 80 days.
    expect(refractory(course(HCQ, 200, 161), course(HCQ, 153, 114)).state).toBe('met');
    expect(refractory(course(HCQ, 200, 161), course(HCQ, 152, 113)).state).toBe('review');
  });

  it('counts weekly subcutaneous methotrexate administrations as a course (13 doses over 12 weeks)', () => {
    const doses = Array.from({ length: 13 }, (_, i) => administration(METHOTREXATE, { start: daysBefore(91 - 7 * i), route: SUBCUT }));
    expect(refractory(...doses).state).toBe('met');
    expect(refractory(...doses.slice(1)).state).toBe('review');
  });

  it('measures a MedicationRequest by its dispensed supply: 30 days x (1 + 2 repeats) met, x (1 + 1) review', () => {
    const request = (repeats: number): MedicationRequest => ({
      ...medicationRequest(HCQ, { start: daysBefore(200), status: 'completed', route: ORAL }),
      dispenseRequest: { numberOfRepeatsAllowed: repeats, expectedSupplyDuration: { value: 30, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' } },
    });
    expect(refractory(request(2)).state).toBe('met');
    expect(refractory(request(1)).state).toBe('review');
  });

  it('measures a MedicationRequest by its timing bounds', () => {
    const bounded = (end: number): MedicationRequest => ({
      ...medicationRequest(PREDNISONE, { status: 'completed' }),
      dosageInstruction: [{ route: ORAL, timing: { repeat: { boundsPeriod: { start: daysBefore(200), end: daysBefore(end) } } } }],
    });
    expect(refractory(bounded(117)).state).toBe('met');
    expect(refractory(bounded(118)).state).toBe('review');
  });

  it('is review when a stopped record has a start but no end or duration (its length is unknown)', () => {
    const stopped = medicationStatement(HCQ, { start: daysBefore(400), status: 'stopped', route: ORAL });
    const result = refractory(stopped);
    expect(result.state).toBe('review');
    expect(result.reason).toContain('no start or end');
  });

  it('counts only therapy before day 0 (from the first belimumab infusion once there is one)', () => {
    const infused = administration('1092437', { start: daysBefore(60) });
    const activeAtDay0 = sledai(8, daysBefore(65));
    // 100 days of HCQ up to the screening date, but only 40 of them before day 0.
    expect(refractory(infused, activeAtDay0, course(HCQ, 100)).state).toBe('review');
    expect(refractory(infused, activeAtDay0, course(HCQ, 150)).state).toBe('met');
  });

  it('is met on a documented intolerance whatever the duration of therapy', () => {
    const intolerance = allergy({ type: 'intolerance', code: cc(RXNORM, HCQ) });
    expect(refractory(course(HCQ, 30, 29), intolerance).state).toBe('met');
  });

  it('is not met when therapy is short and the disease is not active (not refractory either way)', () => {
    expect(stateOf([...withoutSledai().filter((r) => r.resourceType !== 'MedicationStatement'), sledai(2, daysBefore(1)), course(HCQ, 30, 29)], 'incl-refractory')).toBe('not-met');
  });

  it('renal persistence needs adequate therapy (review with 2 days), a renal flare is a relapse (met)', () => {
    const inactive = withoutSledai().filter((r) => r.resourceType !== 'MedicationStatement');
    const short = medicationStatement(HCQ, { start: '2020-01-01', end: '2020-01-02', status: 'completed', route: ORAL });
    expect(stateOf([...inactive, sledai(2, daysBefore(1)), short, lab('2889-4', 1.5, 'g/(24.h)', '2023-01-01')], 'incl-refractory')).toBe('review');
    const flare = [lab('2889-4', 0.3, 'g/(24.h)', '2020-03-01'), lab('2889-4', 1.2, 'g/(24.h)', '2020-06-01')];
    expect(stateOf([...inactive, sledai(2, daysBefore(1)), short, ...flare], 'incl-refractory')).toBe('met');
  });

  it('cites E1 in the rule file', () => {
    const def = criteria.file.criteria.find((c) => c.code === 'incl-refractory');
    expect(def?.decision).toBe('E1');
    expect(def?.rule.type === 'refractory' && def.rule.systemicTherapy.minimum).toEqual({ value: 12, unit: 'wk' });
  });
});
