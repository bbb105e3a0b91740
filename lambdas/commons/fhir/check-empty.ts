import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { errorIssue } from './issues.js';

/**
 * FHIR JSON forbids empty arrays, empty objects and empty strings: an element without content must be
 * left out (https://hl7.org/fhir/R4/json.html, ele-1).
 * @param value - A property value.
 * @param path - Its location.
 * @returns Issues found.
 */
export function checkNotEmpty(value: unknown, path: string): OperationOutcomeIssue[] {
  if (Array.isArray(value)) {
    return value.length === 0
      ? [errorIssue('structure', 'Array cannot be empty: leave the property out if it has no values', path)]
      : [];
  }
  if (value === '') {
    return [errorIssue('value', 'Value cannot be empty: leave the property out if it has no value', path)];
  }
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) {
    return [errorIssue('structure', 'Object cannot be empty: leave the property out if it has no content', path)];
  }
  return [];
}
