/**
 * The analysis dataset: one row per subject (pseudonym as row name, R's write.csv layout), with the
 * baseline characteristics, each measure of the model's features at each scheduled visit, SLEDAI-2K,
 * SRI-4 and the prednisone-equivalent dose per visit, the model's features at its timepoint and the
 * week-48 endpoint (1/0/NA); per SRI-4 visit the reasons of a non-response or not-evaluable result and
 * the study decisions behind them (D8: a missing component is named, so that a statistician can apply
 * LOCF instead); the primary endpoint in the intention-to-treat count (D9: not evaluable counts as
 * non-responder among subjects with at least one dose); a data dictionary; and the study resources as
 * NDJSON, one file per type.
 * Numbers are written in full (shortest round-trip) precision so that fitting from the CSV gives the
 * same coefficients as fitting from the store.
 */
import type { Extension, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { addDays, observationDate, studyDayOf, studyUrls, visitCodeOf } from '../../derive/core/fhir-access.js';
import type { CohortSubject } from './cohort.js';
import { measureAt } from './features.js';
import type { MeasureSpec, PredictionModel } from './model-spec.js';

/** The scheduled visits of the study (CodeSystem study-visit, without screening and unscheduled). */
export const SCHEDULED_VISITS = ['week-0', 'week-2', 'week-4', 'week-8', 'week-12', 'week-24', 'week-36', 'week-48'] as const;

/** One column of the dataset. */
export interface DatasetColumn {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly values: string;
}

/** The dataset as columns and rows of cells (null = NA). */
export interface AnalysisDataset {
  readonly columns: readonly DatasetColumn[];
  readonly rows: readonly { readonly subject: string; readonly cells: readonly (string | number | null)[] }[];
}

const SLEDAI: MeasureSpec = { key: 'sledai', source: 'sledai-2k-total', unit: '{score}' };
/** The primary endpoint's visit (registry record: SRI-4 at week 48) and its ITT column (D9). */
const PRIMARY_VISIT = 'week-48';
export const ITT_COLUMN = 'sri4_week48_itt';
const suffix = (visit: string): string => visit.replace('-', '');

/**
 * Builds the analysis dataset of a cohort for a model.
 * @param cohort - Subjects with records, features and endpoint.
 * @param model - The model (features, measures, outcome).
 * @param base - Canonical base.
 * @returns Columns and rows.
 */
export function analysisDataset(cohort: readonly CohortSubject[], model: PredictionModel, base: string): AnalysisDataset {
  const urls = studyUrls(base);
  const measures = new Map<string, MeasureSpec>([['sledai', SLEDAI]]);
  for (const f of model.features) if (!measures.has(f.measure.key)) measures.set(f.measure.key, f.measure);
  const columns: DatasetColumn[] = [
    { name: 'sex', description: 'Administrative gender (Patient.gender)', unit: '', values: 'female, male, other, unknown; NA' },
    { name: 'age_day0', description: 'Age in whole years at day 0 (first belimumab infusion)', unit: 'a', values: 'integer; NA' },
  ];
  type Cell = (s: CohortSubject) => string | number | null;
  const cells: Cell[] = [(s) => patientOf(s.records)?.gender ?? null, (s) => ageAtDay0(s.records, urls)];
  for (const [key, measure] of measures) {
    for (const visit of SCHEDULED_VISITS) {
      columns.push({
        name: `${key}_${suffix(visit)}`,
        description: `${measure.source === 'sledai-2k-total' ? 'SLEDAI-2K total (derived)' : measure.codes.map((c) => `${c.system.replace('{base}', urls.base)}|${c.code}`).join(' or ')} at ${visit}`,
        unit: measure.unit,
        values: 'number; NA when not measured',
      });
      cells.push((s) => {
        const m = measureAt(s.records, measure, visit, urls);
        return 'value' in m ? m.value : null;
      });
    }
  }
  const outcomeColumn = model.outcome.id;
  for (const visit of SCHEDULED_VISITS.filter((v) => v !== 'week-0')) {
    const name = `sri4_${suffix(visit)}`;
    const isEndpoint = name === outcomeColumn && visit === model.outcome.visit;
    columns.push({
      name,
      description: isEndpoint ? `${model.outcome.label} (the model's outcome)` : `SRI-4 at ${visit} (derived)`,
      unit: '',
      values: '1 responder, 0 non-responder, NA not evaluable or not reached',
    });
    cells.push((s) => sriAt(s.records, visit, urls)?.value ?? null);
  }
  for (const visit of SCHEDULED_VISITS.filter((v) => v !== 'week-0')) {
    columns.push({
      name: `sri4_${suffix(visit)}_reason`,
      description: `Why SRI-4 at ${visit} is non-responder or not evaluable: outcome-reason codes of the derived sri4-response Observation, each with the item it names (e.g. missing-component:pga for a missing PGA, D8; missing-baseline:total, baseline-below-threshold:total, D9)`,
      unit: '',
      values: 'reason[:item] separated by ";"; empty for a responder with no reason; NA when not derived',
    });
    cells.push((s) => sriAt(s.records, visit, urls)?.reasons ?? null);
    columns.push({
      name: `sri4_${suffix(visit)}_decision`,
      description: `Study decisions (study-decisions.md) behind the SRI-4 reasons at ${visit}: D6 withdrawal, D7 restricted medication, D8 missing component or endpoint, D9 not evaluable`,
      unit: '',
      values: 'decision ids separated by ";"; empty when none; NA when not derived',
    });
    cells.push((s) => sriAt(s.records, visit, urls)?.decisions ?? null);
  }
  columns.push({
    name: ITT_COLUMN,
    description:
      'Primary endpoint (SRI-4 at week 48) in the intention-to-treat count (D9): every subject with at least one completed belimumab dose; a not-evaluable subject counts as non-responder. Compare with sri4_week48, where not evaluable is NA.',
    unit: '',
    values: '1 responder, 0 non-responder or not evaluable; NA outside the ITT population or not reached',
  });
  cells.push((s) => ittAt(s.records, PRIMARY_VISIT, urls));
  for (const visit of SCHEDULED_VISITS) {
    columns.push({
      name: `pred_dose_${suffix(visit)}`,
      description: `Prednisone-equivalent daily dose at ${visit}, from the derived LLDAS (else DORIS) component prednisone-equivalent-dose`,
      unit: 'mg/d',
      values: 'number; NA when not derived',
    });
    cells.push((s) => prednisoneAt(s.records, visit, urls));
  }
  for (const f of model.features) {
    columns.push({ name: f.id, description: `${f.label} (model feature, ${f.transform}${f.transform === 'value' ? '' : ` from ${f.baseline}`})`, unit: f.unit, values: 'number; NA when missing' });
    cells.push((s) => s.features.values.find((v) => v.feature.id === f.id)?.value ?? null);
  }
  if (!columns.some((c) => c.name === outcomeColumn)) {
    columns.push({ name: outcomeColumn, description: model.outcome.label, unit: '', values: '1, 0, NA' });
    cells.push((s) => (s.endpoint === undefined ? null : s.endpoint));
  }
  return { columns, rows: cohort.map((s) => ({ subject: s.subject, cells: cells.map((c) => c(s)) })) };
}

const quote = (s: string): string => `"${s.replaceAll('"', '""')}"`;

/**
 * The dataset as CSV in R's write.csv layout: an empty first header cell, row names, strings quoted,
 * numbers bare in full precision, NA for missing.
 * @param dataset - The dataset.
 * @returns CSV text.
 */
export function datasetCsv(dataset: AnalysisDataset): string {
  const lines = [['""', ...dataset.columns.map((c) => quote(c.name))].join(',')];
  for (const row of dataset.rows) {
    lines.push([quote(row.subject), ...row.cells.map((v) => (v === null ? 'NA' : typeof v === 'number' ? String(v) : quote(v)))].join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Both figures of the primary endpoint (D9): among evaluable subjects, and in the ITT population. */
export interface PrimaryEndpointSummary {
  /** Subjects with a derived week-48 SRI-4 that is responder or non-responder. */
  readonly evaluable: number;
  readonly responders: number;
  /** Subjects whose week-48 SRI-4 is not evaluable. */
  readonly notEvaluable: number;
  /** Subjects in the ITT count (at least one dose, endpoint derived). */
  readonly itt: number;
  readonly ittResponders: number;
}

/**
 * Counts the primary endpoint both ways (D9: "both figures are reported").
 * @param dataset - The dataset.
 * @returns The counts.
 */
export function primaryEndpointSummary(dataset: AnalysisDataset): PrimaryEndpointSummary {
  const at = (name: string): number => dataset.columns.findIndex((c) => c.name === name);
  const value = at('sri4_week48');
  const reason = at('sri4_week48_reason');
  const itt = at(ITT_COLUMN);
  const rows = dataset.rows;
  return {
    evaluable: rows.filter((r) => r.cells[value] === 1 || r.cells[value] === 0).length,
    responders: rows.filter((r) => r.cells[value] === 1).length,
    notEvaluable: rows.filter((r) => r.cells[value] === null && typeof r.cells[reason] === 'string').length,
    itt: rows.filter((r) => r.cells[itt] === 1 || r.cells[itt] === 0).length,
    ittResponders: rows.filter((r) => r.cells[itt] === 1).length,
  };
}

/**
 * The data dictionary as Markdown.
 * @param dataset - The dataset.
 * @param model - The model it was built for.
 * @returns Markdown text.
 */
export function dataDictionary(dataset: AnalysisDataset, model: PredictionModel): string {
  const esc = (s: string): string => s.replaceAll('|', '\\|');
  return [
    '# Analysis dataset: data dictionary',
    '',
    `One row per study subject; the row name (first, unnamed column) is the subject's pseudonym. Features and outcome as defined by model ${model.name} ${model.version} (timepoint ${model.timepoint}). Missing values are NA.`,
    '',
    'SRI-4 follows the study decisions (study-decisions.md): baseline per component from day −28 to day 0 (D1); withdrawal and completion (D6); restricted medication (D7); a missing component makes a non-responder, named in the `_reason` column as `missing-component:<item>` so that LOCF can be applied instead (D8); a baseline SLEDAI-2K below 4 or no baseline is not evaluable (NA in `sri4_*`), and counts as non-responder in `sri4_week48_itt` (D9).',
    '',
    ((p) => `Primary endpoint in this export: ${p.responders} responders of ${p.evaluable} evaluable subjects (${p.notEvaluable} not evaluable); ITT: ${p.ittResponders} responders of ${p.itt}.`)(
      primaryEndpointSummary(dataset),
    ),
    '',
    '| column | description | unit | values |',
    '|---|---|---|---|',
    ...dataset.columns.map((c) => `| ${esc(c.name)} | ${esc(c.description)} | ${esc(c.unit)} | ${esc(c.values)} |`),
    '',
  ].join('\n');
}

/**
 * The subjects' resources as NDJSON, one text per resource type, with every identifier that is not
 * the study's own (`{base}/...`, the pseudonym) removed, so the hospital's record ids never leave.
 * @param cohort - The subjects.
 * @param base - Canonical base.
 * @returns NDJSON text by resource type.
 */
export function studyNdjson(cohort: readonly CohortSubject[], base: string): Map<string, string> {
  const root = base.replace(/\/+$/, '');
  const byType = new Map<string, string[]>();
  for (const s of cohort) {
    for (const r of s.records) {
      const { identifier, ...rest } = r as Resource & { identifier?: { system?: string }[] };
      const kept = (identifier ?? []).filter((i) => i.system?.startsWith(`${root}/`));
      const line = JSON.stringify(kept.length > 0 ? { ...rest, identifier: kept } : rest);
      byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), line]);
    }
  }
  return new Map([...byType].map(([type, lines]) => [type, `${lines.join('\n')}\n`]));
}

function patientOf(records: readonly Resource[]): Patient | undefined {
  return records.find((r): r is Patient => r.resourceType === 'Patient');
}

function ageAtDay0(records: readonly Resource[], urls: ReturnType<typeof studyUrls>): number | null {
  const birth = patientOf(records)?.birthDate;
  let day0: string | undefined;
  for (const r of records) {
    const studyDay = studyDayOf(r, urls);
    const date = r.resourceType === 'Observation' ? observationDate(r) : (r as { effectiveDateTime?: string }).effectiveDateTime;
    if (studyDay !== undefined && date) {
      day0 = addDays(date, -studyDay);
      break;
    }
  }
  if (!birth || birth.length < 10 || !day0) return null;
  const [by, bm, bd] = birth.split('-').map(Number) as [number, number, number];
  const [y, m, d] = day0.split('-').map(Number) as [number, number, number];
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

/** The derived SRI-4 of a visit as export cells. */
interface SriCells {
  /** 1 responder, 0 non-responder, null not evaluable. */
  readonly value: number | null;
  /** `reason[:item]` of each outcome-reason component, `;`-separated. */
  readonly reasons: string;
  /** The study decisions behind the reasons, unique, `;`-separated. */
  readonly decisions: string;
  readonly observation: Observation;
}

function sriObservationAt(records: readonly Resource[], visit: string, urls: ReturnType<typeof studyUrls>): Observation | undefined {
  const profile = urls.structureDefinition('sri4-response');
  return records.find(
    (r): r is Observation =>
      r.resourceType === 'Observation' &&
      (r.meta?.profile ?? []).includes(profile) &&
      !!r.code.coding?.some((c) => c.system === urls.assessments && c.code === 'sri4') &&
      visitCodeOf(r, urls) === visit,
  );
}

function sriAt(records: readonly Resource[], visit: string, urls: ReturnType<typeof studyUrls>): SriCells | undefined {
  const o = sriObservationAt(records, visit, urls);
  if (!o) return undefined;
  const code = o.valueCodeableConcept?.coding?.find((c) => c.system === urls.assessments)?.code;
  const reasons = (o.component ?? []).filter((c) => c.code.coding?.some((k) => k.system === urls.assessments && k.code === 'outcome-reason'));
  const item = (c: (typeof reasons)[number]): string | undefined => c.extension?.find((e) => e.url === urls.structureDefinition('outcome-reason-item'))?.valueCoding?.code;
  const decision = (c: (typeof reasons)[number]): string | undefined => c.extension?.find((e) => e.url === urls.structureDefinition('study-decision'))?.valueCode;
  return {
    value: code === 'responder' ? 1 : code === 'non-responder' ? 0 : null,
    reasons: reasons.map((c) => [c.valueCodeableConcept?.coding?.[0]?.code ?? '', item(c)].filter(Boolean).join(':')).join(';'),
    decisions: [...new Set(reasons.map(decision).filter((d): d is string => d !== undefined))].join(';'),
    observation: o,
  };
}

/**
 * The primary endpoint in the ITT count (D9): the derivation marks the endpoint Observation with the
 * `itt-population` extension (at least one completed belimumab dose); within it, not evaluable is 0.
 */
function ittAt(records: readonly Resource[], visit: string, urls: ReturnType<typeof studyUrls>): number | null {
  const sri = sriAt(records, visit, urls);
  const inItt = sri?.observation.extension?.find((e) => e.url === urls.structureDefinition('itt-population'))?.valueBoolean === true;
  return sri && inItt ? (sri.value ?? 0) : null;
}

function prednisoneAt(records: readonly Resource[], visit: string, urls: ReturnType<typeof studyUrls>): number | null {
  for (const index of ['lldas', 'doris-remission']) {
    const o = records.find(
      (r): r is Observation =>
        r.resourceType === 'Observation' && !!r.code.coding?.some((c) => c.system === urls.assessments && c.code === index) && visitCodeOf(r as { extension?: Extension[] } & Resource, urls) === visit,
    );
    const dose = o?.component?.find((c) => c.code.coding?.some((k) => k.system === urls.assessments && k.code === 'prednisone-equivalent-dose'))?.valueQuantity?.value;
    if (typeof dose === 'number') return dose;
  }
  return null;
}
