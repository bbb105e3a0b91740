import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import type { Conformance } from '../../commons/conformance/index.js';

type Definitional = Resource & { url?: string; name?: string; status?: string };

const FILTERS: Record<string, (r: Definitional, value: string) => boolean> = {
  _id: (r, v) => v.split(',').includes(r.id ?? ''),
  url: (r, v) => r.url === v.split('|')[0],
  // FHIR string search: case-insensitive "starts with".
  name: (r, v) => (r.name ?? '').toLowerCase().startsWith(v.toLowerCase()),
  status: (r, v) => v.split(',').includes(r.status ?? ''),
};

const IGNORED = new Set(['_format', '_pretty', '_summary', '_count', '_total']);

/**
 * Searches the conformance resources of one type by `_id`, `url`, `name` and `status`.
 * @param conformance - The loaded conformance resources.
 * @param type - The searched type.
 * @param query - The query parameters.
 * @returns The matching resources.
 */
export function searchConformance(
  conformance: Conformance,
  type: ResourceType,
  query: Readonly<Record<string, string | string[] | undefined>>,
): Resource[] {
  const tests: ((r: Definitional) => boolean)[] = [];
  for (const [key, raw] of Object.entries(query)) {
    if (IGNORED.has(key) || raw === undefined) {
      continue;
    }
    const filter = Object.hasOwn(FILTERS, key) ? FILTERS[key] : undefined;
    if (!filter) {
      throw new OperationOutcomeError(badRequest(`Search parameter '${key.slice(0, 40)}' is not supported on ${type}`, key));
    }
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      tests.push((r) => filter(r, value));
    }
  }
  return conformance.resources.filter((r) => r.resourceType === type && tests.every((t) => t(r as Definitional)));
}
