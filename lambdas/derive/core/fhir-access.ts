import type { CodeableConcept, Coding, Extension, Observation, Reference, Resource } from '@medplum/fhirtypes';

/** The study's canonical URLs under one configurable base. */
export interface StudyUrls {
  readonly base: string;
  readonly sledai: string;
  readonly bilag: string;
  readonly assessments: string;
  readonly visitSystem: string;
  readonly visitExtension: string;
  readonly dayExtension: string;
  /**
   * @param id - A StructureDefinition id.
   * @returns Its canonical URL.
   */
  structureDefinition(id: string): string;
}

/**
 * The study's code systems and extensions under a base.
 * @param base - Canonical base, e.g. `https://belimumab-sle.example.org/fhir`.
 * @returns The URLs.
 */
export function studyUrls(base: string): StudyUrls {
  const root = base.replace(/\/+$/, '');
  return {
    base: root,
    sledai: `${root}/CodeSystem/sledai-2k`,
    bilag: `${root}/CodeSystem/bilag-2004`,
    assessments: `${root}/CodeSystem/study-assessments`,
    visitSystem: `${root}/CodeSystem/study-visit`,
    visitExtension: `${root}/StructureDefinition/study-visit`,
    dayExtension: `${root}/StructureDefinition/study-day`,
    structureDefinition: (id) => `${root}/StructureDefinition/${id}`,
  };
}

/**
 * Replaces the `{base}` placeholder that data files use for study code systems.
 * @param system - A system URL from the data.
 * @param urls - The study URLs.
 * @returns The concrete URL.
 */
export function resolveSystem(system: string, urls: StudyUrls): string {
  return system.replace('{base}', urls.base);
}

/**
 * The code an Observation carries in one system (first match).
 * @param observation - The Observation.
 * @param system - The code system.
 * @returns The code, or undefined.
 */
export function codeIn(observation: Observation, system: string): string | undefined {
  return observation.code.coding?.find((c) => c.system === system && c.code)?.code;
}

/**
 * Whether a concept holds one of the codings.
 * @param concept - A CodeableConcept.
 * @param codings - Accepted system/code pairs.
 * @returns True on a match.
 */
export function conceptHasAny(concept: CodeableConcept | undefined, codings: readonly Coding[]): boolean {
  return !!concept?.coding?.some((c) => codings.some((k) => k.system === c.system && k.code === c.code));
}

/**
 * The calendar date (YYYY-MM-DD) as recorded, without time-zone conversion: a 23:30 lab stays on its
 * day, as the ingest's study-day rule does.
 * @param value - A FHIR date or dateTime.
 * @returns The date part.
 */
export function calendarDate(value: string): string {
  return value.slice(0, 10);
}

const MS_PER_DAY = 86_400_000;

function dayNumber(date: string): number {
  const [year = '1970', month = '01', day = '01'] = calendarDate(date).split('-');
  return Date.UTC(Number(year), Number(month) - 1, Number(day)) / MS_PER_DAY;
}

/**
 * Calendar days from `from` to `to` (negative when `to` is earlier).
 * @param from - A date or dateTime.
 * @param to - A date or dateTime.
 * @returns Whole days.
 */
export function daysBetween(from: string, to: string): number {
  return Math.round(dayNumber(to) - dayNumber(from));
}

/**
 * A calendar date shifted by whole days.
 * @param date - A date or dateTime.
 * @param days - Days to add (negative to go back).
 * @returns YYYY-MM-DD.
 */
export function addDays(date: string, days: number): string {
  return new Date((dayNumber(date) + days) * MS_PER_DAY).toISOString().slice(0, 10);
}

/**
 * The clinical date of an Observation.
 * @param observation - The Observation.
 * @returns Its effective date/time or issued, or undefined.
 */
export function observationDate(observation: Observation): string | undefined {
  return observation.effectiveDateTime ?? observation.effectivePeriod?.start ?? observation.effectiveInstant ?? observation.issued;
}

/**
 * The study-visit code the ingest stamped on a resource.
 * @param resource - A study resource.
 * @param urls - The study URLs.
 * @returns The visit code, or undefined.
 */
export function visitCodeOf(resource: Resource, urls: StudyUrls): string | undefined {
  const extensions = (resource as { extension?: Extension[] }).extension ?? [];
  return extensions.find((e) => e.url === urls.visitExtension)?.valueCoding?.code;
}

/**
 * The study day the ingest stamped on a resource.
 * @param resource - A study resource.
 * @param urls - The study URLs.
 * @returns Days since day 0, or undefined.
 */
export function studyDayOf(resource: Resource, urls: StudyUrls): number | undefined {
  const extensions = (resource as { extension?: Extension[] }).extension ?? [];
  return extensions.find((e) => e.url === urls.dayExtension)?.valueInteger;
}

/**
 * A literal reference to a stored resource.
 * @param resource - A resource with an id.
 * @returns `Type/id`, or undefined for a resource without id.
 */
export function referenceTo(resource: Resource): Reference | undefined {
  return resource.id ? { reference: `${resource.resourceType}/${resource.id}` } : undefined;
}

/**
 * Unique references to resources, sorted so the output does not depend on input order.
 * @param resources - Evidence resources (duplicates allowed).
 * @returns References.
 */
export function referencesTo(resources: readonly Resource[]): Reference[] {
  const refs = new Set(resources.map((r) => referenceTo(r)?.reference).filter((r): r is string => r !== undefined));
  return [...refs].sort().map((reference) => ({ reference }));
}

/**
 * Orders records by clinical date then id, so "the latest record" is deterministic.
 * @param a - One record and its date.
 * @param b - Another.
 * @returns A sort comparison.
 */
export function byDateThenId(a: { date?: string; resource: Resource }, b: { date?: string; resource: Resource }): number {
  return (a.date ?? '').localeCompare(b.date ?? '') || (a.resource.id ?? '').localeCompare(b.resource.id ?? '');
}

/** Three-valued truth: a criterion met, not met, or undecidable from the data. */
export type Tri = boolean | undefined;

/**
 * Conjunction in Kleene logic: false wins over unknown, so a definite failure decides even when
 * another part is missing.
 * @param values - The parts.
 * @returns The conjunction.
 */
export function allOf(values: readonly Tri[]): Tri {
  if (values.includes(false)) {
    return false;
  }
  return values.includes(undefined) ? undefined : true;
}
