import type { Duration } from './criteria-schema.js';

/*
 * Calendar days as integers (days since 1970-01-01). A FHIR date or dateTime is read by its written
 * calendar date (the first 10 characters; the time and zone are ignored: the criteria are stated in
 * days), and a partial date is the range of days it may mean.
 */

/** An inclusive range of days; lo === hi for a full date. */
export interface DayRange {
  readonly lo: number;
  readonly hi: number;
}

const MS_PER_DAY = 86_400_000;
const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/;

/**
 * @param year - Full year.
 * @param month - 1-12.
 * @param day - 1-31.
 * @returns The day number.
 */
export function dayOf(year: number, month: number, day: number): number {
  return Math.round(Date.UTC(year, month - 1, day) / MS_PER_DAY);
}

/**
 * @param day - A day number.
 * @returns `YYYY-MM-DD`.
 */
export function formatDay(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

/**
 * @param date - A JS Date (its UTC calendar date is used).
 * @returns The day number.
 */
export function dayOfDate(date: Date): number {
  return Math.floor(date.getTime() / MS_PER_DAY);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Reads a FHIR date or dateTime as the days it may mean.
 * @param value - `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or a dateTime.
 * @returns The range, or undefined when the value is absent or not a date.
 */
export function parseDayRange(value: string | undefined): DayRange | undefined {
  if (!value) {
    return undefined;
  }
  const m = DATE.exec(value);
  if (!m) {
    return undefined;
  }
  const year = Number(m[1]);
  if (m[3] !== undefined) {
    const d = dayOf(year, Number(m[2]), Number(m[3]));
    return { lo: d, hi: d };
  }
  if (m[2] !== undefined) {
    const month = Number(m[2]);
    return { lo: dayOf(year, month, 1), hi: dayOf(year, month, daysInMonth(year, month)) };
  }
  return { lo: dayOf(year, 1, 1), hi: dayOf(year, 12, 31) };
}

/**
 * Moves a day by whole calendar units. Months and years keep the day of the month, clamped to the
 * month's last day (29 February minus one year is 28 February).
 * @param day - The day number.
 * @param amount - Units to add (negative to go back).
 * @param unit - d, wk, mo or a.
 * @returns The new day number.
 */
export function addCalendar(day: number, amount: number, unit: Duration['unit']): number {
  switch (unit) {
    case 'd':
      return day + amount;
    case 'wk':
      return day + 7 * amount;
    case 'mo':
    case 'a': {
      const date = new Date(day * MS_PER_DAY);
      const months = date.getUTCFullYear() * 12 + date.getUTCMonth() + (unit === 'a' ? 12 * amount : amount);
      const year = Math.floor(months / 12);
      const month = (months % 12) + 1;
      return dayOf(year, month, Math.min(date.getUTCDate(), daysInMonth(year, month)));
    }
  }
}

/**
 * The first day of a look-back window ending on `end` (both ends inclusive): 60 days before day 0
 * is in, 61 is out; 5 years is "to the day".
 * @param end - The last day of the window (day 0).
 * @param duration - The window length.
 * @returns The first day.
 */
export function windowStart(end: number, duration: Duration): number {
  return addCalendar(end, -duration.value, duration.unit);
}

/**
 * @param duration - A duration.
 * @returns Human text such as `60 d` or `5 a` (no patient data).
 */
export function formatDuration(duration: Duration): string {
  return `${duration.value} ${duration.unit}`;
}
