import { validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConformance, type Conformance } from '../../lambdas/commons/conformance/index.js';
import { BASE, clean, cs, LOINC, profileUrl, RXNORM, UCUM, VALID } from './samples.js';

let conformance: Conformance;
beforeAll(() => {
  conformance = loadConformance();
});

const texts = (issues: OperationOutcomeIssue[]): string[] => issues.map((i) => `${i.expression?.[0] ?? ''}: ${i.details?.text ?? ''}`);
// Fixtures are mutated freely to break one rule at a time.
type Json = any;
const errors = (r: Json, profile: string): string[] =>
  texts(conformance.validateProfile(clean(r as Resource), profileUrl(profile)).filter((i) => i.severity === 'error'));
const first = (profile: string): Json => clean(VALID[profile]![0]!);
const nth = (profile: string, n: number): Json => clean(VALID[profile]![n]!);

describe('Study profiles', () => {
  it('has a valid sample for every resource profile', () => {
    const profiles = conformance.resources.filter((r): r is StructureDefinition => r.resourceType === 'StructureDefinition' && r.type !== 'Extension');
    expect(profiles.map((p) => p.id).sort()).toEqual(Object.keys(VALID).sort());
  });

  for (const [profile, samples] of Object.entries(VALID)) {
    it(`accepts the valid samples of ${profile}`, () => {
      for (const sample of samples) {
        expect(errors(sample, profile)).toEqual([]);
      }
    });

    it(`accepts the valid samples of ${profile} in medplum's own profile validation (snapshot)`, () => {
      const sd = conformance.byUrl<StructureDefinition>(profileUrl(profile))!;
      for (const sample of samples) {
        expect(() => validateResource(clean(sample), { profile: sd })).not.toThrow();
      }
    });
  }

  it('rejects a mapped Observation without meta.source or identifier', () => {
    const r = first('study-lab-observation');
    delete r.identifier;
    r.meta = { versionId: '1' };
    expect(errors(r, 'study-lab-observation')).toEqual(
      expect.arrayContaining([expect.stringContaining('Observation.meta.source: Missing required'), expect.stringContaining('Observation.identifier: Missing required')]),
    );
  });

  it("rejects a ResearchSubject with an arm, a consent, another study or a second identifier (the EHR's, issue 11)", () => {
    const r = first('study-research-subject');
    r.assignedArm = 'Belimumab 10 mg/kg';
    r.consent = { reference: 'Consent/c-1' };
    r.study = { reference: 'ResearchStudy/other' };
    r.identifier = [...(r.identifier as unknown[]), { system: 'http://hospital.example.org/mrn', value: 'MRN-1' }];
    const found = errors(r, 'study-research-subject').join('\n');
    for (const path of ['ResearchSubject.assignedArm', 'ResearchSubject.consent', 'ResearchSubject.study.reference', 'ResearchSubject.identifier']) {
      expect(found).toContain(path);
    }
  });

  it('rejects a lab code outside the study ValueSet', () => {
    const r = first('study-lab-observation');
    r.code = { coding: [{ system: LOINC, code: '2093-3' }] };
    expect(errors(r, 'study-lab-observation').join('\n')).toContain('not in the required ValueSet');
  });

  it('rejects a lab quantity that is not UCUM or not in the canonical unit', () => {
    const notUcum = first('study-lab-observation');
    notUcum.valueQuantity = { value: 85, unit: '10^9/L', system: 'http://hospital.example.org/units', code: '10^9/L' };
    expect(errors(notUcum, 'study-lab-observation').join('\n')).toContain('study-lab-observation-ucum');
    const notCanonical = first('study-lab-observation');
    notCanonical.valueQuantity = { value: 85, unit: '10*9/L', system: UCUM, code: '10*9/L' };
    expect(errors(notCanonical, 'study-lab-observation').join('\n')).toContain("canonical unit '10*3/uL'");
  });

  it('rejects a B-cell result in a unit other than % or /uL, and a value type other than Quantity', () => {
    const r = first('study-bcell-observation');
    r.valueQuantity = { value: 0.085, unit: '1', system: UCUM, code: '1' };
    expect(errors(r, 'study-bcell-observation').join('\n')).toContain('ValueSet/bcell-units');
    delete r.valueQuantity;
    r.valueString = '8.5%';
    expect(errors(r, 'study-bcell-observation').join('\n')).toContain('Type string is not allowed');
  });

  it('rejects a vital sign in degrees Fahrenheit (stored values are canonical)', () => {
    const r = first('study-vital-sign-observation');
    r.valueQuantity = { value: 101.1, unit: '[degF]', system: UCUM, code: '[degF]' };
    expect(errors(r, 'study-vital-sign-observation').join('\n')).toContain('ValueSet/vital-units');
  });

  it('rejects disease-activity values of the wrong type for their code', () => {
    const descriptor = nth('study-disease-activity-observation', 0);
    delete descriptor.valueBoolean;
    descriptor.valueInteger = 4;
    expect(errors(descriptor, 'study-disease-activity-observation').join('\n')).toContain('sda-1');
    const total = nth('study-disease-activity-observation', 1);
    total.valueInteger = 106;
    expect(errors(total, 'study-disease-activity-observation').join('\n')).toContain('sda-2');
    const pga = nth('study-disease-activity-observation', 3);
    pga.valueQuantity = { value: 3.5, unit: '{score}', system: UCUM, code: '{score}' };
    expect(errors(pga, 'study-disease-activity-observation').join('\n')).toContain('sda-4');
    const bilag = nth('study-disease-activity-observation', 2);
    bilag.valueCodeableConcept = { coding: [{ system: cs('bilag-2004'), code: 'F' }] };
    expect(errors(bilag, 'study-disease-activity-observation').join('\n')).toContain('sda-3');
  });

  it('rejects an unknown study visit in the study-visit extension', () => {
    const r = first('study-lab-observation');
    r.extension[0].valueCoding.code = 'week-99';
    expect(errors(r, 'study-lab-observation').join('\n')).toContain('ValueSet/study-visits');
  });

  it('requires the mg dose on a belimumab administration and keeps mg/kg for belimumab', () => {
    const r = first('study-medication-administration');
    r.dosage = { route: { text: 'IV' } };
    expect(errors(r, 'study-medication-administration').join('\n')).toContain('sma-1');
    const other = first('study-medication-administration');
    other.medicationCodeableConcept = { coding: [{ system: RXNORM, code: '8640' }] };
    expect(errors(other, 'study-medication-administration').join('\n')).toContain('sma-2');
  });

  it('rejects direct identifiers on a study patient', () => {
    const r = first('study-patient');
    r.name = [{ family: 'Wang' }];
    r.telecom = [{ system: 'phone', value: '0086-000' }];
    r.identifier = [{ system: 'urn:hospital:mrn', value: '12345' }];
    const found = errors(r, 'study-patient').join('\n');
    expect(found).toContain('Patient.name: Element is not allowed');
    expect(found).toContain('Patient.telecom: Element is not allowed');
    expect(found).toContain('Patient.identifier.system: Value must be exactly');
  });

  it('rejects derived results with a wrong code or outcome', () => {
    const sri = first('sri4-response');
    sri.valueCodeableConcept = { coding: [{ system: cs('study-assessments'), code: 'eligible' }] };
    expect(errors(sri, 'sri4-response').join('\n')).toContain('ValueSet/sri-outcomes');
    const score = first('sledai-2k-score');
    score.code = { coding: [{ system: cs('sledai-2k'), code: 'fever' }] };
    delete score.extension;
    const found = errors(score, 'sledai-2k-score').join('\n');
    expect(found).toContain('Observation.code: Value does not match the pattern');
    expect(found).toContain('Observation.extension:studyVisit: Missing required');
    const screen = first('eligibility-screening');
    screen.component[0].code = { coding: [{ system: cs('study-assessments'), code: 'responder' }] };
    expect(errors(screen, 'eligibility-screening').join('\n')).toContain('ValueSet/eligibility-criteria');
    const prediction = first('response-prediction');
    prediction.component[0].valueQuantity.value = 72;
    expect(errors(prediction, 'response-prediction').join('\n')).toContain('rp-1');
  });

  it('reports base R4 errors too, and a profile of another resource type', () => {
    const r = first('study-condition');
    r.onsetDateTime = 'yesterday';
    expect(errors(r, 'study-condition').join('\n')).toContain('Invalid dateTime');
    expect(errors(first('study-condition'), 'study-lab-observation').join('\n')).toContain('is for Observation');
  });

  it('validates without re-parsing the profile (under 5 ms per resource once warm)', () => {
    const sample = first('study-lab-observation');
    conformance.validateProfile(sample, profileUrl('study-lab-observation'));
    const start = performance.now();
    for (let i = 0; i < 50; i++) {
      conformance.validateProfile(sample, profileUrl('study-lab-observation'));
    }
    expect((performance.now() - start) / 50).toBeLessThan(5);
  });

  it('uses the configured base for the profile URLs', () => {
    expect(BASE).toBe(conformance.base);
  });
});
