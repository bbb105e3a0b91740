import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { errorIssue } from './issues.js';

/**
 * R4 `id` datatype: https://hl7.org/fhir/R4/datatypes.html#id. Resource.id is declared as a plain
 * System.String in the R4 StructureDefinitions, so medplum never applies this regex to it.
 */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * Checks a resource's logical id against the R4 id datatype.
 * @param resource - A resource (root, contained or Bundle entry).
 * @param path - Its location.
 * @returns Issues found.
 */
export function checkResourceId(resource: Resource, path: string): OperationOutcomeIssue[] {
  const id: unknown = resource.id;
  if (id === undefined || id === null) {
    return [];
  }
  if (typeof id !== 'string') {
    return []; // wrong JSON type: medplum reports it
  }
  if (id.length > 64) {
    return [errorIssue('value', `Invalid resource id: too long (${id.length} characters, at most 64)`, `${path}.id`)];
  }
  if (!FHIR_ID.test(id)) {
    return [errorIssue('value', 'Invalid resource id: only A-Z, a-z, 0-9, "-" and "." are allowed', `${path}.id`)];
  }
  return [];
}
