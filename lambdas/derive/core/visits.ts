import type { Observation } from '@medplum/fhirtypes';
import { byDateThenId, calendarDate, codeIn, observationDate, studyDayOf, visitCodeOf, type StudyUrls } from './fhir-access.js';
import type { DerivationRules } from './rules.js';

/** One study visit of a subject, as its disease-activity assessments define it. */
export interface StudyVisit {
  /** Unique per subject: the visit code, or `unscheduled-YYYY-MM-DD` (a subject may have several unscheduled visits). */
  readonly key: string;
  /** The study-visit code. */
  readonly code: string;
  /** The visit's date: the day of its disease-activity assessments (YYYY-MM-DD). */
  readonly date: string;
  /** The study day the ingest stamped on the assessments, if any. */
  readonly studyDay?: number;
  /** The SLEDAI-2K, BILAG-2004 and PGA Observations of the visit. */
  readonly assessments: readonly Observation[];
}

/** A BILAG-2004 grade with the Observation it came from. */
export interface BilagGrade {
  readonly grade: string;
  readonly observation: Observation;
}

/**
 * Whether an Observation is a disease-activity assessment: coded in the SLEDAI-2K or BILAG-2004
 * system, or the PGA of study-assessments.
 * @param observation - A study Observation.
 * @param urls - The study URLs.
 * @param rules - The derivation rules.
 * @returns True for an assessment.
 */
export function isAssessment(observation: Observation, urls: StudyUrls, rules: DerivationRules): boolean {
  return (
    codeIn(observation, urls.sledai) !== undefined ||
    codeIn(observation, urls.bilag) !== undefined ||
    codeIn(observation, urls.assessments) === rules.response.pga.code
  );
}

/**
 * Groups a subject's assessments by study visit. The visit date is the latest day among the visit's
 * assessments (normally they share one day; taking the latest keeps every assessment inside the
 * visit's look-back window). Unscheduled assessments form one visit per day.
 * @param observations - The subject's usable Observations (any kind; non-assessments are ignored).
 * @param urls - The study URLs.
 * @param rules - The derivation rules.
 * @returns Visits ordered by date, then key.
 */
export function groupVisits(observations: readonly Observation[], urls: StudyUrls, rules: DerivationRules): StudyVisit[] {
  const groups = new Map<string, { code: string; items: { date: string; resource: Observation }[] }>();
  for (const observation of observations) {
    const code = visitCodeOf(observation, urls);
    const date = observationDate(observation);
    if (!code || !date || !isAssessment(observation, urls, rules)) {
      continue;
    }
    const key = code === rules.response.visits.unscheduled ? `${code}-${calendarDate(date)}` : code;
    const group = groups.get(key) ?? { code, items: [] };
    group.items.push({ date: calendarDate(date), resource: observation });
    groups.set(key, group);
  }
  const visits = [...groups.entries()].map(([key, { code, items }]): StudyVisit => {
    const sorted = [...items].sort(byDateThenId);
    const last = sorted.at(-1) as { date: string; resource: Observation };
    const studyDay = sorted.map((i) => studyDayOf(i.resource, urls)).findLast((d) => d !== undefined);
    return { key, code, date: last.date, ...(studyDay === undefined ? {} : { studyDay }), assessments: sorted.map((i) => i.resource) };
  });
  return visits.sort((a, b) => a.date.localeCompare(b.date) || a.key.localeCompare(b.key));
}

/**
 * The latest record per code among a visit's assessments in one system.
 * @param visit - The visit.
 * @param system - The code system (SLEDAI-2K or BILAG-2004).
 * @returns Code → latest Observation.
 */
export function latestByCode(visit: StudyVisit, system: string): Map<string, Observation> {
  const latest = new Map<string, Observation>();
  // assessments are sorted by date then id, so a later entry supersedes an earlier one.
  for (const observation of visit.assessments) {
    const code = codeIn(observation, system);
    if (code) {
      latest.set(code, observation);
    }
  }
  return latest;
}

/**
 * The BILAG-2004 grade of each domain recorded at a visit (response-indices.md §4: one Observation
 * per domain, grade as valueCodeableConcept in the same system).
 * @param visit - The visit.
 * @param urls - The study URLs.
 * @param rules - The derivation rules.
 * @returns Domain → grade, only for known domains with a known grade.
 */
export function bilagGrades(visit: StudyVisit, urls: StudyUrls, rules: DerivationRules): Map<string, BilagGrade> {
  const grades = new Map<string, BilagGrade>();
  for (const [domain, observation] of latestByCode(visit, urls.bilag)) {
    const grade = observation.valueCodeableConcept?.coding?.find((c) => c.system === urls.bilag)?.code;
    if (rules.response.bilag.domains.includes(domain) && grade && rules.response.bilag.grades.includes(grade)) {
      grades.set(domain, { grade, observation });
    }
  }
  return grades;
}

/** A PGA in integer hundredths of the 0–3 scale, with its Observation. */
export interface PgaValue {
  readonly hundredths: number;
  readonly observation: Observation;
}

/**
 * The visit's PGA in integer hundredths (response-indices.md §1, §5: compare in hundredths because
 * `2.3 - 2.0` is `0.2999999999999998` in floating point).
 * @param visit - The visit.
 * @param urls - The study URLs.
 * @param rules - The derivation rules.
 * @returns The PGA, or undefined when none or out of range.
 */
export function pgaOf(visit: StudyVisit, urls: StudyUrls, rules: DerivationRules): PgaValue | undefined {
  const observation = [...visit.assessments].reverse().find((o) => codeIn(o, urls.assessments) === rules.response.pga.code);
  const value = observation?.valueQuantity?.value ?? observation?.valueInteger;
  if (!observation || value === undefined) {
    return undefined;
  }
  const hundredths = Math.round(value * 100);
  return hundredths >= 0 && hundredths <= rules.response.pga.maxHundredths ? { hundredths, observation } : undefined;
}
