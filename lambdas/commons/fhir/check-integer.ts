import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { errorIssue } from './issues.js';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/**
 * R4 integer, positiveInt and unsignedInt are 32-bit (https://hl7.org/fhir/R4/datatypes.html#integer);
 * medplum checks integrality and sign but not the range.
 * @param value - A number of an integer type.
 * @param path - Its location.
 * @returns Issues found.
 */
export function checkIntegerRange(value: unknown, path: string): OperationOutcomeIssue[] {
  if (typeof value === 'number' && Number.isInteger(value) && (value < INT32_MIN || value > INT32_MAX)) {
    return [errorIssue('value', 'Integer value is outside the 32-bit range of the FHIR integer types', path)];
  }
  return [];
}
