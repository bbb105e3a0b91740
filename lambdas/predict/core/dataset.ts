/**
 * The analysis dataset: one row per subject (pseudonym as row name, R's write.csv layout), with the
 * baseline characteristics, each measure of the model's features at each scheduled visit, SLEDAI-2K,
 * SRI-4 and the prednisone-equivalent dose per visit, the model's features at its timepoint and the
 * week-48 endpoint (1/0/NA); a data dictionary; and the study resources as NDJSON, one file per type.
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
    cells.push((s) => sriAt(s.records, visit, urls));
  }
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

function sriAt(records: readonly Resource[], visit: string, urls: ReturnType<typeof studyUrls>): number | null {
  const profile = urls.structureDefinition('sri4-response');
  const o = records.find(
    (r): r is Observation =>
      r.resourceType === 'Observation' &&
      (r.meta?.profile ?? []).includes(profile) &&
      !!r.code.coding?.some((c) => c.system === urls.assessments && c.code === 'sri4') &&
      visitCodeOf(r, urls) === visit,
  );
  const code = o?.valueCodeableConcept?.coding?.find((c) => c.system === urls.assessments)?.code;
  return code === 'responder' ? 1 : code === 'non-responder' ? 0 : null;
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
