import type { Condition, Observation, Resource, ResearchSubject } from '@medplum/fhirtypes';
import type { ReviewItem } from '../../commons/review/review-item.js';
import { addDays, calendarDate, conceptHasAny, daysBetween, observationDate, referencesTo, resolveSystem, studyDayOf, studyUrls, type StudyUrls } from './fhir-access.js';
import { glucocorticoidIncrease, glucocorticoidPulses, prednisoneEquivalentOn, type DoseContext } from './glucocorticoids.js';
import { dorisCriteria, lldasCriteria, maintenanceDosesOn, stateObservation, type VisitTreatment } from './lldas-doris.js';
import { exposureAfter, exposurePeriod, immunosuppressantChanges, isUsableMedication, matchesDrug, type MedicationResource } from './medications.js';
import { derivedId, EHR_TOTAL_EXTENSION, LOOK_BACK_EXTENSION, type DerivedContext } from './observations.js';
import type { DerivationRules } from './rules.js';
import { lookBackWindow, scoreSledai, sledaiObservation, sledaiReviewItems } from './sledai.js';
import {
  baselineOf,
  sriComponents,
  sriObservation,
  sriOutcome,
  type AssessedVisit,
  type Baseline,
  type ItemSystems,
  type NonResponseEvent,
  type PendingCheck,
} from './sri.js';
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

/** What the derivation of one subject produces. */
export interface DerivedSubject {
  /** The derived Observations (deterministic ids, no meta.versionId). */
  readonly observations: Observation[];
  /** What the data cannot decide and an investigator must (D4, D5, D10); each becomes a Task. */
  readonly reviews: ReviewItem[];
}

/**
 * Derives every score and response of one subject: a `sledai-2k-score` Observation per scored visit,
 * and per post-baseline visit SRI-4..8, LLDAS and DORIS; plus, when the week-48 assessment is missing
 * and can no longer come (window passed or subject discontinued, D6), SRI Observations for week 48
 * that say non-responder and why. Baselines per component (D1), withdrawal and completion (D6),
 * restricted medication (D7), missing components (D8), not evaluable and ITT (D9), the current
 * glucocorticoid dose (D10). A pure function: same input, same output, ids included, and no
 * meta.versionId; the caller compares with the stored versions.
 * @param input - The subject, its resources and the as-of date.
 * @param rules - The derivation rules (see `loadDerivationRules`).
 * @returns The derived Observations and the review items.
 */
export function deriveSubject(input: DeriveSubjectInput, rules: DerivationRules): DerivedSubject {
  const urls = studyUrls(input.base);
  const ctx: DerivedContext = { urls, subject: input.subject, rules };
  const patient = `Patient/${input.subject}`;
  const asOf = input.asOf.toISOString().slice(0, 10);
  const systems: ItemSystems = { sledai: urls.sledai, bilag: urls.bilag, assessments: urls.assessments };

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
  const conditions = input.resources.filter(
    (r): r is Condition => r.resourceType === 'Condition' && r.subject?.reference === patient && !isRefuted(r),
  );
  const researchSubjects = input.resources.filter((r): r is ResearchSubject => r.resourceType === 'ResearchSubject' && r.individual?.reference === patient);

  const grouped = groupVisits(observations, urls, rules);
  const infusion = firstInfusion(medications, rules);
  const day0 = infusion ?? findDay0(grouped, observations, urls, rules);
  const assessed: AssessedVisit[] = grouped.map((visit) => {
    const withDay = visit.studyDay === undefined && day0 ? { ...visit, studyDay: daysBetween(day0, visit.date) } : visit;
    const sledai = scoreSledai(withDay, { observations, medications, conditions }, urls, rules);
    const pga = pgaOf(withDay, urls, rules);
    return { visit: withDay, ...(sledai ? { sledai } : {}), bilag: bilagGrades(withDay, urls, rules), ...(pga ? { pga } : {}) };
  });

  const out: Observation[] = [];
  const reviews: ReviewItem[] = [];
  for (const v of assessed) {
    if (v.sledai) {
      out.push(sledaiObservation(v.sledai, ctx));
      reviews.push(...sledaiReviewItems(v.sledai, ctx));
    }
  }

  const { baseline: baselineCode, screening, endpoint } = rules.response.visits;
  // D1: baseline per component from the window around day 0; an assessment on day 0 is week 0, so
  // response visits are the later ones.
  const baseline = baselineOf(assessed, day0, rules);
  const post = assessed.filter((v) => v.visit.code !== screening && v.visit.code !== baselineCode && (!day0 || v.visit.date > day0));
  const week48 = post.find((v) => v.visit.code === endpoint.visit);
  const week24Visit = post.find((v) => v.visit.code === rules.response.visits.week24.visit);
  const doseCtx = { observations, urls };
  const restricted = day0 ? restrictedMedication(day0, week24Visit?.visit.date, post, medications, doseCtx, rules) : { events: [], pending: [] };
  const events = [...restricted.events, ...withdrawalEvents(researchSubjects, week48?.visit.date, rules)];
  const completion = completionNote(researchSubjects, week48?.visit.date, rules);
  const dosed = infusion !== undefined;

  post.forEach((visit, i) => {
    const components = sriComponents(baseline, visit, post.slice(0, i), rules, systems);
    const isEndpoint = visit.visit.code === endpoint.visit;
    const applicable = events.filter((e) => (e.from !== undefined && e.from <= visit.visit.date) || (isEndpoint && (e.from === undefined || e.endpoint === true)));
    const pending = restricted.pending.filter((p) => p.from <= visit.visit.date);
    for (const index of rules.response.sri.indices) {
      const outcome = sriOutcome(baseline, components, index.minReduction, applicable, rules, systems);
      const notes = visit.visit.code === endpoint.visit ? completion : [];
      out.push(sriObservation({ index, visit: visit.visit, outcome, baseline, components, events: applicable, pending, dosed, notes }, ctx));
    }
    const states = stateObservations(visit, assessed, observations, medications, ctx);
    out.push(...states.observations);
    reviews.push(...states.reviews);
  });

  if (!week48) {
    out.push(...missingEndpoint(baseline, day0, asOf, events, dosed, ctx));
  }
  return { observations: out, reviews: dedupeReviews([...pendingReviews(restricted.pending, post, ctx), ...reviews]) };
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
 * The first completed belimumab infusion: day 0 (the ingest's rule) and proof of at least one dose,
 * the ITT population of D9.
 */
function firstInfusion(medications: readonly MedicationResource[], rules: DerivationRules): string | undefined {
  const meds = rules.medications;
  return medications
    .filter((m) => m.resourceType === 'MedicationAdministration' && m.status === 'completed')
    .filter((m) => matchesDrug(m.medicationCodeableConcept, { display: meds.studyDrug.display, rxnorm: meds.studyDrug.rxnorm }, meds))
    .map((m) => exposurePeriod(m)?.start)
    .filter((d): d is string => d !== undefined)
    .sort()[0];
}

/** Without an infusion, day 0 is the baseline visit date, or a date minus the study day the ingest stamped on it. */
function findDay0(visits: readonly StudyVisit[], observations: readonly Observation[], urls: StudyUrls, rules: DerivationRules): string | undefined {
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

/**
 * Restricted medication after day 0 (D7): (a) cyclophosphamide, rituximab or another biologic;
 * (b) a glucocorticoid pulse; (c) a new or increased immunosuppressant or antimalarial; (d) a
 * prednisone-equivalent dose above the day-0 dose at week 24 or later. Each is a non-response event
 * from the day it happens; a (d) check whose dose is undecided (D10) is pending until an investigator
 * decides the dose.
 */
function restrictedMedication(
  day0: string,
  week24Date: string | undefined,
  post: readonly AssessedVisit[],
  medications: readonly MedicationResource[],
  doses: DoseContext,
  rules: DerivationRules,
): { events: NonResponseEvent[]; pending: PendingCheck[] } {
  const meds = rules.medications;
  const events: NonResponseEvent[] = [];
  for (const record of medications) {
    const drug = meds.prohibited.find((p) => matchesDrug(record.medicationCodeableConcept, p, meds));
    const from = drug ? exposureAfter(record, day0) : undefined;
    if (drug && from) {
      events.push({
        reason: 'prohibitedMedication',
        from,
        detail: `${meds.prohibitedDecision}(a): ${drug.display} (${record.resourceType}/${record.id ?? '?'}) from ${from}, after day 0 (${day0}).`,
        evidence: [record],
      });
    }
  }
  if (meds.glucocorticoids.pulseIsProhibited) {
    for (const pulse of glucocorticoidPulses(medications, meds).filter((p) => p.date > day0)) {
      events.push({
        reason: 'prohibitedMedication',
        from: pulse.date,
        detail: `${meds.glucocorticoids.pulseDecision}(b): glucocorticoid pulse ${pulse.display} ${pulse.prednisoneEquivalentMg} mg prednisone-equivalent (${pulse.record.resourceType}/${pulse.record.id ?? '?'}) on ${pulse.date}.`,
        evidence: [pulse.record],
      });
    }
  }
  for (const change of immunosuppressantChanges(day0, medications, meds)) {
    events.push({ reason: 'newImmunosuppressant', from: change.date, detail: `${meds.immunosuppressants.decision}(c): ${change.detail}`, evidence: change.evidence });
  }
  const increase = glucocorticoidIncrease(
    day0,
    week24Date ?? addDays(day0, rules.response.visits.week24.studyDay),
    post.map((v) => v.visit.date),
    medications,
    meds,
    doses,
  );
  if (increase.event) {
    events.push({ reason: 'glucocorticoidIncrease', from: increase.event.date, detail: `D7(d): ${increase.event.detail}`, evidence: increase.event.evidence });
  }
  const pending = increase.undecided
    .filter((u) => !increase.event || u.date < increase.event.date)
    .map((u): PendingCheck => ({ date: u.date, from: u.from, detail: `D7(d) undecided (D10): ${u.detail}`, evidence: u.evidence }));
  return { events, pending };
}

/**
 * Withdrawal (D6): status withdrawn, or off-study ending before the week-48 assessment (or with no
 * week-48 assessment at all), is early discontinuation: non-responder at every visit after
 * period.end, the endpoint included. off-study on or after the week-48 assessment day is completion.
 * Without period.end the discontinuation applies to the endpoint only.
 */
function withdrawalEvents(researchSubjects: readonly ResearchSubject[], week48Date: string | undefined, rules: DerivationRules): NonResponseEvent[] {
  const w = rules.response.withdrawal;
  const events: NonResponseEvent[] = [];
  for (const rs of researchSubjects) {
    const end = rs.period?.end ? calendarDate(rs.period.end) : undefined;
    const withdrawn = w.withdrawnStatuses.includes(rs.status);
    const offStudy = w.offStudyStatuses.includes(rs.status);
    const completed = offStudy && week48Date !== undefined && (end === undefined || end >= week48Date);
    if (!(withdrawn || offStudy) || completed) {
      continue;
    }
    const why = withdrawn ? 'withdrawn' : week48Date ? `off-study before the week-48 assessment (${week48Date})` : 'off-study without a week-48 assessment';
    events.push({
      reason: 'withdrawal',
      // "Every later visit": a visit on the day of discontinuation was still done on study.
      ...(end ? { from: addDays(end, 1) } : {}),
      ...(withdrawn ? { endpoint: true } : {}),
      detail: `${w.decision}: ResearchSubject/${rs.id ?? '?'} status ${rs.status}${end ? ` ended ${end}` : ''}: ${why}, early discontinuation.`,
      evidence: [rs],
    });
  }
  return events;
}

/** D6: a note on the endpoint when off-study after the week-48 assessment is completion. */
function completionNote(researchSubjects: readonly ResearchSubject[], week48Date: string | undefined, rules: DerivationRules): string[] {
  const w = rules.response.withdrawal;
  return researchSubjects
    .filter((rs) => w.offStudyStatuses.includes(rs.status) && week48Date !== undefined && (!rs.period?.end || calendarDate(rs.period.end) >= week48Date))
    .map((rs) => `${w.decision}: ResearchSubject/${rs.id ?? '?'} off-study${rs.period?.end ? ` from ${calendarDate(rs.period.end)}` : ''}, on or after the week-48 assessment (${week48Date ?? '?'}): completed the study, not a withdrawal.`);
}

function stateObservations(
  visit: AssessedVisit,
  assessed: readonly AssessedVisit[],
  observations: readonly Observation[],
  medications: readonly MedicationResource[],
  ctx: DerivedContext,
): { observations: Observation[]; reviews: ReviewItem[] } {
  const { rules, urls } = ctx;
  const prednisone = prednisoneEquivalentOn(visit.visit.date, medications, rules.medications, { observations, urls });
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
  const lldasObservation = stateObservation(
    {
      kind: 'lldas',
      visit,
      criteria: [lldas.sledai, lldas.noNewActivity, lldas.pga, lldas.glucocorticoid, lldas.maintenance],
      treatment,
      sledaiVisits: previous ? [visit, previous] : [visit],
      extraEvidence: [...hemolysis, ...(gi ? [gi] : [])],
    },
    ctx,
  );
  const dorisObservation = stateObservation(
    { kind: 'doris', visit, criteria: [doris.clinicalSledai, doris.pga, doris.glucocorticoid, doris.maintenance], treatment, sledaiVisits: [visit], extraEvidence: [] },
    ctx,
  );
  // D10: an undecided dose at the visit leaves LLDAS and DORIS open until the investigator decides it.
  const reviews = prednisone.decidedBy ? [] : prednisone.undecided.map((u) => doseReview(visit.visit.date, `Observation/${lldasObservation.id ?? ''}`, u.records, ctx));
  return { observations: [lldasObservation, dorisObservation], reviews };
}

/** A D10 review item: the prednisone-equivalent dose on a date, for the Observation that needed it. */
function doseReview(date: string, focus: string, records: readonly Resource[], ctx: DerivedContext): ReviewItem {
  const code = ctx.rules.medications.glucocorticoids.currentDose.investigatorDecision.component;
  return {
    question: 'review-glucocorticoid-dose',
    subject: ctx.subject,
    focus,
    item: { system: ctx.urls.assessments, code, display: 'Prednisone-equivalent dose' },
    date,
    reason: 'conflicting-dose-records',
    evidence: referencesTo(records).map((r) => r.reference ?? ''),
  };
}

/**
 * Review items for the D7(d) checks an undecided dose leaves open, each focused on the primary index
 * (SRI-4) at the first visit the undecided day matters for.
 */
function pendingReviews(pending: readonly PendingCheck[], post: readonly AssessedVisit[], ctx: DerivedContext): ReviewItem[] {
  const index = ctx.rules.response.sri.primaryEndpoint.index;
  return pending.flatMap((p) => {
    const visit = post.find((v) => v.visit.date >= p.from);
    return visit ? [doseReview(p.date, `Observation/${derivedId(ctx.subject, visit.visit.key, index)}`, p.evidence, ctx)] : [];
  });
}

/** One review item per question, item, visit and date: the first (most specific) focus wins. */
function dedupeReviews(items: readonly ReviewItem[]): ReviewItem[] {
  const seen = new Set<string>();
  return items.filter((r) => {
    const key = JSON.stringify([r.question, r.item.system, r.item.code, r.visit ?? '', r.date ?? '', r.question === 'review-glucocorticoid-dose' ? '' : r.focus]);
    return !seen.has(key) && seen.add(key);
  });
}

/** A Condition the clinician refuted or entered in error is not evidence (D5 attributions). */
function isRefuted(condition: Condition): boolean {
  const status = condition.verificationStatus?.coding?.map((c) => c.code) ?? [];
  return status.includes('refuted') || status.includes('entered-in-error');
}

/**
 * SRI Observations for a week-48 visit that did not happen: once the subject has discontinued (D6),
 * or once asOf is past the endpoint window (response-indices.md §3: endpoint missing = non-responder).
 */
function missingEndpoint(
  baseline: Baseline,
  day0: string | undefined,
  asOf: string,
  events: readonly NonResponseEvent[],
  dosed: boolean,
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
  const applicable = [...events.filter((e) => e.reason === 'withdrawal' || (e.from !== undefined && e.from <= asOf)), ...missing];
  const period = day0 ? { start: addDays(day0, endpoint.windowStartDay), end: addDays(day0, endpoint.windowEndDay) } : undefined;
  const systems: ItemSystems = { sledai: ctx.urls.sledai, bilag: ctx.urls.bilag, assessments: ctx.urls.assessments };
  return ctx.rules.response.sri.indices.map((index) =>
    sriObservation(
      {
        index,
        visit: { key: endpoint.visit, code: endpoint.visit },
        outcome: sriOutcome(baseline, undefined, index.minReduction, applicable, ctx.rules, systems),
        baseline,
        events: applicable,
        dosed,
        ...(period ? { period } : {}),
      },
      ctx,
    ),
  );
}
