import type { Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { ReviewItem } from '../../../../lambdas/commons/review/review-item.js';
import { reconcileReviewTasks, reviewTask, reviewTaskId } from '../../../../lambdas/commons/review/review-task.js';

const BASE = 'https://belimumab-sle.example.org/fhir';
const ASSESSMENTS = `${BASE}/CodeSystem/study-assessments`;

const item = (over: Partial<ReviewItem> = {}): ReviewItem => ({
  question: 'review-sledai-descriptor',
  subject: 'S-ABC',
  focus: 'Observation/score-1',
  item: { system: `${BASE}/CodeSystem/sledai-2k`, code: 'low-complement' },
  visit: 'week-48',
  date: '2025-05-05',
  reason: 'no-usable-range',
  evidence: ['Observation/c3-b', 'Observation/c3-a', 'Observation/c3-a'],
  ...over,
});

describe('review Tasks (issue 11: every undecided item is a Task for the investigator)', () => {
  it('asks with status requested, the focus, the subject, what must be decided and the evidence', () => {
    const task = reviewTask(item(), BASE);
    expect(task).toMatchObject({
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      code: { coding: [{ system: ASSESSMENTS, code: 'review-sledai-descriptor' }] },
      focus: { reference: 'Observation/score-1' },
      for: { reference: 'Patient/S-ABC' },
      reasonCode: { coding: [{ system: ASSESSMENTS, code: 'no-usable-range' }] },
    });
    const evidence = task.input?.filter((i) => i.type.coding?.[0]?.code === 'review-evidence').map((i) => i.valueReference?.reference);
    expect(evidence).toEqual(['Observation/c3-a', 'Observation/c3-b']);
    expect(task.input?.find((i) => i.type.coding?.[0]?.code === 'review-item')?.valueCoding?.code).toBe('low-complement');
    expect(task.input?.find((i) => i.type.coding?.[0]?.code === 'review-date')?.valueDate).toBe('2025-05-05');
  });

  it('keeps one Task per subject, question, item, visit and date', () => {
    expect(reviewTaskId(item())).toBe(reviewTaskId(item({ evidence: [] })));
    expect(reviewTaskId(item())).not.toBe(reviewTaskId(item({ visit: 'week-36' })));
    expect(reviewTaskId(item())).not.toBe(reviewTaskId(item({ subject: 'S-XYZ' })));
    expect(reviewTaskId(item())).not.toBe(reviewTaskId(item({ item: { system: `${BASE}/CodeSystem/sledai-2k`, code: 'leukopenia' } })));
  });

  it('cancels an open Task whose item the data has since decided, and leaves a completed one alone', () => {
    const open = { ...reviewTask(item(), BASE), meta: { versionId: '1', lastUpdated: '2025-05-06T00:00:00Z', source: `${BASE}/review` } };
    const done: Task & { id: string } = { ...reviewTask(item({ visit: 'week-36' }), BASE), status: 'completed' };
    const writes = reconcileReviewTasks([], [open, done], ['review-sledai-descriptor'], BASE);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ id: open.id, status: 'cancelled', statusReason: { coding: [{ code: 'resolved-by-data' }] } });
    expect(writes[0]?.meta).toEqual({ source: `${BASE}/review` });
  });

  it('does not reopen a completed Task, and does not touch Tasks of questions it does not own', () => {
    const done: Task & { id: string } = { ...reviewTask(item(), BASE), status: 'completed' };
    const criterion = reviewTask(item({ question: 'review-eligibility-criterion', item: { system: ASSESSMENTS, code: 'incl-refractory' } }), BASE);
    expect(reconcileReviewTasks([item()], [done, criterion], ['review-sledai-descriptor'], BASE)).toEqual([]);
  });

  it('reopens a cancelled Task when its item is undecided again', () => {
    const cancelled: Task & { id: string } = { ...reviewTask(item(), BASE), status: 'cancelled' };
    const writes = reconcileReviewTasks([item()], [cancelled], ['review-sledai-descriptor'], BASE);
    expect(writes.map((t) => t.status)).toEqual(['requested']);
    expect(writes[0]?.statusReason).toBeUndefined();
  });
});
