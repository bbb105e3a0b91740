import { OperationOutcomeError } from '@medplum/core';
import type { Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { reviewTask } from '../../../lambdas/commons/review/review-task.js';
import { readDecision, settleTask } from '../../../lambdas/review/core/settle.js';

const BASE = 'https://belimumab-sle.example.org/fhir';
const ASSESSMENTS = `${BASE}/CodeSystem/study-assessments`;
const NOW = new Date('2025-06-01T10:00:00Z');

const sledaiTask = reviewTask(
  {
    question: 'review-sledai-descriptor',
    subject: 'S-ABC',
    focus: 'Observation/score-1',
    item: { system: `${BASE}/CodeSystem/sledai-2k`, code: 'leukopenia' },
    visit: 'week-24',
    date: '2025-03-10',
    reason: 'drug-attribution',
    evidence: ['Observation/wbc-1'],
  },
  BASE,
);
const criterionTask = reviewTask(
  {
    question: 'review-eligibility-criterion',
    subject: 'S-ABC',
    focus: 'Observation/screen-1',
    item: { system: ASSESSMENTS, code: 'incl-refractory' },
    reason: 'review',
    evidence: [],
  },
  BASE,
);
const doseTask = reviewTask(
  {
    question: 'review-glucocorticoid-dose',
    subject: 'S-ABC',
    focus: 'Observation/sri-1',
    item: { system: ASSESSMENTS, code: 'prednisone-equivalent-dose' },
    date: '2025-03-10',
    reason: 'conflicting-dose-records',
    evidence: [],
  },
  BASE,
);

const params = (...parameter: unknown[]): unknown => ({ resourceType: 'Parameters', parameter });

function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof OperationOutcomeError ? Number(err.outcome.id === 'not-found' ? 404 : err.outcome.issue?.[0]?.code === 'conflict' ? 409 : 400) : undefined;
  }
  return undefined;
}

describe('settling a review Task (issue 11: the investigator settles it through the API)', () => {
  it('writes a clinician SLEDAI-2K record for the visit (D5: a clinician record decides) and completes the Task with the decision', () => {
    const { task, record } = settleTask(sledaiTask, readDecision(params({ name: 'decision', valueCode: 'present' }, { name: 'reason', valueString: 'No azathioprine since March' })), BASE, NOW);
    expect(record).toMatchObject({
      resourceType: 'Observation',
      code: { coding: [{ system: `${BASE}/CodeSystem/sledai-2k`, code: 'leukopenia' }] },
      valueBoolean: true,
      effectiveDateTime: '2025-03-10',
      subject: { reference: 'Patient/S-ABC' },
      extension: [{ url: `${BASE}/StructureDefinition/study-visit`, valueCoding: { code: 'week-24' } }],
      meta: { source: `${BASE}/investigator` },
    });
    expect(task.status).toBe('completed');
    expect(task.lastModified).toBe(NOW.toISOString());
    expect(task.output?.map((o) => o.type.coding?.[0]?.code)).toEqual(['review-decision', 'review-decision-record', 'review-decision-reason']);
    expect(task.output?.[0]?.valueCoding?.code).toBe('present');
    expect(task.output?.[1]?.valueReference?.reference).toBe(`Observation/${record.id}`);
  });

  it('writes an absent descriptor as valueBoolean false', () => {
    expect(settleTask(sledaiTask, readDecision(params({ name: 'decision', valueCode: 'absent' })), BASE, NOW).record.valueBoolean).toBe(false);
  });

  it('writes the investigator-decision shape screening reads for a criterion', () => {
    const { record } = settleTask(criterionTask, readDecision(params({ name: 'decision', valueCode: 'met' })), BASE, NOW);
    expect(record.code.coding?.[0]?.code).toBe('investigator-decision');
    expect(record.component?.[0]).toEqual({
      code: { coding: [{ system: ASSESSMENTS, code: 'incl-refractory' }] },
      valueCodeableConcept: { coding: [{ system: ASSESSMENTS, code: 'met' }] },
    });
    expect(record.effectiveDateTime).toBe('2025-06-01');
  });

  it('writes the dose in effect on the date for a glucocorticoid Task (D10)', () => {
    const decision = readDecision(params({ name: 'decision', valueQuantity: { value: 15, system: 'http://unitsofmeasure.org', code: 'mg/d' } }));
    const { record } = settleTask(doseTask, decision, BASE, NOW);
    expect(record.effectiveDateTime).toBe('2025-03-10');
    expect(record.component?.[0]?.valueQuantity).toMatchObject({ value: 15, code: 'mg/d' });
  });

  it('refuses a decision the question does not take', () => {
    expect(statusOf(() => settleTask(sledaiTask, readDecision(params({ name: 'decision', valueCode: 'met' })), BASE, NOW))).toBe(400);
    expect(statusOf(() => settleTask(criterionTask, readDecision(params({ name: 'decision', valueCode: 'present' })), BASE, NOW))).toBe(400);
  });

  it('refuses bodies that are not the documented Parameters', () => {
    for (const body of [undefined, {}, params(), params({ name: 'decision', valueCode: 'maybe' }), params({ name: 'reason', valueString: 'x' }), params({ name: 'decision', valueCode: 'met' }, { name: 'decision', valueCode: 'met' })]) {
      expect(statusOf(() => readDecision(body))).toBe(400);
    }
  });

  it('settles a retried request to the same Task, and refuses another decision on a completed one', () => {
    const first = settleTask(sledaiTask, readDecision(params({ name: 'decision', valueCode: 'present' })), BASE, NOW);
    const stored: Task & { id: string } = first.task;
    expect(settleTask(stored, readDecision(params({ name: 'decision', valueCode: 'present' })), BASE, new Date('2025-06-02T00:00:00Z')).task).toBe(stored);
    expect(statusOf(() => settleTask(stored, readDecision(params({ name: 'decision', valueCode: 'absent' })), BASE, NOW))).toBe(409);
    expect(statusOf(() => settleTask({ ...sledaiTask, status: 'cancelled' }, readDecision(params({ name: 'decision', valueCode: 'absent' })), BASE, NOW))).toBe(409);
  });
});
