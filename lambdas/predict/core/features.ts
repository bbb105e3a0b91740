/**
 * Assembling a model's features from a subject's study resources: lab Observations by code and
 * study-visit extension, derived SLEDAI-2K totals by profile, then the feature's transform (value,
 * change or log-ratio from baseline). A feature that cannot be computed is reported with its reason,
 * never replaced by a default.
 */
import type { Observation, Resource } from '@medplum/fhirtypes';
import { addDays, byDateThenId, observationDate, resolveSystem, studyDayOf, studyUrls, visitCodeOf, type StudyUrls } from '../../derive/core/fhir-access.js';
import { visitWeek, type FeatureSpec, type MeasureSpec, type PredictionModel } from './model-spec.js';

/** What feature assembly and prediction read: the subject's stored resources at a moment. */
export interface SubjectInput {
  /** Canonical base of the study's code systems and profiles. */
  readonly base: string;
  /** The subject's pseudonym (`Patient/{subject}`). */
  readonly subject: string;
  readonly resources: readonly Resource[];
  readonly asOf: Date;
}

/** A feature computed for a subject. */
export interface FeatureValue {
  readonly feature: FeatureSpec;
  readonly value: number;
  /** The Observations the value was computed from. */
  readonly evidence: readonly (Observation & { id?: string })[];
}

/** A feature that could not be computed, and why. */
export interface MissingFeature {
  readonly feature: FeatureSpec;
  readonly reason: string;
}

/** The features of one subject for one model. */
export interface FeatureAssembly {
  readonly values: readonly FeatureValue[];
  readonly missing: readonly MissingFeature[];
  /** Whether the model's timepoint is over: data from a later visit exist, or its window has closed. */
  readonly timepointPassed: boolean;
  /** Date and study day of the timepoint visit, from the subject's records at that visit. */
  readonly timepoint: { readonly date?: string; readonly studyDay?: number };
}

/** A measurement read at one visit. */
export type Measurement = { readonly value: number; readonly observation: Observation } | { readonly reason: string };

/** Statuses of a result that may be used. */
const USABLE = new Set(['final', 'amended', 'corrected']);

/** Days after the timepoint's nominal day at which its visit is taken as over even without later data. */
export const TIMEPOINT_GRACE_DAYS = 14;

const UCUM = 'http://unitsofmeasure.org';

/**
 * Applies a feature transform.
 * @param transform - value, change or log-ratio.
 * @param atVisit - The measure at the feature's visit.
 * @param atBaseline - The measure at baseline (unused for value).
 * @returns The feature value, or the reason it has none.
 * @example
 * applyTransform('log-ratio', 6, 12); // { value: -0.693… }
 */
export function applyTransform(transform: FeatureSpec['transform'], atVisit: number, atBaseline?: number): { value: number } | { reason: string } {
  switch (transform) {
    case 'value':
      return { value: atVisit };
    case 'change':
      return atBaseline === undefined ? { reason: 'no baseline value' } : { value: atVisit - atBaseline };
    case 'log-ratio':
      if (atBaseline === undefined) return { reason: 'no baseline value' };
      if (!(atVisit > 0 && atBaseline > 0)) return { reason: `log-ratio undefined for ${atVisit} / ${atBaseline} (values must be > 0)` };
      return { value: Math.log(atVisit / atBaseline) };
  }
}

function describeMeasure(measure: MeasureSpec): string {
  return measure.source === 'sledai-2k-total' ? 'SLEDAI-2K total' : measure.codes.map((c) => `${c.system}|${c.code}`).join(' or ');
}

/**
 * The measure at a visit: the latest usable Observation of that visit (by clinical date, then id).
 * @param resources - The subject's resources.
 * @param measure - What to read.
 * @param visit - Visit code.
 * @param urls - Study URLs.
 * @returns The value and its Observation, or why there is none.
 */
export function measureAt(resources: readonly Resource[], measure: MeasureSpec, visit: string, urls: StudyUrls): Measurement {
  const sledaiProfile = urls.structureDefinition('sledai-2k-score');
  const codes = measure.source === 'observation' ? measure.codes.map((c) => ({ system: resolveSystem(c.system, urls), code: c.code })) : [];
  const matches = resources.filter((r): r is Observation => {
    if (r.resourceType !== 'Observation' || visitCodeOf(r, urls) !== visit) return false;
    if (measure.source === 'sledai-2k-total') return (r.meta?.profile ?? []).includes(sledaiProfile);
    return !!r.code.coding?.some((c) => codes.some((k) => k.system === c.system && k.code === c.code));
  });
  const usable = matches.filter((o) => USABLE.has(o.status));
  const what = `${describeMeasure(measure)} at ${visit}`;
  if (usable.length === 0) {
    return { reason: matches.length > 0 ? `${what} is ${matches[0]?.status ?? 'not final'}` : `no ${what}` };
  }
  const latest = usable.map((o) => ({ date: observationDate(o), resource: o })).sort(byDateThenId).at(-1)?.resource as Observation;
  if (measure.source === 'sledai-2k-total') {
    return typeof latest.valueInteger === 'number' ? { value: latest.valueInteger, observation: latest } : { reason: `${what} has no valueInteger` };
  }
  const q = latest.valueQuantity;
  if (typeof q?.value !== 'number') return { reason: `${what} has no numeric value` };
  if (q.code !== measure.unit || (q.system !== undefined && q.system !== UCUM)) {
    return { reason: `${what} is in ${q.code ?? q.unit ?? 'no unit'}, the model expects ${measure.unit}` };
  }
  return { value: q.value, observation: latest };
}

/**
 * Computes one feature.
 * @param resources - The subject's resources.
 * @param feature - The feature.
 * @param urls - Study URLs.
 * @returns Its value with evidence, or why it is missing.
 */
export function computeFeature(resources: readonly Resource[], feature: FeatureSpec, urls: StudyUrls): FeatureValue | MissingFeature {
  const at = measureAt(resources, feature.measure, feature.visit, urls);
  if ('reason' in at) return { feature, reason: at.reason };
  let base: Measurement | undefined;
  if (feature.transform !== 'value') {
    base = measureAt(resources, feature.measure, feature.baseline, urls);
    if ('reason' in base) return { feature, reason: base.reason };
  }
  const result = applyTransform(feature.transform, at.value, base && 'value' in base ? base.value : undefined);
  if ('reason' in result) return { feature, reason: `${feature.label}: ${result.reason}` };
  return { feature, value: result.value, evidence: base && 'observation' in base ? [base.observation, at.observation] : [at.observation] };
}

/**
 * Computes every feature of a model for one subject.
 * @param input - The subject's resources.
 * @param model - The model.
 * @returns Values, missing features and whether the timepoint is over.
 */
export function assembleFeatures(input: SubjectInput, model: PredictionModel): FeatureAssembly {
  const urls = studyUrls(input.base);
  const values: FeatureValue[] = [];
  const missing: MissingFeature[] = [];
  for (const feature of model.features) {
    const result = computeFeature(input.resources, feature, urls);
    if ('reason' in result) missing.push(result);
    else values.push(result);
  }
  return { values, missing, timepointPassed: timepointPassed(input, model.timepoint, urls), timepoint: timepointOf(input.resources, model.timepoint, urls) };
}

/** Date and study day of a visit, from the earliest dated record of that visit. */
function timepointOf(resources: readonly Resource[], visit: string, urls: StudyUrls): { date?: string; studyDay?: number } {
  const atVisit = resources
    .filter((r) => r.resourceType === 'Observation' && visitCodeOf(r, urls) === visit)
    .map((r) => ({ date: observationDate(r as Observation), resource: r }))
    .filter((x) => x.date !== undefined)
    .sort(byDateThenId);
  const first = atVisit[0];
  if (!first) return {};
  const studyDay = studyDayOf(first.resource, urls);
  return { ...(first.date ? { date: first.date.slice(0, 10) } : {}), ...(studyDay === undefined ? {} : { studyDay }) };
}

/**
 * Whether a visit is over for a subject: a record of a later scheduled visit exists, or `asOf` is more
 * than {@link TIMEPOINT_GRACE_DAYS} past the visit's nominal day (day 0 known from any record's
 * study-day extension).
 */
function timepointPassed(input: SubjectInput, visit: string, urls: StudyUrls): boolean {
  const week = visitWeek(visit) ?? 0;
  let day0: string | undefined;
  for (const r of input.resources) {
    const v = visitCodeOf(r, urls);
    const w = v === undefined ? undefined : visitWeek(v);
    if (w !== undefined && w > week) return true;
    const studyDay = studyDayOf(r, urls);
    const date = r.resourceType === 'Observation' ? observationDate(r) : undefined;
    if (day0 === undefined && studyDay !== undefined && date) day0 = addDays(date, -studyDay);
  }
  if (day0 === undefined) return false;
  return input.asOf.toISOString().slice(0, 10) > addDays(day0, week * 7 + TIMEPOINT_GRACE_DAYS);
}
