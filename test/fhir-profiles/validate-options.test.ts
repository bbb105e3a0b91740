import { describe, expect, it } from 'vitest';
import { loadConformance } from '../../lambdas/commons/conformance/index.js';

const conformance = loadConformance();
const base = conformance.base;

describe('Conformance.validateProfile options', () => {
  // A lab Observation whose only fault is a base-R4 one: an element that R4 does not define.
  const observation = {
    resourceType: 'Observation',
    id: 'x',
    meta: { source: 'urn:test', profile: [`${base}/StructureDefinition/study-lab-observation`] },
    identifier: [{ system: 'urn:test', value: 'Observation/x' }],
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '777-3' }] },
    subject: { reference: 'Patient/S-1' },
    effectiveDateTime: '2024-06-01',
    valueQuantity: { value: 150, unit: '10*3/uL', system: 'http://unitsofmeasure.org', code: '10*3/uL' },
    notAnR4Element: true,
  } as never;

  it('runs base R4 validation by default', () => {
    expect(conformance.validateProfile(observation, `${base}/StructureDefinition/study-lab-observation`).some((i) => i.severity === 'error')).toBe(true);
  });

  it('skips it with base: false, for resources built from already-validated parts', () => {
    expect(conformance.validateProfile(observation, `${base}/StructureDefinition/study-lab-observation`, { base: false })).toEqual([]);
  });
});
