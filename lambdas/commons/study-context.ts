import type { Coding, ConceptMap, ObservationDefinition, ResearchStudy } from '@medplum/fhirtypes';
import type { Config } from './config.js';
import { loadConformance, type Conformance } from './conformance/index.js';
import type { AnnotationRules } from '../ingest/core/annotate.js';

const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

/**
 * The study facts the ingest reads from fhir-profiles/: visit windows (the schedule PlanDefinition),
 * the study drug (ResearchStudy.focus), and the body-weight code (its ObservationDefinition).
 * @param conformance - The loaded conformance resources.
 * @returns The annotation rules.
 */
export function annotationRules(conformance: Conformance): AnnotationRules {
  const study = conformance.resources.find((r): r is ResearchStudy => r.resourceType === 'ResearchStudy');
  const studyDrug = study?.focus?.flatMap((f) => f.coding ?? []).find((c) => c.system === RXNORM);
  if (!studyDrug) {
    throw new Error('The ResearchStudy names no RxNorm study drug in focus');
  }
  const bodyWeight = conformance.get<ObservationDefinition>('ObservationDefinition', 'loinc-29463-7')?.code.coding?.[0];
  if (!bodyWeight) {
    throw new Error('No ObservationDefinition loinc-29463-7 (body weight)');
  }
  return { base: conformance.base, windows: conformance.visitWindows(), studyDrug, bodyWeight: bodyWeight satisfies Coding };
}

/**
 * Free-text unit → UCUM code, from the ConceptMap `unit-aliases` (what the hospital writes for a
 * unit, such as `mg/24h`, to the UCUM code it means).
 * @param conformance - The loaded conformance resources.
 * @returns The alias table (empty when the map is absent).
 */
export function unitAliases(conformance: Conformance): ReadonlyMap<string, string> {
  const map = conformance.get<ConceptMap>('ConceptMap', 'unit-aliases');
  const pairs = (map?.group ?? []).flatMap((g) =>
    (g.element ?? []).flatMap((e) => (e.code && e.target?.[0]?.code ? [[e.code, e.target[0].code] as const] : [])),
  );
  return new Map(pairs);
}

/**
 * The study's conformance resources as a function reads them: from FHIR_PROFILES_DIR (where a bundled
 * Lambda ships fhir-profiles/) rebased to CANONICAL_BASE, loaded once per process.
 * @param config - The function's configuration.
 * @returns The loaded conformance.
 */
export function studyConformance(config: Pick<Config, 'CANONICAL_BASE' | 'FHIR_PROFILES_DIR'>): Conformance {
  const dir = config.FHIR_PROFILES_DIR;
  return loadConformance({ base: config.CANONICAL_BASE, ...(dir ? { dir } : {}) });
}

/** Where a study subfolder (derivation/, eligibility/, models/) is, or undefined for the module's default. */
export function studyDataDir(config: Pick<Config, 'FHIR_PROFILES_DIR'>, folder: string): string | undefined {
  return config.FHIR_PROFILES_DIR ? `${config.FHIR_PROFILES_DIR}/${folder}` : undefined;
}
