import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { errorIssue } from './issues.js';
import { PRIMITIVES, type WalkedValue } from './typed-walk.js';

/** Core codes with a required binding to a small, fixed R4 ValueSet that the study's data relies on. */
const REQUIRED_CODES: Record<string, ReadonlySet<string>> = {
  'Patient.gender': new Set(['male', 'female', 'other', 'unknown']),
  'Observation.status': new Set(['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'unknown']),
  'Encounter.status': new Set(['planned', 'arrived', 'triaged', 'in-progress', 'onleave', 'finished', 'cancelled', 'entered-in-error', 'unknown']),
  'MedicationAdministration.status': new Set(['in-progress', 'not-done', 'on-hold', 'completed', 'entered-in-error', 'stopped', 'unknown']),
  'MedicationRequest.status': new Set(['active', 'on-hold', 'cancelled', 'completed', 'entered-in-error', 'stopped', 'draft', 'unknown']),
  'MedicationRequest.intent': new Set(['proposal', 'plan', 'order', 'original-order', 'reflex-order', 'filler-order', 'instance-order', 'option']),
  'MedicationStatement.status': new Set(['active', 'completed', 'entered-in-error', 'intended', 'stopped', 'on-hold', 'unknown', 'not-taken']),
};

const DATE_PARTS = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/;
const HAS_TIME = /T\d{2}:\d{2}/;
const HAS_ZONE = /(Z|[+-]\d{2}:\d{2})$/;

/**
 * Value checks that @medplum/core's validator does not make: a JSON primitive where a complex type is
 * expected (`"code": 123`), a date that is not on the calendar (`2024-02-30`), a dateTime with a time
 * but no time zone (R4: "SHALL be populated"), and a code outside a small required core binding
 * (`Patient.gender`).
 * @param walked - One value met by walkResource.
 * @returns Issues found.
 */
export function checkValue(walked: WalkedValue): OperationOutcomeIssue[] {
  const { value, type, path } = walked;
  if (Array.isArray(value) || value === null || value === undefined) {
    return [];
  }
  if (!PRIMITIVES.has(type) && type !== 'Element' && typeof value !== 'object') {
    return [errorIssue('structure', `Expected a ${type} object, found a ${typeof value}`, path)];
  }
  if (typeof value !== 'string') {
    return [];
  }
  if (type === 'date' || type === 'dateTime' || type === 'instant') {
    return checkDate(value, type, path);
  }
  if (type === 'code') {
    const allowed = REQUIRED_CODES[`${walked.resource.resourceType}.${walked.key}`];
    if (allowed && isResourceChild(path, walked.resource.resourceType) && !allowed.has(value)) {
      return [errorIssue('value', `Code is not in the required value set of ${walked.resource.resourceType}.${walked.key}`, path)];
    }
  }
  return [];
}

function checkDate(value: string, type: string, path: string): OperationOutcomeIssue[] {
  const m = DATE_PARTS.exec(value);
  if (!m) {
    return [];
  }
  const [, y, mo, d] = m;
  const month = mo === undefined ? 1 : Number(mo);
  const day = d === undefined ? 1 : Number(d);
  const last = new Date(Date.UTC(2000, month, 0)).getUTCDate();
  const leapOk = !(month === 2 && day === 29) || isLeap(Number(y));
  if (month < 1 || month > 12 || day < 1 || day > last || !leapOk) {
    return [errorIssue('value', `Not a calendar ${type}`, path)];
  }
  if (type === 'dateTime' && HAS_TIME.test(value) && !HAS_ZONE.test(value)) {
    return [errorIssue('value', 'A dateTime with a time must have a time zone', path)];
  }
  return [];
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Whether a value sits directly in its resource (so Narrative.status inside an Observation is not Observation.status). */
function isResourceChild(path: string, resourceType: string): boolean {
  const parent = path.slice(0, path.lastIndexOf('.'));
  return parent === resourceType || /\.(resource|contained\[\d+\])$/.test(parent);
}
