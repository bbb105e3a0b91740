import type { Observation } from '@medplum/fhirtypes';
import type { MedicationResource } from '../../../lambdas/derive/core/medications.js';
import { prednisoneEquivalentOn } from '../../../lambdas/derive/core/glucocorticoids.js';
import type { DerivationRules } from '../../../lambdas/derive/core/rules.js';
import medicationsJson from '../../../fhir-profiles/derivation/medications.json' with { type: 'json' };
import { codeIn, dayOf, LABS, profilesOf, studyExtensions, SYSTEMS, visitOf, wordsOf } from '../study.js';

/** One SLEDAI-2K score of a visit: a total, or a partial score's lower bound (D3). */
export interface SledaiPoint {
  readonly date: string;
  readonly visit: string;
  readonly value: number;
  readonly partial: boolean;
  /** Descriptors missing or undecided, for a partial score. */
  readonly missing: readonly string[];
}

/** An SRI-4 result of a post-baseline visit with its reasons. */
export interface SriRow {
  readonly date: string;
  readonly visit: string;
  /** responder, non-responder, not-evaluable. */
  readonly outcome: string;
  readonly outcomeWords: string;
  readonly reasons: readonly string[];
  readonly primary: boolean;
}

/** A dated number with its unit and series name. */
export interface SeriesPoint {
  readonly series: string;
  readonly date: string;
  readonly value: number;
  readonly unit: string;
  readonly visit: string;
}

/** A BILAG-2004 grade of one domain at one visit. */
export interface BilagCell {
  readonly domain: string;
  readonly date: string;
  readonly visit: string;
  readonly grade: string;
}

/** The early prediction as the subject page shows it. */
export interface PredictionView {
  readonly outcome: string;
  readonly probability: number | undefined;
  readonly modelVersion: string;
  readonly warning: string;
  readonly notEvaluable: string | undefined;
  readonly features: readonly { readonly code: string; readonly label: string; readonly value: string; readonly contribution: number }[];
}

/** Everything the subject page plots. */
export interface SubjectTimeline {
  readonly sledai: readonly SledaiPoint[];
  readonly sri4: readonly SriRow[];
  readonly bilag: readonly BilagCell[];
  readonly pga: readonly SeriesPoint[];
  readonly labs: readonly SeriesPoint[];
  readonly bcells: readonly SeriesPoint[];
  readonly dose: readonly SeriesPoint[];
  readonly prediction: PredictionView | undefined;
}

const byDate = <T extends { date: string }>(a: T, b: T): number => a.date.localeCompare(b.date);

/**
 * The subject's SLEDAI-2K per visit: the total (`valueInteger`) or, for a partial score (D3), the
 * `partial-score` lower bound, marked partial, with the descriptors it misses.
 * @param observations - The subject's Observations.
 * @returns One point per scored visit, by date.
 */
export function sledaiPoints(observations: readonly Observation[]): SledaiPoint[] {
  return observations
    .filter((o) => profilesOf(o).includes('sledai-2k-score'))
    .flatMap((o): SledaiPoint[] => {
      const date = dayOf(o);
      if (!date) return [];
      const visit = visitOf(o) ?? 'unscheduled';
      if (o.valueInteger !== undefined) return [{ date, visit, value: o.valueInteger, partial: false, missing: [] }];
      const partial = o.component?.find((c) => codeIn(c.code, SYSTEMS.assessments) === 'partial-score')?.valueInteger ?? 0;
      const missing = (o.component ?? []).filter((c) => c.dataAbsentReason).map((c) => wordsOf(c.code));
      return [{ date, visit, value: partial, partial: true, missing }];
    })
    .sort(byDate);
}

/**
 * SRI-4 per post-baseline visit with the outcome-reason components in words.
 * @param observations - The subject's Observations.
 * @returns Rows by date.
 */
export function sriRows(observations: readonly Observation[]): SriRow[] {
  return observations
    .filter((o) => profilesOf(o).includes('sri4-response'))
    .map((o): SriRow => {
      const outcome = codeIn(o.valueCodeableConcept, SYSTEMS.assessments) ?? 'unknown';
      const reasons = (o.component ?? [])
        .filter((c) => codeIn(c.code, SYSTEMS.assessments) === 'outcome-reason')
        .map((c) => {
          // The reason in words, the item it names (D8, D9) and the study decision behind it.
          const words = wordsOf({ coding: c.valueCodeableConcept?.coding });
          const item = studyExtensions(c, 'outcome-reason-item')[0]?.valueCoding;
          const decision = studyExtensions(c, 'study-decision')[0]?.valueCode;
          return `${words}${item ? `: ${wordsOf({ coding: [item] })}` : ''}${decision ? ` (${decision})` : ''}`;
        });
      return {
        date: dayOf(o) ?? '',
        visit: visitOf(o) ?? 'unscheduled',
        outcome,
        outcomeWords: wordsOf(o.valueCodeableConcept) === outcome ? outcome.replace('-', ' ') : wordsOf(o.valueCodeableConcept),
        reasons: [...reasons, ...(o.note ?? []).map((n) => n.text ?? '').filter((t) => t.length > 0)],
        primary: (o.category ?? []).some((c) => codeIn(c, SYSTEMS.assessments) === 'primary-endpoint'),
      };
    })
    .sort(byDate);
}

function quantityPoint(o: Observation, series: string): SeriesPoint[] {
  const date = dayOf(o);
  const value = o.valueQuantity?.value ?? o.valueInteger;
  if (!date || value === undefined) return [];
  return [{ series, date, value, unit: o.valueQuantity?.unit ?? o.valueQuantity?.code ?? '', visit: visitOf(o) ?? 'unscheduled' }];
}

/**
 * Prednisone-equivalent daily dose at every date a glucocorticoid record starts or ends and at every
 * visit, by the pipeline's own rule (D10, `prednisoneEquivalentOn` over fhir-profiles/derivation/medications.json),
 * so the plot shows the dose the SRI-4 read.
 * @param medications - The subject's medication records.
 * @param visitDates - Dates of the subject's visits.
 * @returns Points in mg/day by date (undecided dates left out).
 */
export function doseSeries(medications: readonly MedicationResource[], visitDates: readonly string[]): SeriesPoint[] {
  const meds = (medicationsJson as unknown as DerivationRules['medications']);
  const dates = new Set(visitDates);
  for (const m of medications) {
    const period =
      m.resourceType === 'MedicationRequest'
        ? { start: m.dispenseRequest?.validityPeriod?.start ?? m.authoredOn, end: m.dispenseRequest?.validityPeriod?.end }
        : { start: m.effectivePeriod?.start ?? m.effectiveDateTime, end: m.effectivePeriod?.end };
    if (period.start) dates.add(period.start.slice(0, 10));
    if (period.end) dates.add(period.end.slice(0, 10));
  }
  // The timeline starts four weeks before the first visit: an old prescription's start date would
  // otherwise stretch the axis over years of nothing.
  const first = [...visitDates].sort()[0];
  const from = first ? new Date(Date.parse(`${first}T00:00:00Z`) - 28 * 86_400_000).toISOString().slice(0, 10) : '';
  return [...dates]
    .filter((d) => d >= from)
    .sort()
    .flatMap((date): SeriesPoint[] => {
      const dose = prednisoneEquivalentOn(date, medications, meds);
      return dose.mgPerDay === undefined ? [] : [{ series: 'Prednisone-equivalent dose', date, value: dose.mgPerDay, unit: 'mg/day', visit: '' }];
    });
}

/**
 * The prediction (response-prediction or its not-evaluable profile): outcome, probability, each
 * feature's contribution to the linear predictor, the model version and its warning.
 * @param observations - The subject's Observations.
 * @returns The latest prediction, if any.
 */
export function predictionView(observations: readonly Observation[]): PredictionView | undefined {
  const o = observations.filter((x) => codeIn(x.code, SYSTEMS.assessments) === 'response-prediction').sort((a, b) => (b.meta?.lastUpdated ?? '').localeCompare(a.meta?.lastUpdated ?? ''))[0];
  if (!o) return undefined;
  const canonical = (o.extension ?? []).find((e) => e.url.endsWith('workflow-instantiatesCanonical'))?.valueCanonical ?? '';
  const [model, version] = canonical.split('|');
  const features = (o.component ?? []).flatMap((c) => {
    const contribution = studyExtensions(c, 'prediction-contribution')[0]?.valueDecimal;
    if (contribution === undefined) return [];
    const q = c.valueQuantity;
    return [{ code: c.code.coding?.[0]?.code ?? '', label: c.code.text ?? wordsOf(c.code), value: q ? `${Math.round((q.value ?? 0) * 1000) / 1000} ${q.unit ?? ''}`.trim() : '—', contribution }];
  });
  return {
    outcome: o.valueCodeableConcept ? wordsOf(o.valueCodeableConcept) : 'Not evaluable',
    probability: o.component?.find((c) => codeIn(c.code, SYSTEMS.assessments) === 'response-probability')?.valueQuantity?.value,
    modelVersion: `${model?.slice(model.lastIndexOf('/') + 1) ?? ''} ${version ?? ''}`.trim(),
    warning: o.note?.[0]?.text ?? '',
    notEvaluable: o.dataAbsentReason ? (o.dataAbsentReason.text ?? wordsOf(o.dataAbsentReason)) : undefined,
    features,
  };
}

/**
 * Everything the subject page shows, from the subject's Observations and medication records.
 * @param observations - The subject's Observations.
 * @param medications - Its medication records.
 * @returns The timeline.
 */
export function subjectTimeline(observations: readonly Observation[], medications: readonly MedicationResource[]): SubjectTimeline {
  const labCodes = new Map(LABS.map((l) => [l.code, l.label]));
  const labs = observations.flatMap((o) => {
    const code = codeIn(o.code, SYSTEMS.loinc);
    const label = code ? labCodes.get(code) : undefined;
    return label ? quantityPoint(o, label) : [];
  });
  const bcells = observations.filter((o) => profilesOf(o).includes('study-bcell-observation')).flatMap((o) => quantityPoint(o, wordsOf(o.code)));
  const pga = observations.filter((o) => codeIn(o.code, SYSTEMS.assessments) === 'pga').flatMap((o) => quantityPoint(o, 'PGA'));
  const bilag = observations.flatMap((o): BilagCell[] => {
    const domain = codeIn(o.code, SYSTEMS.bilag);
    const grade = codeIn(o.valueCodeableConcept, SYSTEMS.bilag);
    const date = dayOf(o);
    return domain && grade && date ? [{ domain, grade, date, visit: visitOf(o) ?? 'unscheduled' }] : [];
  });
  const sledai = sledaiPoints(observations);
  const visitDates = [...new Set(sledai.map((s) => s.date))];
  return {
    sledai,
    sri4: sriRows(observations),
    bilag: bilag.sort(byDate),
    pga: pga.sort(byDate),
    labs: labs.sort(byDate),
    bcells: bcells.sort(byDate),
    dose: doseSeries(medications, visitDates),
    prediction: predictionView(observations),
  };
}
