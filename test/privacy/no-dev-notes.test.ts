/**
 * Issue 12: what the layer publishes (its conformance resources, the model Libraries) and what it derives
 * carries no development note and no unfilled template. A published `name` once carried a path into the
 * developers' reference folder, and a prediction's note showed `{base}/CodeSystem/...` as written in the
 * model file.
 */
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadConformance } from '../../lambdas/commons/conformance/index.js';
import { assembleFeatures } from '../../lambdas/predict/core/features.js';
import { activeModel, loadModels, toLibrary } from '../../lambdas/predict/core/model-spec.js';
import { toObservation } from '../../lambdas/predict/core/predict.js';

/** Text a reader of a published or derived resource must never see. */
const DEV_TEXT: readonly [string, RegExp][] = [
  ['unfilled {base} placeholder', /\{base\}/],
  ["unfilled template braces", /\{\{|\$\{/],
  ['TODO', /\bTODO\b/],
  ['FIXME', /\bFIXME\b/],
  ['XXX', /\bXXX\b/],
  ['TBD', /\bTBD\b/],
  ['HACK', /\bHACK\b/],
  ['note to self', /note to self/i],
  ['a path into the developers\' reference folder', /shared\/reference\/|\.\.\/shared\//],
];

/** Every string of a resource, with where it is; base64 content decoded (a Library's model JSON). */
function strings(value: unknown, path: string, out: [string, string][] = []): [string, string][] {
  if (typeof value === 'string') {
    out.push([path, value]);
    if (path.endsWith('.data')) out.push([`${path} (decoded)`, Buffer.from(value, 'base64').toString('utf8')]);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => strings(v, `${path}[${i}]`, out));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) strings(v, `${path}.${k}`, out);
  }
  return out;
}

function devText(resources: readonly Resource[]): string[] {
  return resources.flatMap((r) =>
    strings(r, `${r.resourceType}/${r.id ?? ''}`).flatMap(([path, text]) =>
      DEV_TEXT.filter(([, re]) => re.test(text)).map(([what]) => `${path}: ${what}: ${text.slice(0, 120)}`),
    ),
  );
}

describe('No development notes or unfilled templates in what the layer publishes (issue 12)', () => {
  const conformance = loadConformance();

  it('in any conformance resource or model Library', () => {
    const libraries = loadModels().map((m) => toLibrary(m, conformance.base));
    expect(conformance.resources.length).toBeGreaterThan(50);
    expect(devText([...conformance.resources, ...libraries])).toEqual([]);
  });

  it('in a prediction, whose not-evaluable note names the missing features\' codes', () => {
    const model = activeModel(loadModels());
    expect(model).toBeDefined();
    const input = { base: conformance.base, subject: 'subject-1', resources: [], asOf: new Date('2031-01-01') };
    const observation = toObservation(input, model!, assembleFeatures(input, model!));
    // The note does name codes of the study's own systems, resolved.
    expect(JSON.stringify(observation.note)).toContain(`${conformance.base}/CodeSystem/`);
    expect(devText([observation])).toEqual([]);
  });

  it('catches what it is meant to catch', () => {
    expect(devText([{ resourceType: 'Group', id: 'g', name: 'x (codes from shared/reference/eligibility-codes.md)' } as Resource])).toHaveLength(1);
    expect(devText([{ resourceType: 'Observation', id: 'o', note: [{ text: 'no {base}/CodeSystem/x|y at week-4' }] } as unknown as Resource])).toHaveLength(1);
  });
});
