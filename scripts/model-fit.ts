/**
 * Fits a new version of the prediction model and prints the coefficients (with SEs) and the fit's
 * figures: deviances, AIC, cross-validated AUC with its CI, Brier score, calibration and the
 * optimism-corrected AUC. Separation is reported, never fitted through.
 *
 *   npm run model:fit -- [--features a,b] [--method irls|firth|ridge] [--json]
 *       from the study store, read through the FHIR API of a running layer (`npm start`):
 *       --base-url (default http://127.0.0.1:$PORT/fhir) and --token (default $TOKEN, else a token
 *       signed with the local key in DATA_DIR, as `npm run token` does). Subjects with a week-48
 *       endpoint (responder / non-responder) and every feature are used.
 *   npm run model:fit -- --data FILE.csv --outcome COL [--features a,b,c] [--factor COL] [--collation icu|C] ...
 *       from a CSV in the analysis-dataset format (first column may hold row names).
 *
 * Other flags: --model NAME (the model whose features, outcome and policy the new version keeps;
 * default the active model), --models-dir DIR, --folds k, --repeats r, --bootstrap B, --seed s.
 * When every predictor is a feature of that model, the new version (status draft, next minor version)
 * is written to the models folder; with --json it is printed to stdout instead and nothing is written.
 * Other predictors (any CSV) give the printed fit only (--json: the fit as JSON).
 */
import type { ResourceType } from '@medplum/fhirtypes';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DEFAULT_CANONICAL_BASE } from '../lambdas/commons/config.js';
import { fhirRestCohortSource, readCohort, type CohortSource } from '../lambdas/predict/core/cohort.js';
import { cohortDesign, fitAndValidate, modelFromFit, SeparationError, type FitMethod, type FitSummary } from '../lambdas/predict/core/fit.js';
import {
  activeModel,
  DEFAULT_MODELS_DIR,
  loadModels,
  modelFileName,
  nextVersion,
  parseModel,
  type PredictionModel,
} from '../lambdas/predict/core/model-spec.js';
import { parseCsv } from '../lambdas/predict/stats/csv.js';
import { buildDesign } from '../lambdas/predict/stats/design.js';
import type { ModelData } from '../lambdas/predict/stats/model-data.js';
import { resolveDataDir, signLocalToken } from '../local/keys.js';

/** Where a script writes: stdout and stderr by default, captured by tests. */
export interface ScriptIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly now?: () => Date;
  readonly env?: NodeJS.ProcessEnv;
}

/** The terminal. */
export const consoleIo: ScriptIo = { out: (t) => process.stdout.write(`${t}\n`), err: (t) => process.stderr.write(`${t}\n`) };

/** Thrown for bad command-line input; the script prints the message and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The flags every script shares to reach the store. */
export const STORE_FLAGS = {
  'base-url': { type: 'string' },
  token: { type: 'string' },
  model: { type: 'string' },
  'models-dir': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * The cohort source for the store flags: the FHIR API of a running layer.
 * @param values - Parsed flags.
 * @param env - Environment (PORT, TOKEN, DATA_DIR).
 * @param types - Resource types to read per subject (default every subject type).
 * @returns The source and the base URL it reads.
 */
export async function cohortSourceFromFlags(
  values: { 'base-url'?: string; token?: string },
  env: NodeJS.ProcessEnv,
  types?: readonly ResourceType[],
): Promise<{ source: CohortSource; baseUrl: string }> {
  const baseUrl = values['base-url'] ?? `http://127.0.0.1:${env.PORT ?? '8080'}/fhir`;
  const token = values.token ?? env.TOKEN ?? (await signLocalToken(resolveDataDir(env), 'system/*.rs'));
  return { source: fhirRestCohortSource({ baseUrl, token, ...(types ? { types } : {}) }), baseUrl };
}

/** What features and endpoints are read from (export reads every subject type). */
export const MODEL_TYPES: readonly ResourceType[] = ['Patient', 'Observation'];

/**
 * The model a script works from: --model NAME (its newest version) or the active model.
 * @param models - Loaded models.
 * @param name - --model, if given.
 * @returns The model.
 */
export function chooseModel(models: readonly PredictionModel[], name?: string): PredictionModel {
  const [wanted, version] = (name ?? '').split('@');
  const model = name
    ? models.filter((m) => m.name === wanted && (!version || m.version === version)).at(-1)
    : activeModel(models);
  if (!model) throw new UsageError(name ? `no model ${name}` : 'no active or draft model in the models folder');
  return model;
}

/**
 * Whether a module is the script node was started with.
 * @param url - `import.meta.url`.
 * @returns True when run directly.
 */
export function isMain(url: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

const list = (v: string | undefined): string[] | undefined =>
  v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');

const fixed = (x: number | null, d: number): string => (x === null || Number.isNaN(x) ? 'NA' : x.toFixed(d));
const pValue = (p: number | null): string => (p === null || Number.isNaN(p) ? 'NA' : p < 2e-16 ? '<2e-16' : p < 1e-4 ? p.toExponential(2) : p.toFixed(6));

/**
 * The fit as R's summary.glm prints its coefficient table, then the validation figures.
 * @param fit - The fit.
 * @param heading - First line.
 * @returns Lines.
 */
export function formatFit(fit: FitSummary, heading: string): string[] {
  const names = fit.coefficients.map((c) => c.name);
  const width = Math.max(12, ...names.map((n) => n.length + 1));
  const pad = (s: string, n: number): string => s.padStart(n);
  const cv = fit.crossValidation;
  const b = fit.bootstrap;
  return [
    heading,
    '',
    'Coefficients:',
    `${''.padEnd(width)}${pad('Estimate', 14)}${pad('Std. Error', 14)}${pad('z value', 10)}${pad('Pr(>|z|)', 12)}`,
    ...fit.coefficients.map(
      (c) => `${c.name.padEnd(width)}${pad(fixed(c.estimate, 6), 14)}${pad(fixed(c.standardError, 6), 14)}${pad(fixed(c.z, 3), 10)}${pad(pValue(c.p), 12)}`,
    ),
    ...(fit.lambda === undefined ? [] : [`(ridge: lambda ${fit.lambda.toPrecision(4)} on the summed log-likelihood, chosen by 5-fold CV; no SEs for penalised estimates)`]),
    '',
    `    Null deviance: ${fit.nullDeviance.toFixed(2)} on ${fit.subjects - 1} degrees of freedom`,
    `Residual deviance: ${fit.deviance.toFixed(2)} on ${fit.subjects - fit.coefficients.length} degrees of freedom`,
    `AIC: ${fit.aic === null ? 'NA (penalised fit)' : fit.aic.toFixed(2)}`,
    `Converged: ${fit.converged ? 'yes' : 'NO'}${fit.warnings.length > 0 ? `; warnings: ${fit.warnings.join('; ')}` : ''}`,
    `Separation: ${fit.separation.status}${fit.separation.separatingPredictors.length > 0 ? ` (${fit.separation.separatingPredictors.map((s) => `${s.column}: ${s.kind}`).join(', ')})` : ''}`,
    '',
    `Cross-validation (${cv.folds}-fold x ${cv.repeats} repeats, seed ${cv.seed}):`,
    `  AUC ${cv.auc.estimate.toFixed(3)} (${Math.round(cv.auc.level * 100)}% CI ${cv.auc.lower.toFixed(3)} to ${cv.auc.upper.toFixed(3)}, DeLong)`,
    `  Brier ${cv.brier.toFixed(4)}; calibration intercept ${cv.calibrationIntercept.toFixed(3)}, slope ${cv.calibrationSlope.toFixed(3)}`,
    `Bootstrap (${b.replicates} resamples, seed ${b.seed}): apparent AUC ${b.apparentAuc.toFixed(3)}, optimism ${b.optimism.toFixed(3)}, optimism-corrected AUC ${b.correctedAuc.toFixed(3)}`,
  ];
}

/**
 * Runs the command.
 * @param argv - Arguments after the script name.
 * @param io - Output.
 * @returns The exit code.
 */
export async function main(argv: readonly string[], io: ScriptIo = consoleIo): Promise<number> {
  const env = io.env ?? process.env;
  const now = (io.now ?? ((): Date => new Date()))();
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        ...STORE_FLAGS,
        data: { type: 'string' },
        outcome: { type: 'string' },
        features: { type: 'string' },
        factor: { type: 'string', multiple: true },
        collation: { type: 'string' },
        method: { type: 'string', default: 'irls' },
        folds: { type: 'string' },
        repeats: { type: 'string' },
        bootstrap: { type: 'string' },
        seed: { type: 'string' },
      },
      allowPositionals: false,
    });
    const method = values.method as FitMethod;
    if (!['irls', 'firth', 'ridge'].includes(method)) throw new UsageError('--method is irls, firth or ridge');
    const int = (v: string | undefined, flag: string): number | undefined => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} needs a whole number`);
      return n;
    };
    const fitOptions = {
      method,
      ...(int(values.folds, '--folds') === undefined ? {} : { folds: int(values.folds, '--folds') as number }),
      ...(int(values.repeats, '--repeats') === undefined ? {} : { repeats: int(values.repeats, '--repeats') as number }),
      ...(int(values.bootstrap, '--bootstrap') === undefined ? {} : { bootstrap: int(values.bootstrap, '--bootstrap') as number }),
      ...(int(values.seed, '--seed') === undefined ? {} : { seed: int(values.seed, '--seed') as number }),
    };
    const modelsDir = values['models-dir'] ?? DEFAULT_MODELS_DIR;
    const models = loadModels(modelsDir);
    const base = env.CANONICAL_BASE ?? DEFAULT_CANONICAL_BASE;
    const requested = list(values.features);
    const factors = (values.factor ?? []).flatMap((f) => list(f) ?? []);

    let data: ModelData;
    let source: string;
    let heading: string;
    let baseModel: PredictionModel | undefined;
    if (values.data !== undefined) {
      if (!values.outcome) throw new UsageError('--data needs --outcome COL');
      const table = parseCsv(readFileSync(values.data, 'utf8'));
      const candidate = values.model !== undefined || models.length > 0 ? chooseModel(models, values.model) : undefined;
      const modelFeatures = candidate?.features.map((f) => f.id) ?? [];
      const predictors =
        requested ??
        (modelFeatures.length > 0 && modelFeatures.every((f) => table.header.includes(f))
          ? modelFeatures
          : table.header.filter((h) => h !== values.outcome));
      for (const f of factors) if (!predictors.includes(f)) predictors.push(f);
      const collation = values.collation as 'icu' | 'C' | undefined;
      if (collation !== undefined && collation !== 'icu' && collation !== 'C') throw new UsageError('--collation is icu or C');
      const design = buildDesign(table, { outcome: values.outcome, predictors, ...(factors.length > 0 ? { factors } : {}), ...(collation ? { collation } : {}) });
      data = design;
      source = `CSV ${values.data}`;
      heading = `Logistic regression (${method}) of ${values.outcome} on ${predictors.join(' + ')}: ${design.y.length} rows used, ${design.omitted.count} omitted for missing values`;
      baseModel = candidate && factors.length === 0 && predictors.every((p) => modelFeatures.includes(p)) ? candidate : undefined;
    } else {
      baseModel = chooseModel(models, values.model);
      const features = requested ?? baseModel.features.map((f) => f.id);
      const unknown = features.filter((f) => !baseModel?.features.some((m) => m.id === f));
      if (unknown.length > 0) throw new UsageError(`not features of ${baseModel.name}: ${unknown.join(', ')}`);
      const { source: cohortSource, baseUrl } = await cohortSourceFromFlags(values, env, MODEL_TYPES);
      const cohort = await readCohort(cohortSource, baseModel, { base, asOf: now });
      const design = cohortDesign(cohort, features);
      data = design.data;
      source = `the study store at ${baseUrl}`;
      heading =
        `Logistic regression (${method}) of ${baseModel.outcome.id} on ${features.join(' + ')} from ${baseUrl}: ` +
        `${design.rowNames.length} of ${cohort.length} subjects used (${design.omitted.length} without endpoint or a feature)`;
    }

    const fit = fitAndValidate(data, fitOptions);
    const document = baseModel
      ? parseModel(modelFromFit(baseModel, fit, { version: nextVersion(models, baseModel.name), fittedAt: now, source }), 'fitted model')
      : undefined;
    if (values.json) {
      io.out(JSON.stringify(document ?? fitReport(fit, heading), null, 2));
      return 0;
    }
    for (const line of formatFit(fit, heading)) io.out(line);
    if (document) {
      const file = join(modelsDir, modelFileName(document));
      writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
      io.out('');
      io.out(`Wrote ${relative(process.cwd(), file)}: ${document.name} ${document.version} (draft; make it active by editing its status after review).`);
    } else {
      io.out('');
      io.out('Not a study model (the predictors are not all features of a model in the models folder): nothing written.');
    }
    return 0;
  } catch (error) {
    if (error instanceof SeparationError) {
      io.err(`model:fit: ${error.message}`);
      return 3;
    }
    io.err(`model:fit: ${(error as Error).message}`);
    return error instanceof UsageError || (error as Error).name === 'TypeError' ? 2 : 1;
  }
}

function fitReport(fit: FitSummary, heading: string): unknown {
  const { crossValidation, ...rest } = fit;
  const { perRepeat: _perRepeat, ...cv } = crossValidation;
  const { optimismByReplicate: _byReplicate, ...bootstrap } = fit.bootstrap;
  return { heading, ...rest, crossValidation: cv, bootstrap };
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
