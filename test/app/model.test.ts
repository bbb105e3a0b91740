/**
 * The study app's pure shaping of FHIR data (issue 16): what the worklist, the review queue and the
 * overview compute from the layer's resources, without a browser.
 */
import type { Observation, ResearchSubject, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { granted, outcomeText } from '../../app/src/fhir.js';
import { funnel, predictedVsObserved, responseByVisit, wilson } from '../../app/src/model/overview.js';
import { filterWorklist, worklistEntries } from '../../app/src/model/worklist.js';
import { parseRoute } from '../../app/src/routes.js';

const BASE = 'https://belimumab-sle.example.org/fhir';
const assess = (code: string) => ({ coding: [{ system: `${BASE}/CodeSystem/study-assessments`, code }] });
const visit = (code: string) => [{ url: `${BASE}/StructureDefinition/study-visit`, valueCoding: { system: `${BASE}/CodeSystem/study-visit`, code } }];

function sri4(patient: string, week: string, outcome: string, primary = false): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: assess('sri4'),
    subject: { reference: `Patient/${patient}` },
    extension: visit(week),
    valueCodeableConcept: assess(outcome),
    ...(primary ? { category: [assess('primary-endpoint')] } : {}),
  };
}

describe('Study overview statistics', () => {
  it('gives the Wilson score interval (Newcombe 1998, method 3) at 0/n, n/n and in between', () => {
    // Newcombe's table: 0/10 → 0–0.2775, 5/10 → 0.2366–0.7634, 10/10 → 0.7225–1.
    expect(wilson(0, 10)).toMatchObject({ p: 0, low: 0 });
    expect(wilson(0, 10)!.high).toBeCloseTo(0.2775, 4);
    expect(wilson(5, 10)!.low).toBeCloseTo(0.2366, 4);
    expect(wilson(5, 10)!.high).toBeCloseTo(0.7634, 4);
    expect(wilson(10, 10)!.low).toBeCloseTo(0.7225, 4);
    expect(wilson(10, 10)!.high).toBe(1);
    expect(wilson(0, 0)).toBeUndefined();
  });

  it('counts a not-evaluable result as a non-responder in ITT and leaves it out of the evaluable denominator (D9)', () => {
    // Arrange
    const results = [sri4('a', 'week-48', 'responder'), sri4('b', 'week-48', 'non-responder'), sri4('c', 'week-48', 'not-evaluable'), sri4('a', 'week-4', 'responder')];
    // Act
    const rows = responseByVisit(results);
    // Assess: visits in schedule order, ITT first.
    expect(rows.map((r) => [r.visit, r.analysis, r.responders, r.n])).toEqual([
      ['week-4', 'ITT', 1, 1],
      ['week-4', 'Evaluable', 1, 1],
      ['week-48', 'ITT', 1, 3],
      ['week-48', 'Evaluable', 1, 2],
    ]);
  });

  it('puts every ResearchSubject in exactly one funnel stage, so the stages add up to the screened total', () => {
    // Arrange: every R4 ResearchSubject.status.
    const statuses = ['candidate', 'eligible', 'follow-up', 'ineligible', 'not-registered', 'off-study', 'on-study', 'on-study-intervention', 'on-study-observation', 'pending-on-study', 'potential-candidate', 'screening', 'withdrawn'] as const;
    const subjects: ResearchSubject[] = statuses.map((status) => ({ resourceType: 'ResearchSubject', status, study: {}, individual: {} }));
    // Act
    const { screened, rows } = funnel(subjects);
    // Assess
    expect(screened).toBe(statuses.length);
    expect(rows.reduce((s, r) => s + r.count, 0)).toBe(statuses.length);
    expect(rows.find((r) => r.stage === 'enrolled')?.count).toBe(5);
  });

  it('pairs each prediction with the week-48 primary endpoint, or says there is none yet', () => {
    const prediction = (patient: string, p: number): Observation => ({
      resourceType: 'Observation',
      status: 'preliminary',
      code: assess('response-prediction'),
      subject: { reference: `Patient/${patient}` },
      component: [{ code: assess('response-probability'), valueQuantity: { value: p } }],
    });
    const points = predictedVsObserved([prediction('a', 0.7), prediction('b', 0.2)], [sri4('a', 'week-48', 'responder', true), sri4('b', 'week-24', 'non-responder')]);
    expect(points).toEqual([
      { subject: 'a', probability: 0.7, observed: 'responder' },
      { subject: 'b', probability: 0.2, observed: 'not-yet' },
    ]);
  });
});

describe('Recruitment worklist', () => {
  const screening = (patient: string, state: string, lastUpdated: string): Observation => ({
    resourceType: 'Observation',
    id: `scr-${patient}`,
    meta: { lastUpdated },
    status: 'final',
    code: assess('eligibility-screening'),
    subject: { reference: `Patient/${patient}` },
    valueCodeableConcept: assess(state),
    component: [
      {
        code: assess('incl-age'),
        valueCodeableConcept: assess('met'),
        extension: [
          { url: `${BASE}/StructureDefinition/eligibility-evidence`, valueReference: { reference: `Patient/${patient}` } },
          { url: `${BASE}/StructureDefinition/eligibility-reason`, valueString: 'Aged 18 or over on the screening date.' },
        ],
      },
    ],
  });

  it('orders newest change first, words criteria from the Group, and filters by state, enrolment and open review', () => {
    // Arrange
    const group = { resourceType: 'Group' as const, type: 'person' as const, actual: false, characteristic: [{ code: { ...assess('incl-age'), text: 'Aged more than 18 years' }, exclude: false, valueBoolean: true }] };
    const task: Task = { resourceType: 'Task', status: 'requested', intent: 'order', code: assess('review-eligibility-criterion'), for: { reference: 'Patient/B' } };
    const enrolled: ResearchSubject = { resourceType: 'ResearchSubject', status: 'on-study', study: {}, individual: { reference: 'Patient/C' } };
    // Act
    const entries = worklistEntries([screening('A', 'candidate', '2026-01-01T00:00:00Z'), screening('B', 'eligible', '2026-02-01T00:00:00Z'), screening('C', 'eligible', '2026-03-01T00:00:00Z'), screening('D', 'ineligible', '2026-04-01T00:00:00Z')], group, [task], [enrolled]);
    // Assess
    expect(entries.map((e) => e.pseudonym)).toEqual(['D', 'C', 'B', 'A']);
    expect(entries[0]!.criteria[0]).toMatchObject({ text: 'Aged more than 18 years', state: 'met', kind: 'inclusion', evidence: ['Patient/D'] });
    expect(filterWorklist(entries, { state: 'active', openReviewOnly: false }).map((e) => e.pseudonym)).toEqual(['B', 'A']);
    expect(filterWorklist(entries, { state: 'active', openReviewOnly: true }).map((e) => e.pseudonym)).toEqual(['B']);
    expect(filterWorklist(entries, { state: 'all', openReviewOnly: false })).toHaveLength(4);
  });
});

describe('Routes, scopes and refusals', () => {
  it('opens each page from its stable address and nothing else', () => {
    expect(parseRoute('')).toEqual({ page: 'worklist' });
    expect(parseRoute('#/worklist/S-ABC123')).toEqual({ page: 'worklist', pseudonym: 'S-ABC123' });
    expect(parseRoute('#/subject/S-ABC123')).toEqual({ page: 'subject', pseudonym: 'S-ABC123' });
    expect(parseRoute('#/review')).toEqual({ page: 'review' });
    expect(parseRoute('#/overview')).toEqual({ page: 'overview' });
    expect(parseRoute('#/subject/<script>').page).toBe('not-found');
  });

  it('reads SMART v2 and v1 scopes as the layer does (SMART App Launch 2.0 scopes)', () => {
    expect(granted(['user/Observation.rs'], 'Observation', 's')).toBe(true);
    expect(granted(['user/Observation.rs'], 'Observation', 'c')).toBe(false);
    expect(granted(['user/*.read'], 'Condition', 'r')).toBe(true);
    expect(granted(['recruitment/identity.read'], 'Patient', 'r')).toBe(false);
  });

  it("shows a refusal in the OperationOutcome's words (FHIR R4 OperationOutcome)", () => {
    const body = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'forbidden', details: { text: 'Forbidden' }, diagnostics: "Granted scopes do not allow 's' on Task" }] };
    expect(outcomeText(403, body)).toBe("Forbidden: Granted scopes do not allow 's' on Task.");
    const twoIssues = { resourceType: 'OperationOutcome', issue: [{ details: { text: 'Forbidden' } }, { details: { text: "Granted scopes do not allow 's' on Task" } }] };
    expect(outcomeText(403, twoIssues)).toBe("Forbidden. Granted scopes do not allow 's' on Task.");
    expect(outcomeText(502, undefined)).toBe('The server answered 502.');
  });
});
