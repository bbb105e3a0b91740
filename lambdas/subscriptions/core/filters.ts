import type { CodeableConcept, Reference, Resource } from '@medplum/fhirtypes';
import type { Topic } from './topics.js';

/**
 * A subscriber's filter: `Observation?patient=Patient/abc&_profile=...` as the Backport IG writes
 * `backport-filter-criteria` (STU 1.1), read as parameter / values pairs. Repeated parameters and
 * several filter strings are ANDed; a comma inside one value is OR, as in FHIR search.
 */
export interface FilterCriterion {
  readonly resource: string;
  readonly parameter: string;
  /** Any of these (OR). */
  readonly values: readonly string[];
}

/** Why a filter string cannot be used with a topic. */
export class FilterError extends Error {
  public override readonly name = 'FilterError';
}

const MAX_FILTER_CHARS = 1024;

/**
 * Parses one filter string against a topic: its resource type and parameters must be ones the topic
 * offers (canFilterBy); anything else is refused, never ignored (a silently dropped filter would send
 * the subscriber more than it asked for).
 * @param text - The extension's value.
 * @param topic - The topic subscribed to.
 * @returns The criteria.
 * @throws FilterError naming what is wrong.
 */
export function parseFilter(text: string, topic: Topic): FilterCriterion[] {
  if (text.length > MAX_FILTER_CHARS) throw new FilterError(`A filter is longer than ${MAX_FILTER_CHARS} characters`);
  const match = /^([A-Z][A-Za-z]+)\?(.+)$/.exec(text.trim());
  if (!match?.[1] || !match[2]) throw new FilterError('A filter is written Type?parameter=value[&parameter=value]');
  const resource = match[1];
  const out: FilterCriterion[] = [];
  for (const [parameter, value] of new URLSearchParams(match[2])) {
    if (!topic.filters.some((f) => f.resource === resource && f.parameter === parameter)) {
      const offered = topic.filters.map((f) => `${f.resource}?${f.parameter}`).join(', ');
      throw new FilterError(`Topic ${topic.id} cannot filter by ${resource}?${parameter}; it offers ${offered}`);
    }
    const values = value.split(',').map((v) => v.trim()).filter((v) => v.length > 0);
    if (values.length === 0) throw new FilterError(`Filter ${parameter} has no value`);
    out.push({ resource, parameter, values });
  }
  if (out.length === 0) throw new FilterError('A filter names no parameter');
  return out;
}

const reference = (r: Resource, ...paths: string[]): string | undefined => {
  for (const path of paths) {
    const ref = (r as unknown as Record<string, Reference | undefined>)[path]?.reference;
    if (typeof ref === 'string') return ref;
  }
  return undefined;
};

const codesOf = (concept: CodeableConcept | undefined): { system?: string; code?: string }[] => concept?.coding ?? [];

/** How each filter parameter the topics offer reads a resource. */
const EVALUATORS: Readonly<Record<string, (resource: Resource, value: string) => boolean>> = {
  patient: (r, value) => {
    const ref = reference(r, 'subject', 'for', 'patient', 'individual');
    return ref !== undefined && (ref === value || ref === `Patient/${value}`);
  },
  _profile: (r, value) => (r.meta?.profile ?? []).includes(value),
  state: (r, value) => codesOf((r as { valueCodeableConcept?: CodeableConcept }).valueCodeableConcept).some((c) => c.code === value),
  code: (r, value) => {
    const [system, code] = value.includes('|') ? value.split('|', 2) : [undefined, value];
    return codesOf((r as { code?: CodeableConcept }).code).some((c) => c.code === code && (system === undefined || system === '' || c.system === system));
  },
};

/**
 * Whether the layer can evaluate a filter parameter (a topic offering one it cannot is a defect of the topic file).
 * @param parameter - The parameter name.
 * @returns True when known.
 */
export function canEvaluate(parameter: string): boolean {
  return Object.hasOwn(EVALUATORS, parameter);
}

/**
 * Whether a focus resource passes every criterion (AND; each criterion's values OR).
 * @param resource - The focus.
 * @param criteria - The subscriber's criteria.
 * @returns True when it passes.
 */
export function passes(resource: Resource, criteria: readonly FilterCriterion[]): boolean {
  return criteria.every((c) => {
    if (c.resource !== resource.resourceType) return true;
    const evaluate = EVALUATORS[c.parameter];
    return evaluate !== undefined && c.values.some((v) => evaluate(resource, v));
  });
}
