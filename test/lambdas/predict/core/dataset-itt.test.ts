import { describe, expect, it } from 'vitest';
import { endpointOf, type CohortSubject } from '../../../../lambdas/predict/core/cohort.js';
import { analysisDataset, dataDictionary, datasetCsv, ITT_COLUMN, primaryEndpointSummary } from '../../../../lambdas/predict/core/dataset.js';
import { assembleFeatures } from '../../../../lambdas/predict/core/features.js';
import { BASE, grades, SubjectBuilder } from '../../derive/fixtures.js';
import { smallModel } from './fixtures.js';

// The analysis export of the SRI-4 decisions (shared/reference/study-decisions.md): D8 (a missing
// component makes a non-responder; the export carries the reason so that a statistician can apply
// LOCF instead) and D9 (not evaluable is reported so, and counts as non-responder in the ITT count of
// the primary endpoint, SRI-4 at week 48, among subjects with at least one dose; both figures reported).

const model = smallModel();
const ASOF = new Date('2025-08-01T12:00:00Z');

/** A cohort subject from the derivation's own output (the records the export reads from the store). */
function cohortSubject(b: SubjectBuilder): CohortSubject {
  const records = [...b.resources, ...b.derive('2025-08-01')];
  return {
    subject: b.subject,
    records,
    features: assembleFeatures({ base: BASE, subject: b.subject, resources: records, asOf: ASOF }, model),
    endpoint: endpointOf(records, model, BASE),
  };
}

function dosed(subject: string, baseline: string[], week48: { present: string[]; pga?: number }): SubjectBuilder {
  const b = new SubjectBuilder('2024-06-03', subject);
  b.belimumab(b.day(0));
  b.visit('week-0', { present: baseline, bilag: grades('C'), pga: 1.5 });
  b.visit('week-48', { present: week48.present, bilag: grades('C'), ...(week48.pga === undefined ? {} : { pga: week48.pga }) });
  return b;
}

const responder = dosed('sub-r', ['arthritis', 'proteinuria', 'rash'], { present: ['rash'], pga: 1 });
const missingPga = dosed('sub-m', ['arthritis', 'proteinuria', 'rash'], { present: ['rash'] });
const lowBaseline = dosed('sub-l', ['alopecia', 'fever'], { present: [], pga: 1 }); // baseline 3
const undosed = new SubjectBuilder('2024-06-03', 'sub-u');
undosed.visit('week-0', { present: ['alopecia', 'fever'], bilag: grades('C'), pga: 1.5 });
undosed.visit('week-48', { present: [], bilag: grades('C'), pga: 1 });

const cohort = [responder, missingPga, lowBaseline, undosed].map(cohortSubject);
const dataset = analysisDataset(cohort, model, BASE);
const cell = (subject: string, column: string): string | number | null | undefined =>
  dataset.rows.find((r) => r.subject === subject)?.cells[dataset.columns.findIndex((c) => c.name === column)];

describe('Analysis export: SRI-4 reasons (D8) and the ITT primary endpoint (D9)', () => {
  it('keeps the existing SRI-4 column: 1, 0, and NA for not evaluable', () => {
    expect(['sub-r', 'sub-m', 'sub-l'].map((s) => cell(s, 'sri4_week48'))).toEqual([1, 0, null]);
  });

  it('names a missing PGA at week 48 as missing-component:pga with decision D8 (so LOCF can be applied instead)', () => {
    expect(cell('sub-m', 'sri4_week48_reason')).toBe('missing-component:pga');
    expect(cell('sub-m', 'sri4_week48_decision')).toBe('D8');
    expect(cell('sub-r', 'sri4_week48_reason')).toBe('');
    expect(cell('sub-r', 'sri4_week24_reason')).toBeNull();
  });

  it('reports a baseline SLEDAI-2K of 3 as not evaluable (D9) and counts it as 0 in the ITT column', () => {
    expect(cell('sub-l', 'sri4_week48_reason')).toBe('baseline-below-threshold:total');
    expect(cell('sub-l', 'sri4_week48_decision')).toBe('D9');
    expect(cell('sub-l', ITT_COLUMN)).toBe(0);
    expect(cell('sub-r', ITT_COLUMN)).toBe(1);
    expect(cell('sub-m', ITT_COLUMN)).toBe(0);
  });

  it('leaves a subject who received no dose out of the ITT count (NA)', () => {
    expect(cell('sub-u', 'sri4_week48')).toBeNull();
    expect(cell('sub-u', ITT_COLUMN)).toBeNull();
  });

  it('reports both figures of the primary endpoint', () => {
    expect(primaryEndpointSummary(dataset)).toEqual({ evaluable: 2, responders: 1, notEvaluable: 2, itt: 3, ittResponders: 1 });
    expect(dataDictionary(dataset, model)).toContain('1 responders of 2 evaluable subjects (2 not evaluable); ITT: 1 responders of 3.');
  });

  it('describes the new columns in the data dictionary and writes them to the CSV', () => {
    const dictionary = dataDictionary(dataset, model);
    for (const name of [ITT_COLUMN, 'sri4_week48_reason', 'sri4_week48_decision', 'sri4_week24_reason']) {
      expect(dictionary).toContain(`| ${name} |`);
    }
    const header = datasetCsv(dataset).split('\n')[0] ?? '';
    expect(header).toContain(`"${ITT_COLUMN}"`);
    expect(header).toContain('"sri4_week48"');
    expect(datasetCsv(dataset)).toContain('"missing-component:pga"');
  });
});
