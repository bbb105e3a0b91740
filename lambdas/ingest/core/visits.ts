/** A visit of the schedule, in study days relative to day 0 (the first belimumab infusion), both ends inclusive. */
export interface VisitWindow {
  readonly code: string;
  readonly display?: string;
  readonly startDay: number;
  readonly endDay: number;
}

/** Where a dated record falls in the study. */
export interface VisitAssignment {
  /** A visit code of the `study-visit` CodeSystem. */
  readonly visit: string;
  /** Days since day 0; absent while day 0 is unknown. */
  readonly studyDay?: number;
}

/** Records from before day 0 (or before any infusion is known) are screening/baseline data. */
export const SCREENING_VISIT = 'screening';
/** Records after day 0 that fall in no window. */
export const UNSCHEDULED_VISIT = 'unscheduled';

const MS_PER_DAY = 86_400_000;

/**
 * Whole calendar days from day 0 to a date, on the calendar dates as recorded (the local date the
 * hospital wrote), so that a 23:30 lab is not moved to the next day by a time-zone conversion.
 * @param day0 - Date or dateTime of the first infusion.
 * @param date - Date or dateTime of the record.
 * @returns Days (negative before day 0).
 */
export function studyDay(day0: string, date: string): number {
  return Math.round((calendarDay(date) - calendarDay(day0)) / MS_PER_DAY);
}

function calendarDay(value: string): number {
  const [year = '1970', month = '01', day = '01'] = value.slice(0, 10).split('-');
  return Date.UTC(Number(year), Number(month) - 1, Number(day));
}

/**
 * Assigns a dated record to a study visit.
 * @param date - The record's clinical date; undefined gives no assignment.
 * @param day0 - The subject's first belimumab infusion, if known.
 * @param windows - The visit windows of the ResearchStudy's schedule.
 * @returns The visit, or undefined for an undated record.
 */
export function assignVisit(date: string | undefined, day0: string | undefined, windows: readonly VisitWindow[]): VisitAssignment | undefined {
  if (date === undefined) {
    return undefined;
  }
  if (day0 === undefined) {
    return { visit: SCREENING_VISIT };
  }
  const day = studyDay(day0, date);
  if (day < 0) {
    return { visit: SCREENING_VISIT, studyDay: day };
  }
  const window = windows.find((w) => day >= w.startDay && day <= w.endDay);
  return { visit: window?.code ?? UNSCHEDULED_VISIT, studyDay: day };
}
