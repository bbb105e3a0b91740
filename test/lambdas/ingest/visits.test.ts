import { describe, expect, it } from 'vitest';
import { assignVisit, SCREENING_VISIT, studyDay, UNSCHEDULED_VISIT } from '../../../lambdas/ingest/core/visits.js';

// Windows as the study's PlanDefinition gives them; the test pins the assignment logic, not the data.
const windows = [
  { code: 'week-0', startDay: 0, endDay: 0 },
  { code: 'week-2', startDay: 11, endDay: 17 },
  { code: 'week-4', startDay: 25, endDay: 31 },
  { code: 'week-48', startDay: 322, endDay: 350 },
];

describe('Function: assignVisit', () => {
  const day0 = '2024-06-03T09:00:00+08:00';

  it('puts the day of the first infusion in week 0 (registry: infusions on days 0, 14, 28)', () => {
    expect(assignVisit('2024-06-03T07:30:00+08:00', day0, windows)).toEqual({ visit: 'week-0', studyDay: 0 });
  });

  it('puts anything before day 0 in screening/baseline, with its negative study day', () => {
    expect(assignVisit('2024-05-30', day0, windows)).toEqual({ visit: SCREENING_VISIT, studyDay: -4 });
  });

  it('puts everything in screening while no infusion is known', () => {
    expect(assignVisit('2024-05-30', undefined, windows)).toEqual({ visit: SCREENING_VISIT });
  });

  it('assigns both edges of a window and nothing outside it', () => {
    expect(assignVisit('2024-06-14', day0, windows)?.visit).toBe('week-2'); // day 11
    expect(assignVisit('2024-06-20', day0, windows)?.visit).toBe('week-2'); // day 17
    expect(assignVisit('2024-06-21', day0, windows)).toEqual({ visit: UNSCHEDULED_VISIT, studyDay: 18 });
  });

  it('leaves an undated record unassigned', () => {
    expect(assignVisit(undefined, day0, windows)).toBeUndefined();
  });
});

describe('Function: studyDay', () => {
  it('counts calendar days as recorded, not instants across time zones', () => {
    // 23:30 local on the next calendar day is day 1 even though in UTC it is still day 0.
    expect(studyDay('2024-06-03T09:00:00+08:00', '2024-06-04T00:30:00+08:00')).toBe(1);
  });

  it('counts across a leap day', () => {
    expect(studyDay('2024-02-28', '2024-03-01')).toBe(2);
  });
});
