import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSubjectRecords } from '../../lambdas/commons/subject-records.js';
import { recomputeSubject } from '../../lambdas/derive/recompute.js';
import { loadModels, parseModel } from '../../lambdas/predict/core/model-spec.js';
import { predictSubject } from '../../lambdas/predict/core/predict.js';
import { main as exportMain } from '../../scripts/export.js';
import { main as fitMain, type ScriptIo } from '../../scripts/model-fit.js';
import { main as reportMain } from '../../scripts/model-report.js';
import { startTestApp, type TestApp } from '../support/local-app.js';
import { simulatedCohort } from './simulated-cohort.js';

const base = 'https://belimumab-sle.example.org/fhir';
const N = 24;
const SEED = 6;
const FEATURES = 'sledai_change_w4,cd19_log_ratio_w4';
// Few repeats keep the run short; the figures are not what this test checks.
const VALIDATION = ['--repeats', '2', '--bootstrap', '20'];

let app: TestApp;
let token: string;
let outDir: string;
const cohort = simulatedCohort(N, SEED);

async function run(main: (argv: readonly string[], io: ScriptIo) => Promise<number>, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), env: { ...process.env, CANONICAL_BASE: base } });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  // Only the derive consumer: the SLEDAI-2K totals and SRI-4 are what the model needs (screening is not).
  app = await startTestApp({ consumers: [async (event) => void (await recomputeSubject(event.patient, app.runtime.derive()))] });
  token = await app.token('system/*.rs');
  outDir = mkdtempSync(join(tmpdir(), 'export-'));
  const queue = [...cohort.bundles];
  const push = async (): Promise<void> => {
    for (let bundle = queue.shift(); bundle; bundle = queue.shift()) {
      const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(bundle) });
      expect(res.status).toBe(200);
    }
  };
  await Promise.all([push(), push(), push()]);
}, 300_000);

afterAll(async () => {
  await app?.close();
});

describe('A simulated cohort through the local API', () => {
  it('exports one row per pseudonymous subject, a dictionary and NDJSON without hospital ids', async () => {
    // Act
    const { code, out, err } = await run(exportMain, ['--base-url', app.baseUrl, '--token', token, '--out', outDir]);
    // Assess
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain(`Exported ${N} subjects`);
    const csv = readFileSync(join(outDir, 'analysis-dataset.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(N + 1);
    const header = csv[0]!.split(',').map((h) => h.replaceAll('"', ''));
    for (const column of ['sex', 'age_day0', 'sledai_week0', 'sledai_week4', 'cd19_pct_week4', 'sri4_week48', 'pred_dose_week0', 'cd19_log_ratio_w4']) {
      expect(header).toContain(column);
    }
    const row = csv[1]!.split(',');
    expect(row[0]).toMatch(/^"S-/);
    expect(row[header.indexOf('age_day0')]).toBe('35');
    expect(row[header.indexOf('sledai_week0')]).toBe('6');
    const events = csv.slice(1).filter((l) => l.split(',')[header.indexOf('sri4_week48')] === '1').length;
    expect(events).toBe(cohort.subjects.filter((s) => s.responder).length);
    // D9: every simulated subject is dosed and evaluable, so the ITT column equals sri4_week48; D8: responders give no reason.
    const itt = csv.slice(1).map((l) => l.split(',')[header.indexOf('sri4_week48_itt')]);
    expect(itt).toEqual(csv.slice(1).map((l) => l.split(',')[header.indexOf('sri4_week48')]));
    expect(out).toContain(`SRI-4 week 48: ${events}/${N} responders among evaluable subjects (0 not evaluable); ITT ${events}/${N}`);
    expect(readFileSync(join(outDir, 'data-dictionary.md'), 'utf8')).toContain('| cd19_log_ratio_w4 |');
    const ndjson = readdirSync(join(outDir, 'ndjson')).sort();
    expect(ndjson).toEqual(expect.arrayContaining(['MedicationAdministration.ndjson', 'Observation.ndjson', 'Patient.ndjson']));
    const all = ndjson.map((f) => readFileSync(join(outDir, 'ndjson', f), 'utf8')).join('');
    expect(all).not.toContain(`sim-${SEED}-`);
    expect(readFileSync(join(outDir, 'ndjson', 'Patient.ndjson'), 'utf8').trim().split('\n')).toHaveLength(N);
  });

  it('fits the same coefficients from the store and from the exported CSV, recovering the signal', async () => {
    // Act
    const fromStore = await run(fitMain, ['--base-url', app.baseUrl, '--token', token, '--features', FEATURES, '--json', ...VALIDATION]);
    const fromCsv = await run(fitMain, ['--data', join(outDir, 'analysis-dataset.csv'), '--outcome', 'sri4_week48', '--features', FEATURES, '--json', ...VALIDATION]);
    // Assess
    expect(fromStore.err).toBe('');
    expect(fromCsv.err).toBe('');
    const a = parseModel(JSON.parse(fromStore.out));
    const b = parseModel(JSON.parse(fromCsv.out));
    expect(a.status).toBe('draft');
    expect(a.version).toBe('0.2.0');
    expect(a.performance?.subjects).toBe(N);
    expect(b.model.intercept.estimate).toBeCloseTo(a.model.intercept.estimate, 10);
    a.model.coefficients.forEach((c, j) => {
      expect(b.model.coefficients[j]?.feature).toBe(c.feature);
      expect(b.model.coefficients[j]?.estimate).toBeCloseTo(c.estimate, 10);
      expect(b.model.coefficients[j]?.standardError).toBeCloseTo(c.standardError!, 10);
    });
    expect(a.model.coefficients.find((c) => c.feature === 'cd19_log_ratio_w4')!.estimate).toBeLessThan(0);
  });

  it('predicts every subject with the draft model over the stored records, each passing the profile', async () => {
    const model = loadModels()[0]!;
    const store = app.runtime.derive().store;
    const { body } = await app.fetchFhir('/Patient?_count=100');
    const patients: string[] = body.entry.map((e: any) => e.resource.id);
    const predictions = [];
    for (const p of patients) {
      predictions.push(predictSubject({ base, subject: p, resources: await loadSubjectRecords(store, p, ['Patient', 'Observation']), asOf: new Date() }, model));
    }
    expect(predictions.every((o) => o?.valueCodeableConcept && o.status === 'preliminary')).toBe(true);
    for (const o of predictions) {
      expect(app.runtime.conformance.validateProfile(o!, `${base}/StructureDefinition/response-prediction`).filter((i) => i.severity === 'error')).toEqual([]);
    }
  });

  it('reports the active model\'s discrimination and calibration against the week-48 endpoint', async () => {
    const { code, out } = await run(reportMain, ['--base-url', app.baseUrl, '--token', token, '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.model.name).toBe('sri4-week4');
    expect(report.evaluated).toBe(N);
    expect(report.auc.estimate).toBeGreaterThan(0.5);
    expect(report.calibration).not.toBeNull();
  });
});
