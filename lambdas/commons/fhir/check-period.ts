import type { OperationOutcomeIssue, Period } from '@medplum/fhirtypes';
import { errorIssue } from './issues.js';

const DATE_TIME = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

interface PartialDateTime {
  /** Year, month, day as far as given. */
  readonly parts: number[];
  /** Milliseconds since the epoch when a time is given. */
  readonly instant?: number;
}

function parse(value: string): PartialDateTime | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) {
    return undefined;
  }
  const parts = [m[1], m[2], m[3]].filter((p): p is string => p !== undefined).map(Number);
  if (m[4] === undefined) {
    return { parts };
  }
  // A time without an offset is not valid FHIR (medplum reports it); compare it as UTC.
  return { parts, instant: Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}${m[5] ?? 'Z'}`) };
}

/**
 * Compares two FHIR date/dateTime values with FHIRPath semantics: values of different precision that
 * agree on their common precision cannot be ordered (https://hl7.org/fhirpath/N1/#comparison).
 * @param a - First value.
 * @param b - Second value.
 * @returns Negative, zero or positive like a comparator, or undefined when not comparable.
 */
export function compareDateTimes(a: string, b: string): number | undefined {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) {
    return undefined;
  }
  if (x.instant !== undefined && y.instant !== undefined) {
    return x.instant - y.instant;
  }
  const common = Math.min(x.parts.length, y.parts.length);
  for (let i = 0; i < common; i++) {
    const d = (x.parts[i] as number) - (y.parts[i] as number);
    if (d !== 0) {
      return d;
    }
  }
  const xp = x.instant === undefined ? x.parts.length : 4;
  const yp = y.instant === undefined ? y.parts.length : 4;
  return xp === yp ? 0 : undefined;
}

/**
 * per-1: "If present, start SHALL have a lower value than end". medplum compares the strings, which
 * passes `2023-06-21` vs `2023-06-21T06:20:00Z`; FHIRPath (and the HL7 validator) finds them
 * incomparable, and an empty result fails the invariant.
 * @param period - A Period value.
 * @param path - Its location.
 * @returns Issues found.
 */
export function checkPeriod(period: Period, path: string): OperationOutcomeIssue[] {
  const { start, end } = period;
  if (typeof start !== 'string' || typeof end !== 'string') {
    return [];
  }
  const order = compareDateTimes(start, end);
  if (order === undefined && (!DATE_TIME.test(start) || !DATE_TIME.test(end))) {
    return []; // malformed dates: the dateTime format check reports them
  }
  if (order === undefined || order > 0) {
    return [errorIssue('invariant', "Constraint failed: per-1: 'If present, start SHALL have a lower value than end'", path)];
  }
  return [];
}
