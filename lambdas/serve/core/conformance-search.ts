import { badRequest, OperationOutcomeError, tryGetDataType } from '@medplum/core';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import type { Conformance } from '../../commons/conformance/index.js';
import { ensureDefinitions } from '../../commons/fhir/definitions.js';
import type { SearchParamType } from './search-parameters.js';

type Definitional = Resource & { url?: string; name?: string; status?: string };

const FILTERS: Record<string, (r: Definitional, value: string) => boolean> = {
  _id: (r, v) => v.split(',').includes(r.id ?? ''),
  url: (r, v) => r.url === v.split('|')[0],
  // FHIR string search: case-insensitive "starts with".
  name: (r, v) => (r.name ?? '').toLowerCase().startsWith(v.toLowerCase()),
  status: (r, v) => v.split(',').includes(r.status ?? ''),
};

const IGNORED = new Set(['_format', '_pretty', '_summary', '_count', '_total', '_elements']);

const PARAM_TYPES: readonly { readonly name: string; readonly type: SearchParamType }[] = [
  { name: '_id', type: 'token' },
  { name: 'url', type: 'uri' },
  { name: 'name', type: 'string' },
  { name: 'status', type: 'token' },
];

/**
 * The search parameters a conformance type answers: `_id`, and `url`, `name` and `status` where the
 * type has that element (ResearchStudy has no `url` or `name`, ObservationDefinition none of them).
 * @param type - The conformance type.
 * @returns Its parameters.
 */
export function conformanceSearchParams(type: string): readonly { readonly name: string; readonly type: SearchParamType }[] {
  ensureDefinitions([type]);
  const elements = tryGetDataType(type)?.elements ?? {};
  return PARAM_TYPES.filter((p) => p.name === '_id' || Object.hasOwn(elements, p.name));
}

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
    const filter = Object.hasOwn(FILTERS, key) && conformanceSearchParams(type).some((p) => p.name === key) ? FILTERS[key] : undefined;
    if (!filter) {
      throw new OperationOutcomeError(badRequest(`Search parameter '${key.slice(0, 40)}' is not supported on ${type}`, key));
    }
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      tests.push((r) => filter(r, value));
    }
  }
  return conformance.resources.filter((r) => r.resourceType === type && tests.every((t) => t(r as Definitional)));
}
