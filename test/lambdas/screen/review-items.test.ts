import { describe, expect, it } from 'vitest';
import { screeningReviewItems } from '../../../lambdas/screen/core/index.js';
import { screeningObservationId } from '../../../lambdas/screen/core/screening-observation.js';
import { BASE, baseline, criteria, daysBefore, decision, HCQ, INVESTIGATOR_PARTS, medicationStatement, ORAL, PSEUDONYM, screen, STUDY } from './builders.js';

/*
 * Issue 11: every eligibility criterion in *review* opens a Task for the investigator; the screen
 * gives the items (question review-eligibility-criterion, focus the screening Observation), the
 * lead's code writes the Tasks.
 */

describe('Function: screeningReviewItems', () => {
  it('gives one item per criterion in review, in rule-file order, and none for met, not-met or unknown', () => {
    const result = screen(baseline());
    const items = screeningReviewItems(result, BASE);
    const inReview = result.criteria.filter((c) => c.state === 'review').map((c) => c.code);
    expect(inReview).toEqual([...INVESTIGATOR_PARTS]);
    expect(items.map((i) => i.item.code)).toEqual(inReview);
    for (const item of items) {
      expect(item).toMatchObject({
        question: 'review-eligibility-criterion',
        subject: PSEUDONYM,
        focus: `Observation/${screeningObservationId(PSEUDONYM)}`,
        reason: 'review',
      });
      // The criterion itself is the item: a re-screen on another day must find the same Task.
      expect(item.date).toBeUndefined();
      expect(item.item.system).toBe(STUDY);
    }
  });

  it('names the criterion by its registry wording and carries its evidence', () => {
    const result = screen(baseline());
    const sle = screeningReviewItems(result, BASE).find((i) => i.item.code === 'incl-sle-diagnosis');
    const bullet = criteria.file.criteria.find((c) => c.code === 'incl-sle-diagnosis')?.bullet;
    expect(sle?.item.display).toBe(bullet);
    expect(sle?.item.display).toContain('1997 American College of Rheumatology');
    expect(sle?.evidence).toEqual(result.criteria.find((c) => c.code === 'incl-sle-diagnosis')?.evidence);
    expect(sle?.evidence[0]).toMatch(/^Condition\//);
  });

  it('opens none for a criterion an investigator decision has settled', () => {
    const settled = decision(daysBefore(1), [['incl-sle-diagnosis', 'met'], ['excl-suicide-risk', 'not-met']]);
    const items = screeningReviewItems(screen([...baseline(), settled]), BASE);
    expect(items.map((i) => i.item.code)).toEqual(['excl-lab-abnormality', 'excl-intercurrent-illness']);
  });

  it('opens one for refractory when therapy is too short (E1: review, never met)', () => {
    const records = baseline().filter((r) => r.resourceType !== 'MedicationStatement');
    const short = medicationStatement(HCQ, { start: daysBefore(10), end: daysBefore(9), status: 'completed', route: ORAL });
    const item = screeningReviewItems(screen([...records, short]), BASE).find((i) => i.item.code === 'incl-refractory');
    expect(item?.evidence).toEqual([`MedicationStatement/${short.id ?? ''}`]);
  });
});
