import { validateResource } from '@medplum/core';
import type { Observation, StructureDefinition } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConformance, type Conformance } from '../../../lambdas/commons/conformance/index.js';
import { BASE, rules, SubjectBuilder } from './fixtures.js';

// The sledai-2k-score profile accepts what the derivation writes: a complete score with its total and a
// partial score (D3) with no total, a dataAbsentReason and a component per missing or undecided
// descriptor (D4, D5).

const PROFILE = `${BASE}/StructureDefinition/sledai-2k-score`;
let conformance: Conformance;
beforeAll(() => {
  conformance = loadConformance();
});

const errors = (o: Observation): string[] =>
  conformance
    .validateProfile(o, PROFILE)
    .filter((i) => i.severity === 'error')
    .map((i) => `${i.expression?.[0] ?? ''}: ${i.details?.text ?? ''}`);

function derived(build: (b: SubjectBuilder) => void): Observation {
  const b = new SubjectBuilder();
  build(b);
  const { observation } = b.sledai();
  if (!observation) {
    throw new Error('no score');
  }
  return observation;
}

const complete = (): Observation => derived((b) => b.visit('week-0', { present: ['arthritis'] }));
const partial = (): Observation =>
  derived((b) => {
    const date = b.visitDate('week-0');
    b.descriptor('week-0', date, 'rash', true);
    b.lab(date, '4498-2', 8, 'mg/dL');
    b.lab(date, '6690-2', 2.5, '10*3/uL');
    b.statement('1256', 'azathioprine', 100, b.day(-60));
  });

describe('Profile sledai-2k-score: complete and partial scores (D3)', () => {
  it('accepts a complete score and a partial one with missing and undecided descriptors', () => {
    const full = complete();
    const part = partial();
    expect(full.valueInteger).toBe(4);
    expect(part.valueInteger).toBeUndefined();
    expect(part.component?.some((c) => c.interpretation?.some((i) => i.coding?.[0]?.code === 'descriptor-undecided'))).toBe(true);
    expect(part.component?.some((c) => c.interpretation?.some((i) => i.coding?.[0]?.code === 'descriptor-missing'))).toBe(true);
    for (const o of [full, part]) {
      expect(o.meta?.profile).toEqual([PROFILE]);
      expect(errors(o)).toEqual([]);
    }
  });

  it("accepts both in medplum's own validation of the snapshot", () => {
    const sd = conformance.byUrl<StructureDefinition>(PROFILE);
    expect(sd).toBeDefined();
    for (const o of [complete(), partial()]) {
      expect(() => validateResource(o, { profile: sd })).not.toThrow();
    }
  });

  it('rejects a score with both a total and a dataAbsentReason, or with neither (sss-2)', () => {
    const both = complete();
    both.dataAbsentReason = { coding: [rules.sledai.completeness.totalAbsentReason] };
    expect(errors(both).join('\n')).toMatch(/sss-2|obs-6/);
    const neither = partial();
    delete neither.dataAbsentReason;
    expect(errors(neither).join('\n')).toContain('sss-2');
  });

  it('rejects a partial score that names no missing or undecided descriptor (sss-3)', () => {
    const o = partial();
    o.component = o.component?.filter((c) => c.dataAbsentReason === undefined);
    expect(errors(o).join('\n')).toContain('sss-3');
  });

  it('rejects a total above 105 (sss-1)', () => {
    const o = complete();
    o.valueInteger = 106;
    expect(errors(o).join('\n')).toContain('sss-1');
  });
});
