import { validateResource } from '@medplum/core';
import type { Observation, StructureDefinition } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConformance, type Conformance } from '../../../lambdas/commons/conformance/index.js';
import { BASE, find, grades, SubjectBuilder } from './fixtures.js';

// The sri4-response profile accepts what the derivation writes for the study decisions: the baseline
// of each component with its date (D1), the decision behind each reason (D6-D9), the missing component
// named (D8), the ITT marks of the primary endpoint (D9) and a preliminary response (D10).

const PROFILE = `${BASE}/StructureDefinition/sri4-response`;
let conformance: Conformance;
beforeAll(() => {
  conformance = loadConformance();
});

const errors = (o: Observation): string[] =>
  conformance
    .validateProfile(o, PROFILE)
    .filter((i) => i.severity === 'error')
    .map((i) => `${i.expression?.[0] ?? ''}: ${i.details?.text ?? ''}`);

function cases(): Observation[] {
  const ok = new SubjectBuilder();
  ok.belimumab(ok.day(0));
  ok.visit('week-0', { present: ['arthritis', 'proteinuria', 'rash'], bilag: grades('C'), pga: 1.5 });
  ok.visit('week-24', { present: ['arthritis', 'rash'], bilag: grades('C'), pga: 1.5 });
  ok.visit('week-48', { present: ['arthritis', 'rash'], bilag: grades('C') });
  ok.statement('8640', 'prednisone', 10, ok.day(160));
  ok.requestDose('8640', 'prednisone', 20, ok.day(160));
  const low = new SubjectBuilder();
  low.belimumab(low.day(0));
  low.visit('week-0', { present: ['alopecia', 'fever'], bilag: grades('C'), pga: 1.5 });
  low.researchSubject('withdrawn', low.day(100));
  const okOut = ok.derive('2025-08-01');
  const lowOut = low.derive('2025-08-01');
  return [find(okOut, 'sri4', 'week-24'), find(okOut, 'sri4', 'week-48'), find(lowOut, 'sri4', 'week-48')];
}

describe('Profile sri4-response: the decisions as the derivation writes them', () => {
  it('accepts a preliminary responder, a missing-component non-responder and an ITT non-responder', () => {
    const [preliminary, missing, itt] = cases();
    expect(preliminary?.status).toBe('preliminary');
    expect(missing?.valueCodeableConcept?.coding?.[0]?.code).toBe('non-responder');
    expect(itt?.category?.map((c) => c.coding?.[0]?.code)).toContain('itt-non-responder');
    for (const o of [preliminary, missing, itt]) {
      expect(o?.meta?.profile).toEqual([PROFILE]);
      expect(errors(o as Observation)).toEqual([]);
    }
  });

  it("passes medplum's own validation of the snapshot", () => {
    const sd = conformance.byUrl<StructureDefinition>(PROFILE);
    expect(sd).toBeDefined();
    for (const o of cases()) {
      expect(() => validateResource(o, { profile: sd })).not.toThrow();
    }
  });
});
