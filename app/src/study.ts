import type { CodeableConcept, CodeSystem, CodeSystemConcept, Extension, Observation, Resource } from '@medplum/fhirtypes';
import bilagCodes from '../../fhir-profiles/CodeSystem/bilag-2004.json' with { type: 'json' };
import sledaiCodes from '../../fhir-profiles/CodeSystem/sledai-2k.json' with { type: 'json' };
import assessmentCodes from '../../fhir-profiles/CodeSystem/study-assessments.json' with { type: 'json' };

/**
 * The study's code systems, matched by their path under the canonical base so that the app runs on
 * any deployment's base (`{base}/CodeSystem/study-assessments`...).
 */
export const SYSTEMS = {
  assessments: '/CodeSystem/study-assessments',
  sledai: '/CodeSystem/sledai-2k',
  bilag: '/CodeSystem/bilag-2004',
  bcell: '/CodeSystem/b-cell-phenotypes',
  visit: '/CodeSystem/study-visit',
  loinc: 'http://loinc.org',
} as const;

/** The labs the subject page plots: complement, anti-dsDNA (LOINC). B-cell markers are found by profile. */
export const LABS: readonly { readonly code: string; readonly label: string }[] = [
  { code: '4485-9', label: 'Complement C3' },
  { code: '4498-2', label: 'Complement C4' },
  { code: '5130-0', label: 'Anti-dsDNA antibodies' },
];

/** Ordered study visits (the visit-schedule PlanDefinition's codes) for axes and tables. */
export const VISIT_ORDER = ['screening', 'week-0', 'week-2', 'week-4', 'week-8', 'week-12', 'week-16', 'week-20', 'week-24', 'week-28', 'week-32', 'week-36', 'week-40', 'week-44', 'week-48', 'unscheduled'];

/**
 * The code of a concept in a system (exact, or a study system matched by its path).
 * @param concept - The concept.
 * @param system - A full system URL or a study path from SYSTEMS.
 * @returns The code, if any.
 */
export function codeIn(concept: CodeableConcept | undefined, system: string): string | undefined {
  return concept?.coding?.find((c) => c.system === system || (system.startsWith('/') && c.system?.endsWith(system)))?.code;
}

/**
 * Displays of the study's own codes, from its CodeSystems (study facts shipped with the app, since the
 * roles' scopes do not reach the conformance resources): derived results often carry a code alone.
 */
const DISPLAYS: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>();
  const walk = (path: string, concepts: readonly CodeSystemConcept[] | undefined): void => {
    for (const c of concepts ?? []) {
      if (c.display) map.set(`${path}|${c.code}`, c.display);
      walk(path, c.concept);
    }
  };
  walk(SYSTEMS.assessments, (assessmentCodes as CodeSystem).concept);
  walk(SYSTEMS.sledai, (sledaiCodes as CodeSystem).concept);
  walk(SYSTEMS.bilag, (bilagCodes as CodeSystem).concept);
  return map;
})();

/**
 * The words a concept shows a reader: a coding's display, the study CodeSystem's display of its code,
 * the text, or the code.
 * @param concept - The concept.
 * @returns Plain words.
 */
export function wordsOf(concept: CodeableConcept | undefined): string {
  const shown = concept?.coding?.find((c) => c.display)?.display;
  if (shown) return shown;
  for (const c of concept?.coding ?? []) {
    const path = Object.values(SYSTEMS).find((p) => p.startsWith('/') && c.system?.endsWith(p));
    const display = path ? DISPLAYS.get(`${path}|${c.code}`) : undefined;
    if (display) return display;
  }
  return concept?.text ?? concept?.coding?.[0]?.code ?? '';
}

/**
 * An extension of the study (by the name after `/StructureDefinition/`).
 * @param resource - Anything with extensions.
 * @param name - The extension's name.
 * @returns The extensions.
 */
export function studyExtensions(resource: { extension?: Extension[] } | undefined, name: string): Extension[] {
  return (resource?.extension ?? []).filter((e) => e.url.endsWith(`/StructureDefinition/${name}`));
}

/**
 * The study visit a resource was assigned (`study-visit` extension).
 * @param resource - A study resource.
 * @returns The visit code, e.g. `week-4`.
 */
export function visitOf(resource: Resource): string | undefined {
  return studyExtensions(resource as { extension?: Extension[] }, 'study-visit')[0]?.valueCoding?.code;
}

/**
 * A visit code in words: `week-4` → `Week 4`.
 * @param visit - The code.
 * @returns The label.
 */
export function visitLabel(visit: string | undefined): string {
  if (!visit) return '—';
  const week = /^week-(\d+)$/.exec(visit);
  return week ? `Week ${week[1]}` : visit.charAt(0).toUpperCase() + visit.slice(1);
}

/**
 * The calendar day of an Observation (effective date, period start or issued), YYYY-MM-DD.
 * @param observation - The Observation.
 * @returns The day, if any.
 */
export function dayOf(observation: Observation): string | undefined {
  return (observation.effectiveDateTime ?? observation.effectivePeriod?.start ?? observation.issued)?.slice(0, 10);
}

/**
 * A profile's name (the part after `/StructureDefinition/`).
 * @param resource - A resource.
 * @returns The names of its claimed profiles.
 */
export function profilesOf(resource: Resource): string[] {
  return (resource.meta?.profile ?? []).map((p) => p.slice(p.lastIndexOf('/') + 1));
}

/**
 * A number as a reader wants it: at most 3 significant decimals, no float noise.
 * @param value - The number.
 * @returns Text.
 */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '—';
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
}

/**
 * A timestamp in the reader's words (date and minutes, UTC, so two readers see the same).
 * @param instant - ISO instant.
 * @returns Text.
 */
export function formatInstant(instant: string | undefined): string {
  return instant ? `${instant.slice(0, 10)} ${instant.slice(11, 16)} UTC` : '—';
}
