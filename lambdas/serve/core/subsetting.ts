import { badRequest, OperationOutcomeError, tryGetDataType } from '@medplum/core';
import type { Coding, Resource } from '@medplum/fhirtypes';
import { ensureDefinitions } from '../../commons/fhir/definitions.js';

/**
 * `_summary` and `_elements` (FHIR R4 search.html#summary, #elements), on reads and searches alike.
 * A subsetted resource is tagged SUBSETTED so that no client takes it for the whole and writes it back.
 */

/** The tag FHIR R4 prescribes for a resource that is not complete (v3-ObservationValue#SUBSETTED). */
export const SUBSETTED: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };

/** How a resource is to be cut: nothing, a summary mode, or a list of elements. */
export type Subset = { kind: 'full' } | { kind: 'summary' | 'text' | 'data' } | { kind: 'elements'; names: ReadonlySet<string> };

const SUMMARY_MODES = new Set(['true', 'false', 'text', 'data', 'count']);
const ELEMENT_NAME = /^[a-z][A-Za-z0-9]*$/;

/**
 * Reads `_summary` and `_elements` (`_summary=count` is the caller's: it answers no resources).
 * @param query - The query parameters.
 * @returns The subset asked for.
 */
export function subsetOf(query: Readonly<Record<string, string | string[] | undefined>>): Subset {
  const summary = single(query._summary, '_summary');
  const elements = single(query._elements, '_elements');
  if (summary !== undefined && !SUMMARY_MODES.has(summary)) {
    throw new OperationOutcomeError(badRequest(`_summary must be one of true, false, text, data, count`, '_summary'));
  }
  if (summary !== undefined && summary !== 'false' && elements !== undefined) {
    throw new OperationOutcomeError(badRequest('_summary and _elements cannot be combined', '_elements'));
  }
  if (elements !== undefined) {
    const names = elements.split(',').map((e) => e.trim()).filter((e) => e.length > 0);
    const bad = names.find((n) => !ELEMENT_NAME.test(n));
    if (names.length === 0 || bad !== undefined) {
      throw new OperationOutcomeError(badRequest(`_elements must list element names of the resource${bad ? `, not '${bad.slice(0, 40)}'` : ''}`, '_elements'));
    }
    return { kind: 'elements', names: new Set(names) };
  }
  if (summary === 'true') return { kind: 'summary' };
  if (summary === 'text' || summary === 'data') return { kind: summary };
  return { kind: 'full' };
}

function single(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1) throw new OperationOutcomeError(badRequest(`${name} may be given once`, name));
    return value[0];
  }
  return value;
}

/** Kept whatever the subset: what makes the resource a resource and tells a client what it holds. */
const ALWAYS = new Set(['resourceType', 'id', 'meta']);

/**
 * Cuts a resource to a subset, tagging it SUBSETTED when anything was left out.
 * @param resource - The whole resource.
 * @param subset - The subset.
 * @returns The resource, or a subsetted copy.
 */
export function applySubset<T extends Resource>(resource: T, subset: Subset): T {
  if (subset.kind === 'full') return resource;
  const keep = keeper(resource.resourceType, subset);
  const record = resource as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  let dropped = false;
  for (const [key, value] of Object.entries(record)) {
    if (ALWAYS.has(key) || keep(key)) out[key] = value;
    else dropped = true;
  }
  if (!dropped) return resource;
  const meta = resource.meta ?? {};
  const tags = (meta.tag ?? []).filter((t) => !(t.system === SUBSETTED.system && t.code === SUBSETTED.code));
  out.meta = { ...meta, tag: [...tags, SUBSETTED] };
  return out as T;
}

function keeper(type: string, subset: Exclude<Subset, { kind: 'full' }>): (key: string) => boolean {
  if (subset.kind === 'data') return (key) => key !== 'text';
  if (subset.kind === 'elements') {
    // Mandatory elements stay, so that the subset is still a valid resource (search.html#elements).
    const mandatory = schema(type).mandatory;
    return (key) => subset.names.has(elementName(key)) || mandatory.has(elementName(key));
  }
  const { summary, mandatory } = schema(type);
  if (subset.kind === 'text') return (key) => key === 'text' || mandatory.has(elementName(key));
  return (key) => summary.has(elementName(key)) || mandatory.has(elementName(key));
}

/** `valueQuantity` is the element `value[x]`, which the schema names `value`. */
function elementName(key: string): string {
  return choiceStems.get(key) ?? key;
}

/** `valueQuantity` → `value`, for every choice element of the types read so far. */
const choiceStems = new Map<string, string>();
const schemas = new Map<string, { summary: ReadonlySet<string>; mandatory: ReadonlySet<string> }>();

function schema(type: string): { summary: ReadonlySet<string>; mandatory: ReadonlySet<string> } {
  let found = schemas.get(type);
  if (!found) {
    ensureDefinitions([type]);
    const dataType = tryGetDataType(type);
    for (const [name, element] of Object.entries(dataType?.elements ?? {})) {
      if (!name.endsWith('[x]')) continue;
      const stem = name.slice(0, -3);
      for (const t of element.type) choiceStems.set(stem + t.code.charAt(0).toUpperCase() + t.code.slice(1), stem);
    }
    found = { summary: new Set(dataType?.summaryProperties ?? []), mandatory: new Set(dataType?.mandatoryProperties ?? []) };
    schemas.set(type, found);
  }
  return found;
}
