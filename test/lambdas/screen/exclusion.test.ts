import { describe, expect, it } from 'vitest';
import {
  ACT,
  administration,
  allergy,
  baseline,
  cc,
  condition,
  criterion,
  daysBefore,
  encounter,
  ICD,
  IV,
  lab,
  LOINC,
  medicationRequest,
  medicationStatement,
  observation,
  ORAL,
  RXNORM,
  SCT,
  serology,
  stateOf,
} from './builders.js';

const INFUSION_DAY = '2024-05-01';
const afterInfusion = () => [...baseline(), administration('1092437', { start: INFUSION_DAY, route: IV })];
const withoutLab = (loinc: string) => baseline().filter((r) => !(r.resourceType === 'Observation' && r.code.coding?.[0]?.code === loinc));

describe('Exclusion "malignant neoplasm within the last 5 years" (excl-malignancy)', () => {
  it('is met for a malignancy that abated exactly 5 years before day 0 (5 years to the day)', () => {
    expect(stateOf([...baseline(), condition(ICD, 'C50.911', { onset: '2018-01-01', abatement: '2019-06-10' })], 'excl-malignancy')).toBe('met');
  });

  it('is not met for one that abated 5 years and 1 day before day 0', () => {
    expect(stateOf([...baseline(), condition(ICD, 'C50.911', { onset: '2018-01-01', abatement: '2019-06-09' })], 'excl-malignancy')).toBe('not-met');
  });

  it('measures the 5 years from the first belimumab infusion when there is one', () => {
    // Day 0 is 2024-05-01: 2019-05-01 is in the window, 2019-04-30 is not.
    expect(stateOf([...afterInfusion(), condition(ICD, 'C50.911', { onset: '2018-01-01', abatement: '2019-05-01' })], 'excl-malignancy')).toBe('met');
    expect(stateOf([...afterInfusion(), condition(ICD, 'C50.911', { onset: '2018-01-01', abatement: '2019-04-30' })], 'excl-malignancy')).toBe('not-met');
  });

  it('is met for an active malignancy diagnosed long ago (SNOMED 363346000, still present)', () => {
    expect(stateOf([...baseline(), condition(SCT, '363346000', { onset: '2010-01-01', clinicalStatus: 'active' })], 'excl-malignancy')).toBe('met');
  });

  it('puts a resolved malignancy with no abatement date that began before the window under review', () => {
    expect(stateOf([...baseline(), condition(ICD, 'C18.9', { onset: '2015-01-01', clinicalStatus: 'resolved' })], 'excl-malignancy')).toBe('review');
  });

  it('puts the exceptions under review: skin BCC (C44.311), skin SCC (C44.92), cervical carcinoma in situ (D06.9)', () => {
    for (const code of ['C44.311', 'C44.92', 'D06.9']) {
      const result = criterion([...baseline(), condition(ICD, code, { onset: '2023-01-01' })], 'excl-malignancy');
      expect(result.state, code).toBe('review');
    }
  });

  it('does not treat melanoma of skin (C43.9) as an exception', () => {
    expect(stateOf([...baseline(), condition(ICD, 'C43.9', { onset: '2023-01-01' })], 'excl-malignancy')).toBe('met');
  });

  it('puts a personal history of malignancy (Z85.3) under review', () => {
    expect(stateOf([...baseline(), condition(ICD, 'Z85.3', { recorded: '2022-01-01' })], 'excl-malignancy')).toBe('review');
  });

  it('puts an undated malignancy under review', () => {
    expect(stateOf([...baseline(), condition(ICD, 'C50.911')], 'excl-malignancy')).toBe('review');
  });

  it('is not met with no malignancy on record', () => {
    expect(stateOf(baseline(), 'excl-malignancy')).toBe('not-met');
  });
});

describe('Exclusion "suicidal behaviour in the last 6 months and/or ideation in the last 2 months, or investigator judgement" (excl-suicide-risk)', () => {
  it('is met for a suicide attempt within 6 months', () => {
    expect(stateOf([...baseline(), condition(SCT, '82313006', { onset: '2023-12-10' })], 'excl-suicide-risk')).toBe('met');
  });

  it('does not count an attempt 6 months and 1 day before day 0; the investigator part stays', () => {
    expect(stateOf([...baseline(), condition(SCT, '82313006', { onset: '2023-12-09', abatement: '2023-12-09' })], 'excl-suicide-risk')).toBe('review');
  });

  it('is met for ideation (R45.851) within 2 months, not for ideation ended 3 months ago', () => {
    expect(stateOf([...baseline(), condition(ICD, 'R45.851', { onset: '2024-04-10', abatement: '2024-04-20' })], 'excl-suicide-risk')).toBe('met');
    expect(stateOf([...baseline(), condition(ICD, 'R45.851', { onset: '2024-03-01', abatement: '2024-03-10' })], 'excl-suicide-risk')).toBe('review');
  });

  it('is met for intentional self-poisoning coded T43.012A', () => {
    expect(stateOf([...baseline(), condition(ICD, 'T43.012A', { onset: '2024-02-01', abatement: '2024-02-02' })], 'excl-suicide-risk')).toBe('met');
  });

  it('stays under review with nothing coded: the investigator judgement part is open', () => {
    const result = criterion(baseline(), 'excl-suicide-risk');
    expect(result.state).toBe('review');
    expect(result.evidence).toEqual([]);
  });
});

describe('Exclusion "history of a primary immunodeficiency" (excl-primary-immunodeficiency)', () => {
  it.each([['D80.2'], ['D83.9'], ['D84.0'], ['D84.89']])('is met for %s', (code) => {
    expect(stateOf([...baseline(), condition(ICD, code, { onset: '2001-01-01' })], 'excl-primary-immunodeficiency')).toBe('met');
  });

  it('is met for SNOMED 31323000 (SCID)', () => {
    expect(stateOf([...baseline(), condition(SCT, '31323000', { onset: '2001-01-01' })], 'excl-primary-immunodeficiency')).toBe('met');
  });

  it.each([['D84.1'], ['D84.9']])('puts %s under review (manual: may be secondary)', (code) => {
    expect(stateOf([...baseline(), condition(ICD, code, { onset: '2001-01-01' })], 'excl-primary-immunodeficiency')).toBe('review');
  });

  it.each([['D84.81'], ['D84.821'], ['D84.822']])('does not exclude secondary immunodeficiency %s', (code) => {
    expect(stateOf([...baseline(), condition(ICD, code, { onset: '2023-01-01' })], 'excl-primary-immunodeficiency')).toBe('not-met');
  });
});

describe('Exclusion "IgG level < 400 mg/dL" (excl-igg-deficiency)', () => {
  const igg = (value: number, unit: string, comparator?: '<' | '>') => [...withoutLab('2465-3'), lab('2465-3', value, unit, daysBefore(5), comparator)];

  it('is not met at exactly 400 mg/dL', () => {
    expect(stateOf(igg(400, 'mg/dL'), 'excl-igg-deficiency')).toBe('not-met');
  });

  it('is met at 399.9 mg/dL', () => {
    expect(stateOf(igg(399.9, 'mg/dL'), 'excl-igg-deficiency')).toBe('met');
  });

  it('is not met at 4.0 g/L (= 400 mg/dL through UCUM)', () => {
    expect(stateOf(igg(4.0, 'g/L'), 'excl-igg-deficiency')).toBe('not-met');
  });

  it('is met at 3.99 g/L', () => {
    expect(stateOf(igg(3.99, 'g/L'), 'excl-igg-deficiency')).toBe('met');
  });

  it('is under review for a unit that does not convert', () => {
    expect(stateOf(igg(5, 'mmol/L'), 'excl-igg-deficiency')).toBe('review');
  });

  it('is unknown without a result in the 6-month window', () => {
    expect(stateOf(withoutLab('2465-3'), 'excl-igg-deficiency')).toBe('unknown');
    expect(stateOf([...withoutLab('2465-3'), lab('2465-3', 300, 'mg/dL', '2023-01-01')], 'excl-igg-deficiency')).toBe('unknown');
  });

  it('uses the latest result', () => {
    const series = [...withoutLab('2465-3'), lab('2465-3', 300, 'mg/dL', daysBefore(60)), lab('2465-3', 650, 'mg/dL', daysBefore(5))];
    expect(stateOf(series, 'excl-igg-deficiency')).toBe('not-met');
  });

  it('does not use the CSF IgG code 2464-6', () => {
    expect(stateOf([...withoutLab('2465-3'), lab('2464-6', 1, 'mg/dL')], 'excl-igg-deficiency')).toBe('unknown');
  });
});

describe('Exclusion "IgA level < 10 mg/dL" (excl-iga-deficiency)', () => {
  const iga = (value: number, unit: string, comparator?: '<' | '>') => [...withoutLab('2458-8'), lab('2458-8', value, unit, daysBefore(5), comparator)];

  it('is met for "<7 mg/dL" (below the detection limit, under the threshold)', () => {
    expect(stateOf(iga(7, 'mg/dL', '<'), 'excl-iga-deficiency')).toBe('met');
  });

  it('is under review for "<20 mg/dL" (may or may not be under 10)', () => {
    expect(stateOf(iga(20, 'mg/dL', '<'), 'excl-iga-deficiency')).toBe('review');
  });

  it('is not met at exactly 10 mg/dL and met at 9.9', () => {
    expect(stateOf(iga(10, 'mg/dL'), 'excl-iga-deficiency')).toBe('not-met');
    expect(stateOf(iga(9.9, 'mg/dL'), 'excl-iga-deficiency')).toBe('met');
  });

  it('converts g/L: 0.1 g/L is 10 mg/dL (not met), 0.09 g/L is met', () => {
    expect(stateOf(iga(0.1, 'g/L'), 'excl-iga-deficiency')).toBe('not-met');
    expect(stateOf(iga(0.09, 'g/L'), 'excl-iga-deficiency')).toBe('met');
  });
});

describe('Exclusion "cyclophosphamide or rituximab treatment" (excl-cyclophosphamide-rituximab; decision: any time)', () => {
  it('is met for cyclophosphamide (RxNorm 3002) years ago', () => {
    expect(stateOf([...baseline(), medicationStatement('3002', { start: '2015-01-01', end: '2015-06-01', status: 'completed' })], 'excl-cyclophosphamide-rituximab')).toBe(
      'met',
    );
  });

  it('is met for rituximab (121191)', () => {
    expect(stateOf([...baseline(), administration('121191', { start: '2022-01-01' })], 'excl-cyclophosphamide-rituximab')).toBe('met');
  });

  it('is met for a biosimilar known only by name (rituximab-abbs, unknown RxCUI)', () => {
    const biosimilar = administration('9999999', { start: '2022-01-01', display: 'rituximab-abbs 10 MG/ML Injectable Solution' });
    expect(stateOf([...baseline(), biosimilar], 'excl-cyclophosphamide-rituximab')).toBe('met');
  });

  it('is met for an undated record of rituximab', () => {
    expect(stateOf([...baseline(), medicationStatement('121191', { status: 'completed' })], 'excl-cyclophosphamide-rituximab')).toBe('met');
  });

  it('ignores an entered-in-error record', () => {
    expect(stateOf([...baseline(), administration('3002', { start: '2022-01-01', status: 'entered-in-error' })], 'excl-cyclophosphamide-rituximab')).toBe('not-met');
  });

  it('is not met otherwise', () => {
    expect(stateOf(baseline(), 'excl-cyclophosphamide-rituximab')).toBe('not-met');
  });
});

describe('Exclusion "currently on suppressive therapy for a chronic infection" (excl-chronic-infection-therapy)', () => {
  const tb = () => condition(SCT, '56717001', { onset: '2023-01-01', clinicalStatus: 'active' });

  it('is met for isoniazid given for tuberculosis (reasonCode)', () => {
    const inh = medicationStatement('6038', { start: '2024-01-01', reason: cc(SCT, '56717001') });
    expect(stateOf([...baseline(), inh], 'excl-chronic-infection-therapy')).toBe('met');
  });

  it('is met for valaciclovir while herpes zoster is on record', () => {
    expect(stateOf([...baseline(), condition(ICD, 'B02.9', { onset: '2024-05-01' }), medicationRequest('73645', { start: '2024-05-02' })], 'excl-chronic-infection-therapy')).toBe(
      'met',
    );
  });

  it('puts TMP-SMX without a chronic infection (probably PCP prophylaxis) under review', () => {
    expect(stateOf([...baseline(), medicationStatement('10831', { start: '2024-01-01' })], 'excl-chronic-infection-therapy')).toBe('review');
  });

  it('does not count a finished course', () => {
    const finished = medicationStatement('6038', { start: '2022-01-01', end: '2022-10-01', status: 'completed' });
    expect(stateOf([...baseline(), tb(), finished], 'excl-chronic-infection-therapy')).toBe('not-met');
  });

  it('is not met with no anti-infective', () => {
    expect(stateOf([...baseline(), tb()], 'excl-chronic-infection-therapy')).toBe('not-met');
  });
});

describe('Exclusion "hospitalisation for treatment of infection within 60 days of Day 0" (excl-infection-hospitalisation)', () => {
  const pneumonia = cc(ICD, 'J18.9');

  it('is met for a discharge 60 days before day 0', () => {
    expect(stateOf([...baseline(), encounter({ start: daysBefore(65), end: daysBefore(60), reason: pneumonia })], 'excl-infection-hospitalisation')).toBe('met');
  });

  it('is not met for a discharge 61 days before day 0', () => {
    expect(stateOf([...baseline(), encounter({ start: daysBefore(65), end: daysBefore(61), reason: pneumonia })], 'excl-infection-hospitalisation')).toBe('not-met');
  });

  it('measures from the first belimumab infusion (day 0 = 2024-05-01)', () => {
    expect(stateOf([...afterInfusion(), encounter({ start: '2024-03-01', end: daysBefore(60, INFUSION_DAY), reason: pneumonia })], 'excl-infection-hospitalisation')).toBe('met');
    expect(stateOf([...afterInfusion(), encounter({ start: '2024-03-01', end: daysBefore(61, INFUSION_DAY), reason: pneumonia })], 'excl-infection-hospitalisation')).toBe(
      'not-met',
    );
  });

  it('follows reasonReference to an infection Condition (sepsis A41.9)', () => {
    const sepsis = condition(ICD, 'A41.9', { onset: daysBefore(20) });
    expect(stateOf([...baseline(), sepsis, encounter({ start: daysBefore(20), end: daysBefore(15), reasonRef: `Condition/${sepsis.id ?? ''}` })], 'excl-infection-hospitalisation')).toBe(
      'met',
    );
  });

  it('is not met for an inpatient stay for a lupus flare', () => {
    expect(stateOf([...baseline(), encounter({ start: daysBefore(20), end: daysBefore(15), reason: cc(SCT, '55464009') })], 'excl-infection-hospitalisation')).toBe('not-met');
  });

  it('puts an inpatient stay with no reason under review', () => {
    expect(stateOf([...baseline(), encounter({ start: daysBefore(20), end: daysBefore(15) })], 'excl-infection-hospitalisation')).toBe('review');
  });

  it('ignores an ambulatory visit for infection', () => {
    expect(stateOf([...baseline(), encounter({ cls: 'AMB', start: daysBefore(20), end: daysBefore(20), reason: pneumonia })], 'excl-infection-hospitalisation')).toBe('not-met');
  });

  it('uses the v3 ActCode class system', () => {
    expect(ACT).toBe('http://terminology.hl7.org/CodeSystem/v3-ActCode');
  });
});

describe('Exclusion "parenteral (IV or IM) antibiotics within 60 days of Day 0" (excl-parenteral-antibiotics)', () => {
  it('is met for IV aciclovir 60 days before day 0', () => {
    expect(stateOf([...baseline(), administration('281', { start: daysBefore(60), route: IV })], 'excl-parenteral-antibiotics')).toBe('met');
  });

  it('is not met 61 days before day 0', () => {
    expect(stateOf([...baseline(), administration('281', { start: daysBefore(61), route: IV })], 'excl-parenteral-antibiotics')).toBe('not-met');
  });

  it('is met for an IM drug identified by an infection reason only', () => {
    const im = { coding: [{ system: SCT, code: '78421000' }] };
    expect(stateOf([...baseline(), administration('1234567', { start: daysBefore(10), route: im, reason: cc(ICD, 'A54.9') })], 'excl-parenteral-antibiotics')).toBe('met');
  });

  it('does not count an oral anti-infective', () => {
    expect(stateOf([...baseline(), administration('73645', { start: daysBefore(10), route: ORAL })], 'excl-parenteral-antibiotics')).toBe('not-met');
  });

  it('puts an anti-infective without a route under review', () => {
    expect(stateOf([...baseline(), administration('281', { start: daysBefore(10) })], 'excl-parenteral-antibiotics')).toBe('review');
  });

  it('does not count IV belimumab or IV methylprednisolone', () => {
    expect(stateOf([...baseline(), administration('6902', { start: daysBefore(10), route: IV })], 'excl-parenteral-antibiotics')).toBe('not-met');
  });
});

describe('Exclusion "drug or alcohol abuse or dependence within 365 days prior to Day 0" (excl-substance-abuse)', () => {
  it('is met for alcohol dependence (F10.20) ending 365 days before day 0', () => {
    expect(stateOf([...baseline(), condition(ICD, 'F10.20', { onset: '2020-01-01', abatement: daysBefore(365) })], 'excl-substance-abuse')).toBe('met');
  });

  it('is not met when it ended 366 days before day 0', () => {
    expect(stateOf([...baseline(), condition(ICD, 'F10.20', { onset: '2020-01-01', abatement: daysBefore(366) })], 'excl-substance-abuse')).toBe('not-met');
  });

  it('is met for current opioid abuse (SNOMED 5602001)', () => {
    expect(stateOf([...baseline(), condition(SCT, '5602001', { onset: '2023-01-01', clinicalStatus: 'active' })], 'excl-substance-abuse')).toBe('met');
  });

  it('does not count nicotine dependence (F17.210)', () => {
    expect(stateOf([...baseline(), condition(ICD, 'F17.210', { onset: '2023-01-01', clinicalStatus: 'active' })], 'excl-substance-abuse')).toBe('not-met');
  });

  it('puts dependence in remission (F10.21) under review', () => {
    expect(stateOf([...baseline(), condition(ICD, 'F10.21', { onset: daysBefore(100), clinicalStatus: 'active' })], 'excl-substance-abuse')).toBe('review');
  });
});

describe('Exclusion "historically positive HIV test or positive at screening" (excl-hiv)', () => {
  const noHiv = () => withoutLab('56888-1');

  it('is not met with a negative 4th-generation test', () => {
    expect(stateOf(baseline(), 'excl-hiv')).toBe('not-met');
  });

  it('is met with any positive test, even if a later one is negative', () => {
    expect(stateOf([...baseline(), serology('7917-8', 'POS', '2015-01-01')], 'excl-hiv')).toBe('met');
  });

  it('is met for a coded HIV infection (B20)', () => {
    expect(stateOf([...noHiv(), condition(ICD, 'B20', { onset: '2010-01-01' })], 'excl-hiv')).toBe('met');
  });

  it('reads a coded result value (SNOMED 10828004 positive)', () => {
    expect(stateOf([...noHiv(), observation(LOINC, '56888-1', { date: daysBefore(3), concept: cc(SCT, '10828004') })], 'excl-hiv')).toBe('met');
  });

  it('is unknown without a test', () => {
    expect(stateOf(noHiv(), 'excl-hiv')).toBe('unknown');
  });

  it('is under review for an indeterminate test', () => {
    expect(stateOf([...noHiv(), serology('56888-1', 'IND')], 'excl-hiv')).toBe('review');
  });
});

describe('Exclusion "HBsAg or HBcAb positive; hepatitis C antibody positive" (excl-hepatitis)', () => {
  it('is not met when HBsAg, anti-HBc and HCV Ab are all negative', () => {
    expect(stateOf(baseline(), 'excl-hepatitis')).toBe('not-met');
  });

  it('is met for a positive anti-HBc (past infection, HBsAg negative)', () => {
    expect(stateOf([...withoutLab('16933-4'), serology('13952-7', 'POS')], 'excl-hepatitis')).toBe('met');
  });

  it('is met for a positive HCV antibody', () => {
    expect(stateOf([...withoutLab('16128-1'), serology('13955-0', 'POS')], 'excl-hepatitis')).toBe('met');
  });

  it('is met for a positive HBsAg reported as text', () => {
    expect(stateOf([...withoutLab('5196-1'), observation(LOINC, '5196-1', { date: daysBefore(3), string: 'Reactive' })], 'excl-hepatitis')).toBe('met');
  });

  it('is unknown when one of the three tests is missing', () => {
    const result = criterion(withoutLab('16128-1'), 'excl-hepatitis');
    expect(result.state).toBe('unknown');
    expect(result.reason).toContain('HCV antibody');
  });

  it('does not let a negative anti-HBc IgM stand in for the total anti-HBc', () => {
    expect(stateOf([...withoutLab('16933-4'), serology('31204-1', 'NEG')], 'excl-hepatitis')).toBe('unknown');
  });

  it('reads a quantitative HCV signal/cut-off against the lab range', () => {
    const sco = observation(LOINC, '48159-8', { date: daysBefore(3), quantity: { value: 3.2, unit: '{s_co_ratio}', code: '{s_co_ratio}' }, high: 1 });
    expect(stateOf([...withoutLab('16128-1'), sco], 'excl-hepatitis')).toBe('met');
  });

  it('does not count anti-HBs (vaccination)', () => {
    expect(stateOf([...baseline(), serology('16935-9', 'POS')], 'excl-hepatitis')).toBe('not-met');
  });
});

describe('Exclusion "anaphylactic reaction to contrast agents, human or murine proteins or monoclonal antibodies" (excl-anaphylaxis)', () => {
  const anaphylaxis = cc(SCT, '39579001');

  it('is met for anaphylaxis to rituximab (RxNorm 121191)', () => {
    expect(stateOf([...baseline(), allergy({ code: cc(RXNORM, '121191'), manifestation: anaphylaxis })], 'excl-anaphylaxis')).toBe('met');
  });

  it('is met for anaphylaxis to a monoclonal antibody known by name (…mab)', () => {
    const infliximab = { coding: [{ system: RXNORM, code: '191831', display: 'infliximab' }] };
    expect(stateOf([...baseline(), allergy({ code: infliximab, manifestation: anaphylaxis })], 'excl-anaphylaxis')).toBe('met');
  });

  it('is met for anaphylaxis to iodinated contrast (text)', () => {
    expect(stateOf([...baseline(), allergy({ code: { text: 'Iodinated contrast media' }, manifestation: anaphylaxis })], 'excl-anaphylaxis')).toBe('met');
  });

  it('puts anaphylaxis to an unidentified medication under review', () => {
    expect(stateOf([...baseline(), allergy({ code: cc(RXNORM, '7980'), category: ['medication'], manifestation: anaphylaxis })], 'excl-anaphylaxis')).toBe('review');
  });

  it('does not count anaphylaxis to peanuts (food)', () => {
    expect(stateOf([...baseline(), allergy({ code: cc(SCT, '762952008'), category: ['food'], manifestation: anaphylaxis })], 'excl-anaphylaxis')).toBe('not-met');
  });

  it('puts a radiographic dye allergy status (Z91.041) under review', () => {
    expect(stateOf([...baseline(), condition(ICD, 'Z91.041', { recorded: '2020-01-01' })], 'excl-anaphylaxis')).toBe('review');
  });
});

describe('Exclusions decided by the investigator only (excl-lab-abnormality, excl-intercurrent-illness)', () => {
  it.each([['excl-lab-abnormality'], ['excl-intercurrent-illness']])('%s is always under review from data alone', (code) => {
    const result = criterion(baseline(), code);
    expect(result.state).toBe('review');
    expect(result.evidence).toEqual([]);
  });
});
