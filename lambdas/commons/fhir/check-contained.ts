import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { errorIssue } from './issues.js';

/**
 * Collects every string starting with '#' inside a value (references, canonicals, uris), skipping
 * narrative XHTML, whose links are not references.
 */
function collectLocalRefs(value: unknown, out: Set<string>): void {
  if (typeof value === 'string') {
    if (value.startsWith('#')) {
      out.add(value);
    }
  } else if (Array.isArray(value)) {
    for (const item of value) {
      collectLocalRefs(item, out);
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (key !== 'div') {
        collectLocalRefs(v, out);
      }
    }
  }
}

/**
 * dom-3 (https://hl7.org/fhir/R4/domainresource.html#invs): a contained resource SHALL be referenced
 * from elsewhere in the containing resource, or SHALL refer to the containing resource ('#').
 * medplum skips dom-3 because its FHIRPath needs descendants().
 * @param resource - A resource that may have contained resources.
 * @param path - Its location.
 * @returns Issues found.
 */
export function checkContainedReferenced(resource: Resource, path: string): OperationOutcomeIssue[] {
  const contained: unknown = (resource as { contained?: unknown }).contained;
  if (!Array.isArray(contained) || contained.length === 0) {
    return [];
  }
  const refs = new Set<string>();
  collectLocalRefs(resource, refs);
  const issues: OperationOutcomeIssue[] = [];
  contained.forEach((c: unknown, i) => {
    if (typeof c !== 'object' || c === null) {
      return;
    }
    const id = (c as { id?: unknown }).id;
    if (typeof id === 'string' && refs.has('#' + id)) {
      return;
    }
    const own = new Set<string>();
    collectLocalRefs(c, own);
    if (own.has('#')) {
      return;
    }
    issues.push(
      errorIssue(
        'invariant',
        'Constraint failed: dom-3: the contained resource is not referenced from elsewhere in the containing resource, nor does it refer to the containing resource',
        `${path}.contained[${i}]`
      )
    );
  });
  return issues;
}
