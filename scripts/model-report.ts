/**
 * How the prediction model does on the subjects observed so far: the model's predicted probability
 * (computed from each subject's features at the timepoint, as the predict consumer does) against the
 * week-48 SRI-4 endpoint, from the study store: discrimination (AUC with DeLong CI), Brier score,
 * calibration intercept and slope, and observed against predicted by risk group.
 *
 *   npm run model:report -- [--model NAME[@VERSION]] [--base-url URL] [--token T] [--models-dir DIR] [--json]
 *
 * Reads through the FHIR API of a running layer (`npm start`), as model:fit does.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CANONICAL_BASE } from '../lambdas/commons/config.js';
import { readCohort } from '../lambdas/predict/core/cohort.js';
import { DEFAULT_MODELS_DIR, loadModels } from '../lambdas/predict/core/model-spec.js';
import { evaluateModel } from '../lambdas/predict/core/predict.js';
import { aucWithConfidence } from '../lambdas/predict/stats/auc.js';
import { logit } from '../lambdas/predict/stats/binomial-family.js';
import { brierScore, calibration } from '../lambdas/predict/stats/validation.js';
import { chooseModel, cohortSourceFromFlags, consoleIo, isMain, MODEL_TYPES, STORE_FLAGS, type ScriptIo } from './model-fit.js';

/** The report's figures. */
export interface ModelReport {
  readonly model: { readonly name: string; readonly version: string; readonly status: string; readonly caution?: string };
  readonly subjects: number;
  readonly predicted: number;
  readonly withEndpoint: number;
  /** Subjects with both a prediction and a 0/1 endpoint. */
  readonly evaluated: number;
  readonly events: number;
  readonly auc: { readonly estimate: number; readonly lower: number; readonly upper: number; readonly level: number } | null;
  readonly brier: number | null;
  readonly calibration: { readonly intercept: number; readonly slope: number } | null;
  readonly groups: readonly { readonly from: number; readonly to: number; readonly n: number; readonly meanPredicted: number; readonly observed: number }[];
}

/**
 * Builds the report from predictions and outcomes.
 * @param pairs - Probability and 0/1 outcome of each evaluated subject.
 * @param counts - Cohort counts.
 * @param model - The model.
 * @returns The report.
 */
export function buildReport(
  pairs: readonly { p: number; y: number }[],
  counts: { subjects: number; predicted: number; withEndpoint: number },
  model: ModelReport['model'],
): ModelReport {
  const p = pairs.map((x) => x.p);
  const y = pairs.map((x) => x.y);
  const events = y.filter((v) => v === 1).length;
  const both = events > 0 && events < y.length;
  const auc = both ? aucWithConfidence(p, y) : undefined;
  let cal: ModelReport['calibration'] = null;
  if (both && events >= 2 && y.length - events >= 2) {
    const c = calibration(p.map((v) => logit(v)), y);
    cal = { intercept: c.intercept, slope: c.slope };
  }
  const sorted = [...pairs].sort((a, b) => a.p - b.p);
  const k = Math.min(5, Math.max(1, Math.floor(sorted.length / 5)));
  const groups = Array.from({ length: sorted.length > 0 ? k : 0 }, (_, g) => {
    const part = sorted.slice(Math.floor((g * sorted.length) / k), Math.floor(((g + 1) * sorted.length) / k));
    return {
      from: part[0]?.p ?? 0,
      to: part.at(-1)?.p ?? 0,
      n: part.length,
      meanPredicted: part.reduce((s, x) => s + x.p, 0) / part.length,
      observed: part.reduce((s, x) => s + x.y, 0) / part.length,
    };
  });
  return {
    model,
    ...counts,
    evaluated: pairs.length,
    events,
    auc: auc ? { estimate: auc.auc, lower: auc.lower, upper: auc.upper, level: auc.level } : null,
    brier: pairs.length > 0 ? brierScore(p, y) : null,
    calibration: cal,
    groups,
  };
}

/**
 * Runs the command.
 * @param argv - Arguments after the script name.
 * @param io - Output.
 * @returns The exit code.
 */
export async function main(argv: readonly string[], io: ScriptIo = consoleIo): Promise<number> {
  const env = io.env ?? process.env;
  try {
    const { values } = parseArgs({ args: [...argv], options: STORE_FLAGS, allowPositionals: false });
    const model = chooseModel(loadModels(values['models-dir'] ?? DEFAULT_MODELS_DIR), values.model);
    const base = env.CANONICAL_BASE ?? DEFAULT_CANONICAL_BASE;
    const { source, baseUrl } = await cohortSourceFromFlags(values, env, MODEL_TYPES);
    const cohort = await readCohort(source, model, { base, asOf: (io.now ?? ((): Date => new Date()))() });
    const predicted = cohort.filter((s) => s.features.missing.length === 0);
    const pairs = predicted.flatMap((s) => {
      if (s.endpoint !== 0 && s.endpoint !== 1) return [];
      const p = evaluateModel(model, Object.fromEntries(s.features.values.map((v) => [v.feature.id, v.value]))).probability;
      return [{ p, y: s.endpoint }];
    });
    const report = buildReport(
      pairs,
      { subjects: cohort.length, predicted: predicted.length, withEndpoint: cohort.filter((s) => s.endpoint === 0 || s.endpoint === 1).length },
      { name: model.name, version: model.version, status: model.status, ...(model.caution ? { caution: model.caution } : {}) },
    );
    if (values.json) {
      io.out(JSON.stringify(report, null, 2));
      return 0;
    }
    io.out(`Model ${model.name} ${model.version} (${model.status}) on ${baseUrl}`);
    if (model.caution) io.out(`  ${model.caution}`);
    io.out(`Subjects ${report.subjects}; with a prediction ${report.predicted}; with a week-48 endpoint ${report.withEndpoint}; both ${report.evaluated} (${report.events} responders)`);
    io.out(
      report.auc
        ? `Discrimination: AUC ${report.auc.estimate.toFixed(3)} (${Math.round(report.auc.level * 100)}% CI ${report.auc.lower.toFixed(3)} to ${report.auc.upper.toFixed(3)}, DeLong)`
        : 'Discrimination: not estimable yet (needs responders and non-responders with a prediction)',
    );
    if (report.brier !== null) io.out(`Brier score: ${report.brier.toFixed(4)}`);
    io.out(
      report.calibration
        ? `Calibration: intercept ${report.calibration.intercept.toFixed(3)} (0 ideal), slope ${report.calibration.slope.toFixed(3)} (1 ideal)`
        : 'Calibration: not estimable yet',
    );
    if (report.groups.length > 0) {
      io.out('Observed vs predicted by risk group:');
      io.out('  predicted range      n   mean predicted   observed');
      for (const g of report.groups) {
        io.out(`  ${g.from.toFixed(3)}-${g.to.toFixed(3)}  ${String(g.n).padStart(6)}   ${g.meanPredicted.toFixed(3).padStart(14)}   ${g.observed.toFixed(3).padStart(8)}`);
      }
    }
    return 0;
  } catch (error) {
    io.err(`model:report: ${(error as Error).message}`);
    return 1;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
