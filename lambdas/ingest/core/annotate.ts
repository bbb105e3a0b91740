import type { Coding, Extension, MedicationAdministration, Observation, Quantity, Resource } from '@medplum/fhirtypes';
import { assignVisit, type VisitWindow } from './visits.js';

/** The facts about one subject that visit assignment and dosing need, gathered from the store and the bundle. */
export interface SubjectTimeline {
  /** Date of the first completed infusion of the study drug (day 0). */
  readonly day0?: string;
  /** Body weights in kg with their dates, any order. */
  readonly weights: readonly { readonly date: string; readonly kg: number }[];
}

/** Study facts the annotator reads, all from fhir-profiles/. */
export interface AnnotationRules {
  readonly base: string;
  readonly windows: readonly VisitWindow[];
  /** The study drug (ResearchStudy.focus). */
  readonly studyDrug: Coding;
  /** LOINC body weight. */
  readonly bodyWeight: Coding;
}

const VISIT_TYPES = new Set(['Observation', 'MedicationAdministration', 'Encounter']);

/**
 * The clinical date of a study resource: what visit windows and searches by `date` use.
 * @param resource - A study resource.
 * @returns An ISO date or dateTime, or undefined.
 */
export function clinicalDate(resource: Resource): string | undefined {
  switch (resource.resourceType) {
    case 'Observation':
      return resource.effectiveDateTime ?? resource.effectivePeriod?.start ?? resource.effectiveInstant ?? resource.issued;
    case 'MedicationAdministration':
      return resource.effectiveDateTime ?? resource.effectivePeriod?.start;
    case 'Encounter':
      return resource.period?.start;
    default:
      return undefined;
  }
}

/**
 * Whether a resource is a completed administration of the study drug.
 * @param resource - A study resource.
 * @param drug - The study drug coding.
 * @returns True for a day-0 candidate.
 */
export function isStudyDrugAdministration(resource: Resource, drug: Coding): resource is MedicationAdministration {
  return (
    resource.resourceType === 'MedicationAdministration' &&
    resource.status === 'completed' &&
    !!resource.medicationCodeableConcept?.coding?.some((c) => c.system === drug.system && c.code === drug.code)
  );
}

/**
 * A body weight in kg read from a study Observation (already normalised to kg by the mapper).
 * @param resource - A study resource.
 * @param rules - The study rules.
 * @returns The weight and its date, or undefined.
 */
export function bodyWeightOf(resource: Resource, rules: AnnotationRules): { date: string; kg: number } | undefined {
  if (resource.resourceType !== 'Observation' || !hasCoding(resource, rules.bodyWeight)) {
    return undefined;
  }
  const date = clinicalDate(resource);
  const q = resource.valueQuantity;
  return date && q?.value !== undefined && q.code === 'kg' ? { date, kg: q.value } : undefined;
}

/**
 * A subject's day 0 (its first completed study-drug infusion) and body weights, from its records.
 * @param records - The subject's study resources (any types).
 * @param rules - The study rules.
 * @returns The timeline.
 */
export function timelineFrom(records: readonly Resource[], rules: AnnotationRules): SubjectTimeline {
  const infusions = records
    .filter((r) => isStudyDrugAdministration(r, rules.studyDrug))
    .map((r) => clinicalDate(r))
    .filter((d): d is string => !!d)
    .sort();
  const weights = records.map((r) => bodyWeightOf(r, rules)).filter((w): w is { date: string; kg: number } => !!w);
  return { ...(infusions[0] ? { day0: infusions[0] } : {}), weights };
}

/**
 * Adds the study visit and study day (for dated Observations, administrations and encounters), and
 * completes a study-drug administration's dose: mg/kg from mg and the latest weight, or mg from mg/kg.
 * @param resource - A mapped study resource.
 * @param timeline - The subject's day 0 and weights.
 * @param rules - The study rules.
 * @returns The annotated resource (a new object).
 */
export function annotate<T extends Resource>(resource: T, timeline: SubjectTimeline, rules: AnnotationRules): T {
  let out: Resource = resource;
  if (VISIT_TYPES.has(resource.resourceType)) {
    const assignment = assignVisit(clinicalDate(resource), timeline.day0, rules.windows);
    if (assignment) {
      const extension: Extension[] = [
        { url: `${rules.base}/StructureDefinition/study-visit`, valueCoding: { system: `${rules.base}/CodeSystem/study-visit`, code: assignment.visit } },
        ...(assignment.studyDay === undefined ? [] : [{ url: `${rules.base}/StructureDefinition/study-day`, valueInteger: assignment.studyDay }]),
      ];
      out = { ...out, extension: [...withoutStudyExtensions((out as { extension?: Extension[] }).extension, rules.base), ...extension] } as Resource;
    }
  }
  if (isStudyDrugAdministration(out, rules.studyDrug)) {
    out = completeDose(out, timeline, rules);
  }
  return out as T;
}

function completeDose(admin: MedicationAdministration, timeline: SubjectTimeline, rules: AnnotationRules): MedicationAdministration {
  const dose = admin.dosage?.dose;
  const date = clinicalDate(admin);
  const weight = date ? latestWeight(timeline.weights, date) : undefined;
  if (!dose?.value || !weight) {
    return admin;
  }
  let mg: Quantity | undefined;
  let perKg: number | undefined;
  if (dose.code === 'mg/kg') {
    perKg = dose.value;
    mg = { value: round(dose.value * weight, 1), unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' };
  } else if (dose.code === 'mg') {
    perKg = round(dose.value / weight, 2);
  }
  if (perKg === undefined) {
    return admin;
  }
  const extension: Extension = {
    url: `${rules.base}/StructureDefinition/belimumab-dose-per-kg`,
    valueQuantity: { value: perKg, unit: 'mg/kg', system: 'http://unitsofmeasure.org', code: 'mg/kg' },
  };
  return {
    ...admin,
    extension: [...(admin.extension ?? []).filter((e) => e.url !== extension.url), extension],
    dosage: { ...admin.dosage, ...(mg ? { dose: mg } : {}) },
  };
}

function latestWeight(weights: SubjectTimeline['weights'], date: string): number | undefined {
  const before = weights.filter((w) => w.date.slice(0, 10) <= date.slice(0, 10)).sort((a, b) => a.date.localeCompare(b.date));
  return before.at(-1)?.kg;
}

function withoutStudyExtensions(extensions: Extension[] | undefined, base: string): Extension[] {
  const ours = new Set([`${base}/StructureDefinition/study-visit`, `${base}/StructureDefinition/study-day`]);
  return (extensions ?? []).filter((e) => !ours.has(e.url));
}

function hasCoding(observation: Observation, coding: Coding): boolean {
  return !!observation.code.coding?.some((c) => c.system === coding.system && c.code === coding.code);
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
