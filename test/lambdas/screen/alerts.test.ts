import { describe, expect, it } from 'vitest';
import { alertBody, needsAlert } from '../../../lambdas/screen/core/alerts.js';
import type { OverallState } from '../../../lambdas/screen/core/screen.js';
import { baseline, daysBefore, lab, PSEUDONYM, screen } from './builders.js';

describe('Function: needsAlert', () => {
  const cases: [OverallState | undefined, OverallState, boolean][] = [
    [undefined, 'candidate', true],
    [undefined, 'eligible', true],
    [undefined, 'ineligible', false],
    ['ineligible', 'candidate', true],
    ['ineligible', 'eligible', true],
    ['candidate', 'eligible', true],
    ['eligible', 'candidate', true],
    ['candidate', 'candidate', false],
    ['eligible', 'eligible', false],
    ['ineligible', 'ineligible', false],
    ['candidate', 'ineligible', false],
    ['eligible', 'ineligible', false],
  ];
  it.each(cases)('from %s to %s alerts: %s', (previous, next, expected) => {
    expect(needsAlert(previous, next)).toBe(expected);
  });

  it('does not alert twice for the same state (a re-screen with unchanged data)', () => {
    const first = screen(baseline()).overall;
    const again = screen(baseline()).overall;
    expect(needsAlert(undefined, first)).toBe(true);
    expect(needsAlert(first, again)).toBe(false);
  });
});

describe('Function: alertBody', () => {
  it('holds the pseudonym, the state and the criteria still needing work, and nothing else', () => {
    const body = alertBody(screen(baseline()));
    expect(Object.keys(body).sort()).toEqual(['patient', 'pending', 'state']);
    expect(body).toEqual({
      patient: PSEUDONYM,
      state: 'candidate',
      pending: [
        { code: 'incl-sle-diagnosis', state: 'review' },
        { code: 'excl-suicide-risk', state: 'review' },
        { code: 'excl-lab-abnormality', state: 'review' },
        { code: 'excl-intercurrent-illness', state: 'review' },
      ],
    });
  });

  it('lists unknown criteria too', () => {
    const noIga = baseline().filter((r) => !(r.resourceType === 'Observation' && r.code.coding?.[0]?.code === '2458-8'));
    expect(alertBody(screen(noIga)).pending).toContainEqual({ code: 'excl-iga-deficiency', state: 'unknown' });
  });

  it('refuses an ineligible result', () => {
    expect(() => alertBody(screen([...baseline(), lab('2465-3', 100, 'mg/dL', daysBefore(1))]))).toThrow();
  });
});
