import type { Observation, Resource, ResearchSubject } from '@medplum/fhirtypes';
import { addDays, calendarDate, conceptHasAny, daysBetween, observationDate, resolveSystem, studyDayOf, studyUrls, type StudyUrls } from './fhir-access.js';
import { glucocorticoidPulses, prednisoneEquivalentOn } from './glucocorticoids.js';
import { dorisCriteria, lldasCriteria, maintenanceDosesOn, stateObservation, type VisitTreatment } from './lldas-doris.js';
import { exposureAfter, exposurePeriod, isUsableMedication, matchesDrug, type MedicationResource } from './medications.js';
import { EHR_TOTAL_EXTENSION, LOOK_BACK_EXTENSION, type DerivedContext } from './observations.js';
import type { DerivationRules } from './rules.js';
import { lookBackWindow, scoreSledai, sledaiObservation } from './sledai.js';
import { sriComponents, sriObservation, sriOutcome, type AssessedVisit, type NonResponseEvent } from './sri.js';
import { bilagGrades, groupVisits, pgaOf, type StudyVisit } from './visits.js';

/** Everything the derivation needs about one subject. */
export interface DeriveSubjectInput {
  /** Canonical base of the study's conformance resources. */
  readonly base: string;
  /** The subject's pseudonym (`Patient/{subject}`). */
  readonly subject: string;
  /** All the subject's study resources, including its ResearchSubject and any previously derived Observations. */
  readonly resources: readonly Resource[];
  /** The date the derivation is run for: decides whether the week-48 window has passed. */
  readonly asOf: Date;
}

/**
 * Derives every score and response of one subject: a `sledai-2k-score` Observation per scored visit,
 * and per post-baseline visit SRI-4..8, LLDAS and DORIS remission; plus, when the week-48 assessment
 * is missing and can no longer come (window passed or subject withdrawn), SRI Observations for week 48
 * that say non-responder and why. A pure function: same input, same output, ids included, and no
 * meta.versionId; the caller compares with the stored versions.
 * @param input - The subject, its resources and the as-of date.
 * @param rules - The derivation rules (see `loadDerivationRules`).
 * @returns The derived Observations.
 */
export function deriveSubject(input: DeriveSubjectInput, rules: DerivationRules): Observation[] {
  const urls = studyUrls(input.base);
  const ctx: DerivedContext = { urls, subject: input.subject, rules };
  const patient = `Patient/${input.subject}`;
  const asOf = input.asOf.toISOString().slice(0, 10);

  const observations = input.resources.filter(
    (r): r is Observation =>
      r.resourceType === 'Observation' &&
      r.subject?.reference === patient &&
      rules.sledai.usableStatuses.includes(r.status) &&
      !isDerived(r, urls, rules),
  );
  const medications = input.resources.filter(
    (r): r is MedicationResource => isUsableMedication(r, rules.medications) && r.subject?.reference === patient,
  );
  const researchSubjects = input.resources.filter((r): r is ResearchSubject => r.resourceType === 'ResearchSubject' && r.individual?.reference === patient);

  const grouped = groupVisits(observations, urls, rules);
  const day0 = findDay0(grouped, observations, medications, urls, rules);
  const assessed: AssessedVisit[] = grouped.map((visit) => {
    const withDay = visit.studyDay === undefined && day0 ? { ...visit, studyDay: daysBetween(day0, visit.date) } : visit;
    const sledai = scoreSledai(withDay, observations, urls, rules);
    const pga = pgaOf(withDay, urls, rules);
    return { visit: withDay, ...(sledai ? { sledai } : {}), bilag: bilagGrades(withDay, urls, rules), ...(pga ? { pga } : {}) };
  });

  const out: Observation[] = assessed.flatMap((v) => (v.sledai ? [sledaiObservation(v.sledai, ctx)] : []));

  const { baseline: baselineCode, screening, endpoint } = rules.response.visits;
  const baseline = assessed.find((v) => v.visit.code === baselineCode);
  const post = assessed.filter(
    (v) => v.visit.code !== screening && v.visit.code !== baselineCode && (!baseline || v.visit.date > baseline.visit.date),
  );
  const events = nonResponseEvents(day0, medications, researchSubjects, rules);

  post.forEach((visit, i) => {
    const components = baseline ? sriComponents(baseline, visit, post.slice(0, i), rules) : undefined;
    const applicable = events.filter((e) => (e.from === undefined ? visit.visit.code === endpoint.visit : e.from <= visit.visit.date));
    for (const index of rules.response.sri.indices) {
      const outcome = sriOutcome(baseline, components, index.minReduction, applicable, rules);
      out.push(sriObservation({ index, visit: visit.visit, outcome, ...(components ? { components } : {}), events: applicable }, ctx));
    }
    out.push(...stateObservations(visit, assessed, observations, medications, ctx));
  });

  if (!post.some((v) => v.visit.code === endpoint.visit)) {
    out.push(...missingEndpoint(baseline, day0, asOf, events, ctx));
  }
  return out;
}

function isDerived(observation: Observation, urls: StudyUrls, rules: DerivationRules): boolean {
  const profiles = Object.values(rules.response.profiles).map((id) => urls.structureDefinition(id));
  const markers = [LOOK_BACK_EXTENSION, EHR_TOTAL_EXTENSION].map((id) => urls.structureDefinition(id));
  return (
    !!observation.meta?.profile?.some((p) => profiles.includes(p)) ||
    !!(observation.extension)?.some((e) => markers.includes(e.url))
  );
}

/**
 * Day 0 is the first completed belimumab infusion (the ingest's rule); without one, the baseline visit
 * date, or a date minus the study day the ingest stamped on it.
 */
function findDay0(
  visits: readonly StudyVisit[],
  observations: readonly Observation[],
  medications: readonly MedicationResource[],
  urls: StudyUrls,
  rules: DerivationRules,
): string | undefined {
  const meds = rules.medications;
  const infusions = medications
    .filter((m) => m.resourceType === 'MedicationAdministration' && m.status === 'completed')
    .filter((m) => matchesDrug(m.medicationCodeableConcept, { display: meds.studyDrug.display, rxnorm: meds.studyDrug.rxnorm }, meds))
    .map((m) => exposurePeriod(m)?.start)
    .filter((d): d is string => d !== undefined)
    .sort();
  if (infusions[0]) {
    return infusions[0];
  }
  const baseline = visits.find((v) => v.code === rules.response.visits.baseline);
  if (baseline) {
    return baseline.date;
  }
  for (const observation of observations) {
    const day = studyDayOf(observation, urls);
    const date = observationDate(observation);
    if (day !== undefined && date) {
      return addDays(date, -day);
    }
  }
  return undefined;
}

/** Prohibited medication after day 0, glucocorticoid pulses (when the data says so) and withdrawal. */
function nonResponseEvents(
  day0: string | undefined,
  medications: readonly MedicationResource[],
  researchSubjects: readonly ResearchSubject[],
  rules: DerivationRules,
): NonResponseEvent[] {
  const meds = rules.medications;
  const events: NonResponseEvent[] = [];
  if (day0) {
    for (const record of medications) {
      const drug = meds.prohibited.find((p) => matchesDrug(record.medicationCodeableConcept, p, meds));
      const from = drug ? exposureAfter(record, day0) : undefined;
      if (drug && from) {
        events.push({
          reason: 'prohibitedMedication',
          from,
          detail: `Prohibited medication ${drug.display} (${record.resourceType}/${record.id ?? '?'}) from ${from}, after day 0 (${day0}).`,
          evidence: [record],
        });
      }
    }
    if (meds.glucocorticoids.pulseIsProhibited) {
      for (const pulse of glucocorticoidPulses(medications, meds).filter((p) => p.date > day0)) {
        events.push({
          reason: 'prohibitedMedication',
          from: pulse.date,
          detail: `Glucocorticoid pulse: ${pulse.display} ${pulse.prednisoneEquivalentMg} mg prednisone-equivalent (${pulse.record.resourceType}/${pulse.record.id ?? '?'}) on ${pulse.date}.`,
          evidence: [pulse.record],
        });
      }
    }
  }
  for (const rs of researchSubjects.filter((r) => rules.response.withdrawnStatuses.includes(r.status))) {
    const end = rs.period?.end ? calendarDate(rs.period.end) : undefined;
    events.push({
      reason: 'withdrawal',
      ...(end ? { from: end } : {}),
      detail: `ResearchSubject/${rs.id ?? '?'} status ${rs.status}${end ? ` since ${end}` : ''}.`,
      evidence: [rs],
    });
  }
  return events;
}

function stateObservations(
  visit: AssessedVisit,
  assessed: readonly AssessedVisit[],
  observations: readonly Observation[],
  medications: readonly MedicationResource[],
  ctx: DerivedContext,
): Observation[] {
  const { rules, urls } = ctx;
  const prednisone = prednisoneEquivalentOn(visit.visit.date, medications, rules.medications);
  const maintenance = maintenanceDosesOn(visit.visit.date, medications, rules.medications);
  const treatment: VisitTreatment = { prednisone, maintenance: maintenance.met, evidence: [...prednisone.evidence, ...maintenance.evidence] };
  const previous = assessed.filter((v) => v.sledai && v.visit.date < visit.visit.date).at(-1);
  const window = lookBackWindow(visit.visit.date, rules.sledai.lookBackDays);
  const hemolysisCodes = rules.response.lldas.hemolysisCodes.map((c) => ({ ...c, system: resolveSystem(c.system, urls) }));
  const hemolysis = observations.filter((o) => {
    const date = observationDate(o);
    const day = date ? calendarDate(date) : '';
    return conceptHasAny(o.code, hemolysisCodes) && o.valueBoolean === true && day >= window.start && day <= window.end;
  });
  const gi = visit.bilag.get(rules.response.lldas.gastrointestinalDomain)?.observation;
  const lldas = lldasCriteria(visit, previous, treatment, hemolysis.length > 0, rules);
  const doris = dorisCriteria(visit, treatment, rules);
  return [
    stateObservation(
      {
        kind: 'lldas',
        visit,
        criteria: [lldas.sledai, lldas.noNewActivity, lldas.pga, lldas.glucocorticoid, lldas.maintenance],
        treatment,
        sledaiVisits: previous ? [visit, previous] : [visit],
        extraEvidence: [...hemolysis, ...(gi ? [gi] : [])],
      },
      ctx,
    ),
    stateObservation(
      { kind: 'doris', visit, criteria: [doris.clinicalSledai, doris.pga, doris.glucocorticoid, doris.maintenance], treatment, sledaiVisits: [visit], extraEvidence: [] },
      ctx,
    ),
  ];
}

/**
 * SRI Observations for a week-48 visit that did not happen: once the subject has withdrawn, or once
 * asOf is past the endpoint window (response-indices.md §3: endpoint missing = non-responder).
 */
function missingEndpoint(
  baseline: AssessedVisit | undefined,
  day0: string | undefined,
  asOf: string,
  events: readonly NonResponseEvent[],
  ctx: DerivedContext,
): Observation[] {
  const { endpoint } = ctx.rules.response.visits;
  const withdrawn = events.filter((e) => e.reason === 'withdrawal');
  const closes = day0 ? addDays(day0, endpoint.windowEndDay) : undefined;
  const passed = closes !== undefined && asOf > closes;
  if (withdrawn.length === 0 && !passed) {
    return [];
  }
  const missing: NonResponseEvent[] = passed
    ? [{ reason: 'missingEndpoint', detail: `No ${endpoint.visit} assessment; its window closed on ${closes} (study day ${endpoint.windowEndDay}).`, evidence: [] }]
    : [];
  const applicable = [...events.filter((e) => e.from === undefined || e.from <= asOf), ...missing];
  const period = day0 ? { start: addDays(day0, endpoint.windowStartDay), end: addDays(day0, endpoint.windowEndDay) } : undefined;
  return ctx.rules.response.sri.indices.map((index) =>
    sriObservation(
      {
        index,
        visit: { key: endpoint.visit, code: endpoint.visit },
        outcome: sriOutcome(baseline, undefined, index.minReduction, applicable, ctx.rules),
        events: applicable,
        ...(period ? { period } : {}),
      },
      ctx,
    ),
  );
}
