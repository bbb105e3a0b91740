/**
 * Regenerates the snapshots of fhir-profiles/StructureDefinition/*.json from their differentials, and
 * fhir-profiles/generated/base-r4.json (the trimmed base R4 definitions the Lambdas index at cold
 * start). Run after editing a profile: `npx tsx scripts/build-snapshots.ts`.
 * test/fhir-profiles fails while a committed snapshot is out of date.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE_DEFINITIONS_FILE } from '../lambdas/commons/conformance/base-definitions.js';
import { generateArtifacts } from '../lambdas/commons/conformance/generate.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fhir-profiles');
const { baseDefinitions, profiles } = generateArtifacts(dir);
for (const [file, sd] of profiles) {
  writeFileSync(file, `${JSON.stringify(sd, null, 2)}\n`);
  console.log(`snapshot ${relative(dir, file)} (${sd.snapshot?.element?.length ?? 0} elements)`);
}
const baseFile = join(dir, BASE_DEFINITIONS_FILE);
mkdirSync(dirname(baseFile), { recursive: true });
// One compact line: a generated artifact nobody edits, loaded at every cold start.
writeFileSync(baseFile, `${JSON.stringify(baseDefinitions)}\n`);
console.log(`base definitions ${relative(dir, baseFile)} (${baseDefinitions.entry?.length ?? 0} StructureDefinitions)`);
