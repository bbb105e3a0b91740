import type { CodeableConcept, Coding, Condition, Extension, Observation, ObservationComponent, Resource } from '@medplum/fhirtypes';
import type { ReviewItem } from '../../commons/review/review-item.js';
import { addDays, calendarDate, codeIn, observationDate, referencesTo, referenceTo, resolveSystem, type StudyUrls } from './fhir-access.js';
import { evaluateAnalyte } from './lab-rules.js';
import { exposurePeriod, isUsableMedication, matchesDrug, type MedicationResource } from './medications.js';
import { derivedHeader, derivedId, EHR_TOTAL_EXTENSION, evidenceParts, EVIDENCE_SOURCE_EXTENSION, LOOK_BACK_EXTENSION, type DerivedContext } from './observations.js';
import type { DerivationRules, DescriptorRule } from './rules.js';
import type { StudyVisit } from './visits.js';

const LOINC = 'http://loinc.org';
const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';

/** What the scoring of a visit reads besides the visit's own assessments. */
export interface SledaiInputs {
  /** The subject's usable Observations (labs and vital signs are taken from all of them by date). */
  readonly observations: readonly Observation[];
  /** The subject's medication records (D5: drugs that cause leukopenia or thrombocytopenia). */
  readonly medications: readonly MedicationResource[];
  /** The subject's Conditions (D5: infections that explain pyuria, haematuria or fever). */
  readonly conditions: readonly Condition[];
}

/** A descriptor that counts at a visit, and why. */
export interface DescriptorFinding {
  readonly code: string;
  readonly weight: number;
  readonly groups: readonly string[];
  /** `clinician`: recorded present (by the clinician or, settling a review, the investigator); `laboratory`: a qualifying result in the window, not confirmed by a clinician. */
  readonly source: 'clinician' | 'laboratory';
  readonly evidence: readonly Observation[];
}

/** Why the data cannot decide a descriptor (study-assessments codes). */
export type UndecidedReason = 'no-usable-range' | 'drug-attribution' | 'infection-attribution';

/** A descriptor the data cannot decide (D4, D5): not counted, named on the score, reviewed by the investigator. */
export interface UndecidedDescriptor {
  readonly code: string;
  readonly reason: UndecidedReason;
  /** The results behind it: those without a usable range (D4), or those that meet the rule (D5). */
  readonly evidence: readonly Observation[];
  /** D5: the medication records or infection Conditions that may explain the finding. */
  readonly causes: readonly (MedicationResource | Condition)[];
}

/** The SLEDAI-2K of one visit. */
export interface SledaiScore {
  readonly visit: StudyVisit;
  /** The look-back window, both ends inclusive (YYYY-MM-DD): D2. */
  readonly window: { readonly start: string; readonly end: string };
  /** The total (0–105), only when every descriptor is assessed and decided (D3); a partial score has none. */
  readonly total?: number;
  /** Whether all 24 descriptors are assessed and decided. */
  readonly complete: boolean;
  /** Descriptors nobody assessed (D3), in the order of the data. */
  readonly missing: readonly string[];
  /** Descriptors the data cannot decide (D4, D5), in the order of the data. */
  readonly undecided: readonly UndecidedDescriptor[];
  /** Present descriptors, in the order of the data. Their weights sum to the total, or to a lower bound of it when partial. */
  readonly present: readonly DescriptorFinding[];
  /** The clinician's (and investigator's) descriptor records that decided descriptors of the visit (present and absent). */
  readonly clinicianRecords: readonly Observation[];
  /** Lab results in the window whose comparator leaves them on both sides of a limit: they assess nothing. */
  readonly indeterminate: readonly Observation[];
  /** The total the EHR sent for the visit, kept as sent. */
  readonly ehrTotal?: { readonly value: number; readonly observation: Observation };
}

/**
 * The look-back window of a visit: the visit day and the `lookBackDays` days before it (D2,
 * sledai-2k.md §1; with 10, day D-10 counts and D-11 does not).
 * @param visitDate - The visit date.
 * @param lookBackDays - Days of look-back.
 * @returns Start and end, inclusive.
 */
export function lookBackWindow(visitDate: string, lookBackDays: number): { start: string; end: string } {
  return { start: addDays(visitDate, -lookBackDays), end: calendarDate(visitDate) };
}

type Window = { readonly start: string; readonly end: string };

function inWindow(observation: Observation, window: Window): boolean {
  const date = observationDate(observation);
  const day = date ? calendarDate(date) : undefined;
  return day !== undefined && day >= window.start && day <= window.end;
}

function loincCodes(observation: Observation): string[] {
  return (observation.code.coding ?? []).filter((c) => c.system === LOINC && c.code).map((c) => c.code as string);
}

interface LabOutcome {
  readonly meets: Observation[];
  readonly fails: Observation[];
  /** D4: reference-range results with neither a usable range nor a flag. */
  readonly noRange: Observation[];
  /** Comparator straddles the limit: not a qualifying result. */
  readonly indeterminate: Observation[];
}

function labOutcome(descriptor: DescriptorRule, labs: readonly Observation[], rules: DerivationRules): LabOutcome {
  const outcome: LabOutcome = { meets: [], fails: [], noRange: [], indeterminate: [] };
  const analytes = labAnalytes(descriptor, rules);
  for (const observation of labs) {
    const codes = loincCodes(observation);
    for (const analyte of analytes.filter((a) => codes.includes(a.loinc))) {
      switch (evaluateAnalyte(observation, analyte, rules.labs)) {
        case 'meets':
          outcome.meets.push(observation);
          break;
        case 'fails':
          outcome.fails.push(observation);
          break;
        case 'no-usable-range':
          outcome.noRange.push(observation);
          break;
        case 'undecided':
          outcome.indeterminate.push(observation);
          break;
        case undefined:
          break;
      }
    }
  }
  return outcome;
}

function labAnalytes(descriptor: DescriptorRule, rules: DerivationRules): DerivationRules['labs']['rules'][number]['analytes'] {
  return rules.labs.rules
    .filter((r) => r.descriptor === descriptor.code)
    .flatMap((r) => r.analytes)
    .filter((a) => a.switch === undefined || rules.labs.switches[a.switch] === true);
}

/** A clinician's decision of a descriptor: valueBoolean, or a study-assessments present / absent code. */
function recordedValue(observation: Observation, urls: StudyUrls): boolean | undefined {
  if (observation.valueBoolean !== undefined) {
    return observation.valueBoolean;
  }
  const code = observation.valueCodeableConcept?.coding?.find((c) => c.system === urls.assessments)?.code;
  return code === 'present' ? true : code === 'absent' ? false : undefined;
}

/**
 * The record that decides each descriptor of a visit: the investigator's (meta.source
 * `{base}/investigator`, settling a review) over the clinician's, and the latest of each (the visit's
 * assessments are sorted by date then id).
 */
function decidingRecords(visit: StudyVisit, urls: StudyUrls, rules: DerivationRules): Map<string, Observation> {
  const investigator = resolveSystem(rules.sledai.investigatorSource, urls);
  const clinician = new Map<string, Observation>();
  const settled = new Map<string, Observation>();
  for (const observation of visit.assessments) {
    const code = codeIn(observation, urls.sledai);
    if (code && recordedValue(observation, urls) !== undefined) {
      (observation.meta?.source === investigator ? settled : clinician).set(code, observation);
    }
  }
  return new Map([...clinician, ...settled]);
}

function ehrTotalOf(visit: StudyVisit, urls: StudyUrls, rules: DerivationRules): SledaiScore['ehrTotal'] {
  const record = visit.assessments.filter((o) => codeIn(o, urls.sledai) === rules.sledai.totalCode).at(-1);
  const value = record?.valueInteger ?? record?.valueQuantity?.value;
  return record && value !== undefined ? { value, observation: record } : undefined;
}

function overlapsWindow(period: { start?: string; end?: string } | undefined, window: Window): boolean {
  return !!period && (period.start === undefined || period.start <= window.end) && (period.end === undefined || period.end >= window.start);
}

/** D5: the drug records (usable, matching the data's list, exposure overlapping the window) that may explain the descriptor. */
function drugCauses(code: string, medications: readonly MedicationResource[], window: Window, rules: DerivationRules): MedicationResource[] {
  const drug = rules.labs.attribution.drug;
  if (!drug.descriptors.includes(code)) {
    return [];
  }
  return medications.filter(
    (m) =>
      isUsableMedication(m, rules.medications) &&
      drug.drugs.some((d) => matchesDrug(m.medicationCodeableConcept, d, rules.medications)) &&
      overlapsWindow(exposurePeriod(m), window),
  );
}

function normaliseIcd(code: string): string {
  const upper = code.trim().toUpperCase();
  return upper.length > 3 && upper[3] !== '.' ? `${upper.slice(0, 3)}.${upper.slice(3)}` : upper;
}

/** Whether a coding is in the infection code list (exact codes; ICD-10-CM categories and prefixes in dotted form). */
function isInfectionCoding(coding: Coding, rules: DerivationRules): boolean {
  return rules.labs.attribution.infection.codes.some((list) => {
    if (!coding.code || coding.system !== list.system) {
      return false;
    }
    const norm = (c: string): string => (list.system === ICD10CM ? normaliseIcd(c) : c);
    const code = norm(coding.code);
    const category = code.slice(0, 3);
    return (
      (list.codes ?? []).some((c) => norm(c) === code) ||
      (list.prefixes ?? []).some((p) => code.startsWith(norm(p))) ||
      (list.ranges ?? []).some((r) => category >= r.from.toUpperCase() && category <= r.to.toUpperCase())
    );
  });
}

/** When a Condition held: onset (or recordedDate) to abatement; open while active; an inactive one without abatement covers its onset day. */
function conditionPeriod(condition: Condition, rules: DerivationRules): { start?: string; end?: string } | undefined {
  const { inactiveClinicalStatuses } = rules.labs.attribution.infection;
  const startRaw = condition.onsetDateTime ?? condition.onsetPeriod?.start ?? condition.recordedDate;
  const start = startRaw ? calendarDate(startRaw) : undefined;
  const endRaw = condition.abatementDateTime ?? condition.abatementPeriod?.end ?? condition.abatementPeriod?.start;
  const status = condition.clinicalStatus?.coding?.[0]?.code;
  const inactive = status !== undefined && inactiveClinicalStatuses.includes(status);
  if (endRaw) {
    return { ...(start ? { start } : {}), end: calendarDate(endRaw) };
  }
  if (inactive) {
    // Resolved at an unknown date: only its onset day is known.
    return start ? { start, end: start } : undefined;
  }
  return start ? { start } : {};
}

/** D5: coded infections (verification not refuted) that overlap the window and may explain the descriptor. */
function infectionCauses(code: string, conditions: readonly Condition[], window: Window, rules: DerivationRules): Condition[] {
  const infection = rules.labs.attribution.infection;
  if (!infection.descriptors.includes(code)) {
    return [];
  }
  return conditions.filter((c) => {
    const verification = c.verificationStatus?.coding?.[0]?.code;
    if (verification !== undefined && infection.ignoredVerificationStatuses.includes(verification)) {
      return false;
    }
    return (c.code?.coding ?? []).some((k) => isInfectionCoding(k, rules)) && overlapsWindow(conditionPeriod(c, rules), window);
  });
}

/**
 * Scores SLEDAI-2K for one visit (sledai-2k.md §1–§4, study decisions D2–D5).
 *
 * A clinician's record for the visit (present or absent; the investigator's, settling a review, wins)
 * decides a descriptor whatever the labs say. Without one, a lab descriptor is assessed by the results
 * in the look-back window (D2): present when any result meets its rule, absent when qualifying results
 * exist and none meets. Low complement and DNA binding are judged against the reporting lab's own range,
 * a titre against a titre range, a flag when no range is usable (D4); a result that none of these
 * decides makes the descriptor *undecided* (no-usable-range). A lab-derived leukopenia or
 * thrombocytopenia while the subject takes a drug that causes it, or a lab-derived pyuria, haematuria or
 * fever with a coded infection in the window, is *undecided* too (D5). Any other descriptor without a
 * record or a qualifying result is *missing*, never absent (D3). The score has a total only when nothing
 * is missing or undecided; otherwise it is partial.
 * @param visit - The visit.
 * @param inputs - The subject's Observations, medication records and Conditions.
 * @param urls - The study URLs.
 * @param rules - The derivation rules.
 * @returns The score; undefined only for a visit with no SLEDAI-2K data at all when the data says not to score such visits.
 */
export function scoreSledai(visit: StudyVisit, inputs: SledaiInputs, urls: StudyUrls, rules: DerivationRules): SledaiScore | undefined {
  const records = decidingRecords(visit, urls, rules);
  const window = lookBackWindow(visit.date, rules.sledai.lookBackDays);
  const labs = inputs.observations.filter((o) => loincCodes(o).length > 0 && inWindow(o, window));
  const present: DescriptorFinding[] = [];
  const missing: string[] = [];
  const undecided: UndecidedDescriptor[] = [];
  const indeterminate = new Set<Observation>();
  let assessedAny = false;
  for (const descriptor of rules.sledai.descriptors) {
    const record = records.get(descriptor.code);
    if (record) {
      assessedAny = true;
      if (recordedValue(record, urls)) {
        present.push({ ...pick(descriptor), source: 'clinician', evidence: [record] });
      }
      continue;
    }
    const outcome = labOutcome(descriptor, labs, rules);
    outcome.indeterminate.forEach((o) => indeterminate.add(o));
    if (outcome.meets.length > 0) {
      assessedAny = true;
      const drugs = drugCauses(descriptor.code, inputs.medications, window, rules);
      const infections = drugs.length > 0 ? [] : infectionCauses(descriptor.code, inputs.conditions, window, rules);
      if (drugs.length > 0) {
        undecided.push({ code: descriptor.code, reason: 'drug-attribution', evidence: outcome.meets, causes: drugs });
      } else if (infections.length > 0) {
        undecided.push({ code: descriptor.code, reason: 'infection-attribution', evidence: outcome.meets, causes: infections });
      } else {
        present.push({ ...pick(descriptor), source: 'laboratory', evidence: outcome.meets });
      }
    } else if (outcome.noRange.length > 0) {
      // One result says "not met", another cannot be judged: the window rule (any result) cannot say absent.
      assessedAny = true;
      undecided.push({ code: descriptor.code, reason: 'no-usable-range', evidence: outcome.noRange, causes: [] });
    } else if (outcome.fails.length > 0) {
      assessedAny = true;
    } else {
      missing.push(descriptor.code);
    }
  }
  const ehrTotal = ehrTotalOf(visit, urls, rules);
  if (!assessedAny && !ehrTotal && !rules.sledai.completeness.scoreVisitsWithoutData) {
    return undefined;
  }
  const complete = missing.length === 0 && undecided.length === 0;
  const clinicianRecords = [...records.values()].sort((a, b) => (a.id ?? '').localeCompare(b.id ?? ''));
  return {
    visit,
    window,
    ...(complete ? { total: sumOf(present) } : {}),
    complete,
    missing,
    undecided,
    present,
    clinicianRecords,
    indeterminate: [...indeterminate],
    ...(ehrTotal ? { ehrTotal } : {}),
  };
}

function pick(descriptor: DescriptorRule): Pick<DescriptorFinding, 'code' | 'weight' | 'groups'> {
  return { code: descriptor.code, weight: descriptor.weight, groups: descriptor.groups };
}

function sumOf(findings: readonly DescriptorFinding[]): number {
  return findings.reduce((sum, f) => sum + f.weight, 0);
}

function descriptorCoding(code: string, ctx: DerivedContext): Coding {
  return { system: ctx.urls.sledai, code, display: ctx.rules.sledai.descriptors.find((d) => d.code === code)?.display ?? code };
}

function assessment(ctx: DerivedContext, code: string): CodeableConcept {
  return { coding: [{ system: ctx.urls.assessments, code }] };
}

/**
 * The components of a score in the order of the descriptors: a present descriptor with its weight and
 * the source of the finding; a missing one with dataAbsentReason not-performed and interpretation
 * descriptor-missing; an undecided one with dataAbsentReason unknown, interpretation
 * descriptor-undecided and the reason (D3, D4, D5).
 */
function descriptorComponents(score: SledaiScore, ctx: DerivedContext): ObservationComponent[] {
  const { urls, rules } = ctx;
  const { missingReason, undecidedReason } = rules.sledai.completeness;
  const out: ObservationComponent[] = [];
  for (const descriptor of rules.sledai.descriptors) {
    const code = { coding: [descriptorCoding(descriptor.code, ctx)] };
    const finding = score.present.find((f) => f.code === descriptor.code);
    const open = score.undecided.find((u) => u.code === descriptor.code);
    if (finding) {
      out.push({ extension: [{ url: urls.structureDefinition(EVIDENCE_SOURCE_EXTENSION), valueCode: finding.source }], code, valueInteger: finding.weight });
    } else if (open) {
      out.push({ code, dataAbsentReason: { coding: [undecidedReason] }, interpretation: [assessment(ctx, 'descriptor-undecided'), assessment(ctx, open.reason)] });
    } else if (score.missing.includes(descriptor.code)) {
      out.push({ code, dataAbsentReason: { coding: [missingReason] }, interpretation: [assessment(ctx, 'descriptor-missing')] });
    }
  }
  return out;
}

/**
 * The `sledai-2k-score` Observation of a visit. Complete (D3): status final, valueInteger total, one
 * component per present descriptor with valueInteger = its weight (the components sum to the total) and
 * the source of the finding. Partial: status preliminary, no valueInteger but dataAbsentReason, one
 * component per missing or undecided descriptor (code, dataAbsentReason, interpretation saying which),
 * and a `partial-score` component with the sum of the present descriptors, a lower bound and never the
 * total. Always: the look-back window in an extension (D2; effective[x] holds the visit date),
 * derivedFrom the clinician records and the results behind present and undecided descriptors (the
 * medication records and Conditions of D5 in derivation-evidence extensions), the EHR's own total, if
 * sent, in an extension, compared only with a complete score.
 * @param score - The visit's score.
 * @param ctx - The subject context.
 * @returns The derived Observation.
 */
export function sledaiObservation(score: SledaiScore, ctx: DerivedContext): Observation {
  const { urls, rules } = ctx;
  const header = derivedHeader(ctx, score.visit, 'sledai-2k', {
    coding: [{ system: urls.sledai, code: rules.sledai.totalCode, display: 'SLEDAI-2K total' }],
    text: 'SLEDAI-2K total',
  });
  const component = descriptorComponents(score, ctx);
  if (!score.complete) {
    component.push({ code: { coding: [{ system: urls.assessments, code: 'partial-score', display: 'Partial SLEDAI-2K' }] }, valueInteger: sumOf(score.present) });
  }
  const evidence = evidenceParts(ctx, [], [
    ...score.clinicianRecords,
    ...score.present.flatMap((f) => f.evidence),
    ...score.undecided.flatMap((u): Resource[] => [...u.evidence, ...u.causes]),
  ]);
  const extension: Extension[] = [
    ...(header.extension ?? []),
    { url: urls.structureDefinition(LOOK_BACK_EXTENSION), valuePeriod: { start: score.window.start, end: score.window.end } },
    ...evidence.extension,
  ];
  const notes: string[] = [];
  if (!score.complete) {
    const undecided = score.undecided.map((u) => `${u.code} (${u.reason})`);
    notes.push(
      `Partial SLEDAI-2K (${rules.sledai.completeness.decision}): no total. ` +
        (score.missing.length > 0 ? `Missing: ${score.missing.join(', ')}. ` : '') +
        (undecided.length > 0 ? `Undecided, for the investigator: ${undecided.join(', ')}. ` : '') +
        `The present descriptors sum to ${sumOf(score.present)}, a lower bound of the total.`,
    );
  }
  if (score.ehrTotal) {
    const source = referenceTo(score.ehrTotal.observation);
    const agrees = score.total === undefined ? undefined : score.ehrTotal.value === score.total;
    extension.push({
      url: urls.structureDefinition(EHR_TOTAL_EXTENSION),
      extension: [
        { url: 'value', valueInteger: score.ehrTotal.value },
        ...(agrees === undefined ? [] : [{ url: 'agrees', valueBoolean: agrees }]),
        ...(source ? [{ url: 'source', valueReference: source }] : []),
      ],
    });
    if (agrees === false) {
      notes.push(`The EHR reported a SLEDAI-2K total of ${score.ehrTotal.value}; the descriptors give ${score.total ?? '?'}. The EHR total is kept as sent.`);
    } else if (agrees === undefined) {
      notes.push(`The EHR reported a SLEDAI-2K total of ${score.ehrTotal.value}; it is kept as sent and not compared, since the descriptors give no total.`);
    }
  }
  if (score.indeterminate.length > 0) {
    const refs = referencesTo(score.indeterminate).map((r) => r.reference).join(', ');
    notes.push(`Lab results whose comparator could not decide a descriptor (not qualifying results): ${refs}.`);
  }
  return {
    ...header,
    ...(score.complete ? {} : { status: 'preliminary' }),
    extension,
    ...(score.total === undefined ? { dataAbsentReason: { coding: [rules.sledai.completeness.totalAbsentReason] } } : { valueInteger: score.total }),
    ...(component.length > 0 ? { component } : {}),
    ...(evidence.derivedFrom.length > 0 ? { derivedFrom: evidence.derivedFrom } : {}),
    ...(notes.length > 0 ? { note: notes.map((text) => ({ text })) } : {}),
  };
}

/**
 * One review item per undecided descriptor (D4, D5): the investigator decides it by writing a SLEDAI-2K
 * descriptor record for the visit (valueBoolean, meta.source `{base}/investigator`), which then decides
 * the descriptor like a clinician record.
 * @param score - The visit's score.
 * @param ctx - The subject context.
 * @returns The review items, in the order of the descriptors.
 */
export function sledaiReviewItems(score: SledaiScore, ctx: DerivedContext): ReviewItem[] {
  const focus = `Observation/${derivedId(ctx.subject, score.visit.key, 'sledai-2k')}`;
  return score.undecided.map((u) => ({
    question: 'review-sledai-descriptor',
    subject: ctx.subject,
    focus,
    item: descriptorCoding(u.code, ctx) as ReviewItem['item'],
    visit: score.visit.code,
    date: score.visit.date,
    reason: u.reason,
    evidence: referencesTo([...u.evidence, ...u.causes]).map((r) => r.reference as string),
  }));
}

