import { describe, expect, it } from 'vitest';
import { researchSubjectId, researchSubjectStatus, screeningObservationId, toScreeningObservation } from '../../../lambdas/screen/core/screening-observation.js';
import { overallState } from '../../../lambdas/screen/core/screen.js';
import {
  AS_OF,
  BASE,
  baseline,
  condition,
  criterion,
  daysBefore,
  decision,
  ICD,
  INVESTIGATOR_PARTS,
  lab,
  PSEUDONYM,
  screen,
  STUDY,
} from './builders.js';

const settled = (date = daysBefore(1)) => decision(date, INVESTIGATOR_PARTS.map((code) => [code, code.startsWith('incl-') ? 'met' : 'not-met'] as const));

describe('Overall state', () => {
  it('is candidate for a baseline record: nothing failed, the investigator parts still under review', () => {
    const result = screen(baseline());
    expect(result.overall).toBe('candidate');
    expect(result.criteria.filter((c) => c.state === 'review').map((c) => c.code)).toEqual([...INVESTIGATOR_PARTS]);
    expect(result.criteria).toHaveLength(19);
  });

  it('is eligible once the investigator settles every review', () => {
    const result = screen([...baseline(), settled()]);
    expect(result.overall).toBe('eligible');
    const sle = result.criteria.find((c) => c.code === 'incl-sle-diagnosis');
    expect(sle?.state).toBe('met');
    expect(sle?.computedState).toBe('review');
    expect(sle?.settledBy).toMatch(/^Observation\//);
    expect(sle?.evidence).toContain(sle?.settledBy);
  });

  it('is ineligible when an exclusion is met, whatever else is open', () => {
    expect(screen([...baseline(), lab('2465-3', 350, 'mg/dL', daysBefore(1))]).overall).toBe('ineligible');
  });

  it('is ineligible when an inclusion is not met', () => {
    const young = baseline().map((r) => (r.resourceType === 'Patient' ? { ...r, birthDate: '2010-01-01' } : r));
    expect(screen(young).overall).toBe('ineligible');
  });

  it('is INELIGIBLE, not candidate, for a patient with no SLE diagnosis on record', () => {
    const result = screen(baseline().filter((r) => r.resourceType !== 'Condition'));
    expect(result.criteria.find((c) => c.code === 'incl-sle-diagnosis')?.state).toBe('not-met');
    expect(result.overall).toBe('ineligible');
  });

  it('follows the truth table', () => {
    expect(overallState([{ kind: 'inclusion', state: 'met' }, { kind: 'exclusion', state: 'not-met' }])).toBe('eligible');
    expect(overallState([{ kind: 'inclusion', state: 'unknown' }, { kind: 'exclusion', state: 'not-met' }])).toBe('candidate');
    expect(overallState([{ kind: 'inclusion', state: 'met' }, { kind: 'exclusion', state: 'review' }])).toBe('candidate');
    expect(overallState([{ kind: 'inclusion', state: 'review' }, { kind: 'exclusion', state: 'met' }])).toBe('ineligible');
    expect(overallState([{ kind: 'inclusion', state: 'not-met' }, { kind: 'exclusion', state: 'unknown' }])).toBe('ineligible');
  });

  it('uses the screening date as day 0 until belimumab is given', () => {
    const result = screen(baseline());
    expect(result.day0).toBe('2024-06-10');
    expect(result.day0Source).toBe('screening-date');
    expect(result.asOf).toBe('2024-06-10');
  });
});

describe('Investigator decisions settle reviews', () => {
  it('settles a review as not met (suicide risk judged absent)', () => {
    const result = criterion([...baseline(), decision(daysBefore(1), [['excl-suicide-risk', 'not-met']])], 'excl-suicide-risk');
    expect(result.state).toBe('not-met');
    expect(result.reason).toMatch(/^Settled by investigator decision\./);
  });

  it('settles an unknown too (refractory history from another hospital)', () => {
    const noTherapy = baseline().filter((r) => r.resourceType !== 'MedicationStatement');
    expect(criterion(noTherapy, 'incl-refractory').state).toBe('unknown');
    expect(criterion([...noTherapy, decision(daysBefore(1), [['incl-refractory', 'met']])], 'incl-refractory').state).toBe('met');
  });

  it('settles a review as an exclusion met (the investigator judges a significant lab abnormality)', () => {
    const result = screen([...baseline(), settled(daysBefore(2)), decision(daysBefore(1), [['excl-lab-abnormality', 'met']])]);
    expect(result.criteria.find((c) => c.code === 'excl-lab-abnormality')?.state).toBe('met');
    expect(result.overall).toBe('ineligible');
  });

  it('takes the latest decision for a criterion', () => {
    const first = decision(daysBefore(5), [['excl-intercurrent-illness', 'met']]);
    const second = decision(daysBefore(2), [['excl-intercurrent-illness', 'not-met']]);
    expect(criterion([...baseline(), second, first], 'excl-intercurrent-illness').state).toBe('not-met');
  });

  it('ignores a decision dated after the screening date', () => {
    expect(criterion([...baseline(), decision('2024-06-11', [['excl-suicide-risk', 'not-met']])], 'excl-suicide-risk').state).toBe('review');
  });

  it('ignores a decision entered in error', () => {
    const wrong = { ...decision(daysBefore(1), [['excl-suicide-risk', 'not-met']]), status: 'entered-in-error' as const };
    expect(criterion([...baseline(), wrong], 'excl-suicide-risk').state).toBe('review');
  });

  it('does not override a state the coded data decides; the conflict is named in the reason', () => {
    const withCancer = [...baseline(), condition(ICD, 'C50.911', { onset: daysBefore(400), clinicalStatus: 'active' })];
    const result = criterion([...withCancer, decision(daysBefore(1), [['excl-malignancy', 'not-met']])], 'excl-malignancy');
    expect(result.state).toBe('met');
    expect(result.reason).toContain('disagrees');
    expect(result.settledBy).toBeUndefined();
  });
});

describe('Function: toScreeningObservation', () => {
  it('builds the eligibility-screening Observation', () => {
    const result = screen([...baseline(), settled()]);
    const obs = toScreeningObservation(result, BASE);
    expect(obs.id).toBe(screeningObservationId(PSEUDONYM));
    expect(obs.meta?.profile).toEqual([`${BASE}/StructureDefinition/eligibility-screening`]);
    expect(obs.code.coding).toEqual([{ system: STUDY, code: 'eligibility-screening' }]);
    expect(obs.subject).toEqual({ reference: `Patient/${PSEUDONYM}` });
    expect(obs.focus).toEqual([{ reference: `ResearchSubject/${researchSubjectId(PSEUDONYM)}` }]);
    expect(obs.effectiveDateTime).toBe('2024-06-10');
    expect(obs.valueCodeableConcept?.coding).toEqual([{ system: STUDY, code: 'eligible' }]);
    expect(obs.component).toHaveLength(19);
    const sle = obs.component?.find((c) => c.code.coding?.[0]?.code === 'incl-sle-diagnosis');
    expect(sle?.valueCodeableConcept?.coding).toEqual([{ system: STUDY, code: 'met' }]);
    const evidence = sle?.extension?.filter((e) => e.url === `${BASE}/StructureDefinition/eligibility-evidence`).map((e) => e.valueReference?.reference);
    expect(evidence).toHaveLength(2);
  });

  it('is the same resource for the same result, and keeps its id on a re-screen', () => {
    const resources = baseline();
    const first = toScreeningObservation(screen(resources), BASE);
    expect(toScreeningObservation(screen([...resources].reverse()), BASE)).toEqual(first);
    const later = toScreeningObservation(screen(resources, new Date('2024-07-01T00:00:00Z')), BASE);
    expect(later.id).toBe(first.id);
    expect(later.effectiveDateTime).toBe('2024-07-01');
  });

  it('carries no patient data in reason texts (no dates, no values)', () => {
    const obs = toScreeningObservation(screen([...baseline(), lab('2465-3', 350, 'mg/dL', daysBefore(1))]), BASE);
    const reasons = (obs.component ?? []).flatMap((c) => c.extension ?? []).filter((e) => e.valueString !== undefined).map((e) => e.valueString ?? '');
    expect(reasons).toHaveLength(19);
    for (const reason of reasons) {
      expect(reason).not.toMatch(/\d{4}-\d{2}-\d{2}/);
      expect(reason).not.toContain('350');
      expect(reason).not.toContain(PSEUDONYM);
    }
  });

  it('uses the screening date given (AS_OF)', () => {
    expect(toScreeningObservation(screen(baseline(), AS_OF), BASE).effectiveDateTime).toBe(AS_OF.toISOString().slice(0, 10));
  });
});

describe('Function: researchSubjectStatus', () => {
  it('maps the overall state to R4 ResearchSubject.status', () => {
    expect(researchSubjectStatus('candidate')).toBe('potential-candidate');
    expect(researchSubjectStatus('eligible')).toBe('eligible');
    expect(researchSubjectStatus('ineligible')).toBe('ineligible');
  });
});
