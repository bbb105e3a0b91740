import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { validateCompiled } from '../../../../lambdas/commons/fhir/compiled/validate-compiled.js';
import { isBlocking } from '../../../../lambdas/commons/fhir/issues.js';
import { parseFhirJson } from '../../../../lambdas/commons/fhir/parse-body.js';
import { validateBase, validateBaseReference } from '../../../../lambdas/commons/fhir/validate-base.js';
import { DATA_DIR } from './data.js';

/*
 * Differential test of the compiled validators against the validation as it was, on invalid input: the
 * public files hardly break the rules whose checks were rewritten (primitive formats of choice elements,
 * `_` partners, nulls, numbers out of range), so each valid official R4 example is broken at one random
 * place (a value replaced by one of the kinds below, a property removed, an unknown property added) and
 * both must give the same verdict (FHIR R4 JSON representation and datatypes). Seeded: a failure names
 * the mutation, and reruns the same.
 */

const EXAMPLES = join(DATA_DIR, 'hl7-fhir-r4-examples');
const seeds = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.json') && f !== 'package.json')
  .map((f) => parseFhirJson(readFileSync(join(EXAMPLES, f))))
  .filter((r) => JSON.stringify(r).length < 30_000 && !validateBaseReference(r).some(isBlocking));

const VALUES: unknown[] = [
  '', ' ', 'x y', 'a  b', '2020-13-01', '2020-02-30', '2020-01-01T10:00', '2020', 'T', '10:00', 'urn:uuid:1', 'Patient/x',
  '<div>x</div>', '<div xmlns="http://www.w3.org/1999/xhtml">x</div>', '\u0001', 12, 1.5, -1, 0, 2147483648, Infinity, true, null,
  {}, [], ['x'], [null], [{}], { a: 1 },
];

function random(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

type Key = string | number;
function locations(v: unknown, at: Key[] = [], out: Key[][] = []): Key[][] {
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) {
      const key = Array.isArray(v) ? Number(k) : k;
      out.push([...at, key]);
      locations((v as Record<Key, unknown>)[key], [...at, key], out);
    }
  }
  return out;
}

describe('Compiled validation on broken official examples', () => {
  it('starts from hundreds of valid examples', () => {
    expect(seeds.length).toBeGreaterThan(80);
  });

  it('gives the verdict the validation as it was gives, on 1,500 seeded mutants', () => {
    const next = random(4893161);
    const pick = <T,>(a: readonly T[]): T => a[Math.floor(next() * a.length)] as T;
    const differing: string[] = [];
    let rejected = 0;
    for (let i = 0; i < 1_500; i++) {
      const resource = structuredClone(pick(seeds)) as unknown as Record<Key, unknown>;
      const where = pick(locations(resource));
      let parent = resource;
      for (const k of where.slice(0, -1)) parent = parent[k] as Record<Key, unknown>;
      const last = where[where.length - 1] as Key;
      const op = next();
      let what: string;
      if (op < 0.15 && !Array.isArray(parent)) {
        delete parent[last];
        what = 'removed';
      } else if (op < 0.25 && !Array.isArray(parent)) {
        parent[`zz${String(last)}`] = 1;
        what = 'unknown property beside';
      } else {
        const value = pick(VALUES);
        parent[last] = structuredClone(value);
        what = `set to ${String(JSON.stringify(value))}`;
      }
      const before = validateBaseReference(resource as unknown as Resource).some(isBlocking);
      const now = validateCompiled(resource as unknown as Resource, { maxIssues: 100 }).some(isBlocking);
      if (before) rejected++;
      if (before !== now) differing.push(`${String(resource.resourceType)} ${where.join('.')} ${what}: was ${before ? 'rejected' : 'accepted'}`);
    }
    console.log(`compiled validation: ${1_500 - differing.length} of 1,500 mutants agree (${rejected} rejected)`);
    expect(rejected).toBeGreaterThan(500);
    expect(differing).toEqual([]);
  });

  it('rejects a resource where a datatype belongs, which the validation as it was took for a contained resource', () => {
    // R4 JSON: a CodeableConcept has no resourceType property; the HL7 validator reports it unknown.
    const observation = { resourceType: 'Observation', status: 'final', code: { resourceType: 'Patient', id: 'x' } } as unknown as Resource;
    expect(validateBaseReference(observation).some(isBlocking)).toBe(false);
    expect(validateCompiled(observation, { maxIssues: 100 }).filter(isBlocking).map((i) => i.expression?.[0])).toEqual(['Observation.code.resourceType']);
    expect(validateBase(observation).some(isBlocking)).toBe(true);
  });
});
