import type { Extension, Observation, ObservationComponent } from '@medplum/fhirtypes';
import { addDays, calendarDate, observationDate, referencesTo, referenceTo, type StudyUrls } from './fhir-access.js';
import { evaluateAnalyte } from './lab-rules.js';
import { derivedHeader, EHR_TOTAL_EXTENSION, evidenceParts, EVIDENCE_SOURCE_EXTENSION, LOOK_BACK_EXTENSION, type DerivedContext } from './observations.js';
import type { DerivationRules, DescriptorRule } from './rules.js';
import { latestByCode, type StudyVisit } from './visits.js';

const LOINC = 'http://loinc.org';

/** A descriptor that counts at a visit, and why. */
export interface DescriptorFinding {
  readonly code: string;
  readonly weight: number;
  readonly groups: readonly string[];
  /** `clinician`: recorded present; `laboratory`: no clinician record and a qualifying result in the window. */
  readonly source: 'clinician' | 'laboratory';
  readonly evidence: readonly Observation[];
}

/** The SLEDAI-2K of one visit. */
export interface SledaiScore {
  readonly visit: StudyVisit;
  /** The look-back window, both ends inclusive (YYYY-MM-DD). */
  readonly window: { readonly start: string; readonly end: string };
  /** Sum of the weights of the present descriptors (0–105). */
  readonly total: number;
  /** Present descriptors, in the order of the data. */
  readonly present: readonly DescriptorFinding[];
  /** The clinician's descriptor records of the visit (present and absent). */
  readonly clinicianRecords: readonly Observation[];
  /** Lab results in the window whose comparator or range could not decide a descriptor. */
  readonly undecided: readonly Observation[];
  /** The total the EHR sent for the visit, kept as sent. */
  readonly ehrTotal?: { readonly value: number; readonly observation: Observation };
}

/**
 * The look-back window of a visit: the visit day and the `lookBackDays` days before it (sledai-2k.md
 * §1; with 10, day D-10 counts and D-11 does not).
 * @param visitDate - The visit date.
 * @param lookBackDays - Days of look-back.
 * @returns Start and end, inclusive.
 */
export function lookBackWindow(visitDate: string, lookBackDays: number): { start: string; end: string } {
  return { start: addDays(visitDate, -lookBackDays), end: calendarDate(visitDate) };
}

function inWindow(observation: Observation, window: { start: string; end: string }): boolean {
  const date = observationDate(observation);
  const day = date ? calendarDate(date) : undefined;
  return day !== undefined && day >= window.start && day <= window.end;
}

function loincCodes(observation: Observation): string[] {
  return (observation.code.coding ?? []).filter((c) => c.system === LOINC && c.code).map((c) => c.code as string);
}

interface LabOutcome {
  readonly meets: Observation[];
  readonly undecided: Observation[];
}

function labOutcome(descriptor: DescriptorRule, labs: readonly Observation[], rules: DerivationRules): LabOutcome {
  const meets: Observation[] = [];
  const undecided: Observation[] = [];
  const analytes = rules.labs.rules
    .filter((r) => r.descriptor === descriptor.code)
    .flatMap((r) => r.analytes)
    .filter((a) => a.switch === undefined || rules.labs.switches[a.switch] === true);
  for (const observation of labs) {
    const codes = loincCodes(observation);
    for (const analyte of analytes.filter((a) => codes.includes(a.loinc))) {
      const decision = evaluateAnalyte(observation, analyte, rules.labs);
      if (decision === 'meets') {
        meets.push(observation);
      } else if (decision === 'undecided') {
        undecided.push(observation);
      }
    }
  }
  return { meets, undecided };
}

/**
 * Scores SLEDAI-2K for one visit (sledai-2k.md §1–§4). A clinician's explicit record (valueBoolean)
 * decides a descriptor, whatever the labs say; without one, a lab descriptor is present when any
 * result in the look-back window meets its rule, and every other descriptor counts as absent. A visit
 * without any clinician SLEDAI-2K descriptor record is not scored: a lab-only total would understate
 * activity, so the score is missing rather than low.
 * @param visit - The visit.
 * @param observations - The subject's usable Observations (labs are taken from all of them by date).
 * @param urls - The study URLs.
 * @param rules - The derivation rules.
 * @returns The score, or undefined when the visit has no SLEDAI-2K descriptor record.
 */
export function scoreSledai(visit: StudyVisit, observations: readonly Observation[], urls: StudyUrls, rules: DerivationRules): SledaiScore | undefined {
  const records = latestByCode(visit, urls.sledai);
  const totalRecord = records.get(rules.sledai.totalCode);
  records.delete(rules.sledai.totalCode);
  const clinicianRecords = [...records.values()].filter((o) => o.valueBoolean !== undefined);
  if (clinicianRecords.length === 0) {
    return undefined;
  }
  const window = lookBackWindow(visit.date, rules.sledai.lookBackDays);
  const labs = observations.filter((o) => loincCodes(o).length > 0 && inWindow(o, window));
  const present: DescriptorFinding[] = [];
  const undecided = new Set<Observation>();
  for (const descriptor of rules.sledai.descriptors) {
    const record = records.get(descriptor.code);
    if (record?.valueBoolean !== undefined) {
      if (record.valueBoolean) {
        present.push({ ...pick(descriptor), source: 'clinician', evidence: [record] });
      }
      continue;
    }
    const outcome = labOutcome(descriptor, labs, rules);
    if (outcome.meets.length > 0) {
      present.push({ ...pick(descriptor), source: 'laboratory', evidence: outcome.meets });
    } else {
      outcome.undecided.forEach((o) => undecided.add(o));
    }
  }
  const ehrValue = totalRecord?.valueInteger ?? totalRecord?.valueQuantity?.value;
  return {
    visit,
    window,
    total: present.reduce((sum, f) => sum + f.weight, 0),
    present,
    clinicianRecords,
    undecided: [...undecided],
    ...(totalRecord && ehrValue !== undefined ? { ehrTotal: { value: ehrValue, observation: totalRecord } } : {}),
  };
}

function pick(descriptor: DescriptorRule): Pick<DescriptorFinding, 'code' | 'weight' | 'groups'> {
  return { code: descriptor.code, weight: descriptor.weight, groups: descriptor.groups };
}

/**
 * The `sledai-2k-score` Observation of a visit: valueInteger total; one component per present
 * descriptor with valueInteger = its weight (so the components sum to the total) and the source of the
 * finding; the look-back window in an extension (effective[x] holds the visit date); derivedFrom the
 * clinician records and the qualifying lab results; the EHR's own total, if sent, in an extension,
 * with a note when it disagrees.
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
  const component: ObservationComponent[] = score.present.map((f) => ({
    extension: [{ url: urls.structureDefinition(EVIDENCE_SOURCE_EXTENSION), valueCode: f.source }],
    code: { coding: [{ system: urls.sledai, code: f.code, display: rules.sledai.descriptors.find((d) => d.code === f.code)?.display ?? f.code }] },
    valueInteger: f.weight,
  }));
  const extension: Extension[] = [
    ...(header.extension ?? []),
    { url: urls.structureDefinition(LOOK_BACK_EXTENSION), valuePeriod: { start: score.window.start, end: score.window.end } },
  ];
  const notes: string[] = [];
  if (score.ehrTotal) {
    const agrees = score.ehrTotal.value === score.total;
    const source = referenceTo(score.ehrTotal.observation);
    extension.push({
      url: urls.structureDefinition(EHR_TOTAL_EXTENSION),
      extension: [
        { url: 'value', valueInteger: score.ehrTotal.value },
        { url: 'agrees', valueBoolean: agrees },
        ...(source ? [{ url: 'source', valueReference: source }] : []),
      ],
    });
    if (!agrees) {
      notes.push(`The EHR reported a SLEDAI-2K total of ${score.ehrTotal.value}; the descriptors give ${score.total}. The EHR total is kept as sent.`);
    }
  }
  if (score.undecided.length > 0) {
    const refs = referencesTo(score.undecided).map((r) => r.reference).join(', ');
    notes.push(`Lab results whose comparator or range could not decide a descriptor: ${refs}.`);
  }
  return {
    ...header,
    extension,
    valueInteger: score.total,
    ...(component.length > 0 ? { component } : {}),
    derivedFrom: evidenceParts(ctx, [], [...score.clinicianRecords, ...score.present.flatMap((f) => f.evidence)]).derivedFrom,
    ...(notes.length > 0 ? { note: notes.map((text) => ({ text })) } : {}),
  };
}
