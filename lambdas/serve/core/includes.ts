import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/**
 * `_include` (FHIR R4 search.html#include) for the references apps follow: an Observation's subject
 * and what it was derived from, a Task's focus and patient, a ResearchSubject's individual, each
 * clinical resource's patient. As data: the CapabilityStatement declares exactly these.
 * `_revinclude`: `Provenance:target` alone, the one reverse reference the store indexes (index-keys.ts
 * `targetPartition`), on every study type: where each resource came from.
 */
export const INCLUDES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Observation: { subject: 'subject', patient: 'subject', 'derived-from': 'derivedFrom' },
  Condition: { subject: 'subject', patient: 'subject' },
  Encounter: { subject: 'subject', patient: 'subject' },
  AllergyIntolerance: { patient: 'patient' },
  MedicationAdministration: { subject: 'subject', patient: 'subject' },
  MedicationRequest: { subject: 'subject', patient: 'subject' },
  MedicationStatement: { subject: 'subject', patient: 'subject' },
  ResearchSubject: { individual: 'individual', patient: 'individual' },
  Communication: { subject: 'subject', patient: 'subject' },
  Task: { focus: 'focus', patient: 'for' },
};

/** The `_revinclude`s every study type answers. */
export const REVINCLUDES: readonly string[] = ['Provenance:target'];

/**
 * Reads the `_revinclude` parameters of a search.
 * @param type - The searched type.
 * @param raw - The `_revinclude` values.
 * @returns Whether the Provenances targeting the matches are asked for; 400 for any other reverse include.
 */
export function revincludesProvenance(type: string, raw: string | string[] | undefined): boolean {
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  for (const value of values) {
    // `Provenance:target:{type}` names the searched type (or no type): the same reverse include.
    if (value !== 'Provenance:target' && value !== `Provenance:target:${type}`) {
      throw new OperationOutcomeError(badRequest(`_revinclude '${value.slice(0, 60)}' is not supported on ${type}: only ${REVINCLUDES.join(', ')}`, '_revinclude'));
    }
  }
  return values.length > 0;
}

/** One `_include` asked for: the element of the searched type whose references are followed. */
export interface Include {
  readonly param: string;
  readonly path: string;
  /** `Observation:subject:Patient`: only references to this type. */
  readonly target?: string;
}

/**
 * Reads the `_include` parameters of a search.
 * @param type - The searched type.
 * @param raw - The `_include` values.
 * @returns The includes; 400 for one that is not in INCLUDES.
 */
export function includesOf(type: string, raw: string | string[] | undefined): Include[] {
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return values.map((value) => {
    const [source, param, target, ...rest] = value.split(':');
    const path = source === type && param !== undefined && rest.length === 0 ? INCLUDES[type]?.[param] : undefined;
    if (path === undefined || (target !== undefined && !/^[A-Z][A-Za-z]+$/.test(target))) {
      throw new OperationOutcomeError(badRequest(`_include '${value.slice(0, 60)}' is not supported on ${type}`, '_include'));
    }
    return { param, path, ...(target ? { target } : {}) } as Include;
  });
}

/**
 * The `Type/id` references a page's resources make through the includes, each once, in order.
 * @param resources - The page's matches.
 * @param includes - The includes.
 * @returns `[type, id]` pairs (relative references only: the layer's own resources).
 */
export function includedReferences(resources: readonly Resource[], includes: readonly Include[]): [string, string][] {
  const seen = new Set<string>(resources.map((r) => `${r.resourceType}/${r.id ?? ''}`));
  const out: [string, string][] = [];
  for (const resource of resources) {
    for (const include of includes) {
      const value = (resource as unknown as Record<string, unknown>)[include.path];
      for (const ref of Array.isArray(value) ? value : [value]) {
        const reference = (ref as { reference?: unknown } | undefined)?.reference;
        const match = typeof reference === 'string' ? /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(reference) : null;
        if (!match || (include.target && match[1] !== include.target)) continue;
        const key = `${match[1]}/${match[2]}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push([match[1]!, match[2]!]);
      }
    }
  }
  return out;
}
