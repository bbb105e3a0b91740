import { describe, expect, it } from 'vitest';
import {
  administration,
  allergy,
  baseline,
  cc,
  condition,
  criterion,
  daysBefore,
  HCQ,
  ICD,
  lab,
  medicationStatement,
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

describe('Inclusion "Aged more than 18 years" (incl-age; decision: 18 or over on the screening date)', () => {
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

describe('Inclusion "refractory SLE manifestations" (incl-refractory)', () => {
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
