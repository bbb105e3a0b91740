/**
 * Fitting a model version: the design from the cohort (or a CSV), the fit by IRLS, Firth or ridge,
 * its internal validation (repeated cross-validation, bootstrap optimism), and the new model
 * document. Pure computation; the script reads and writes.
 */
import { deviance as binomialDeviance, inverseLogit } from '../stats/binomial-family.js';
import { fitFirth } from '../stats/firth.js';
import { fitLogistic } from '../stats/logistic.js';
import { INTERCEPT, linearPredictor, type Fitter, type ModelData } from '../stats/model-data.js';
import { chooseRidgeLambda, fitRidge, ridgeFitter } from '../stats/ridge.js';
import { detectSeparation, type SeparationResult } from '../stats/separation.js';
import { bootstrapOptimism, crossValidate, type CrossValidationResult, type OptimismResult } from '../stats/validation.js';
import type { CohortSubject } from './cohort.js';
import { ModelSpecError, type PredictionModel } from './model-spec.js';

/** Fitting method. */
export type FitMethod = 'irls' | 'firth' | 'ridge';

/** One coefficient as fitted. */
export interface FittedCoefficient {
  readonly name: string;
  readonly estimate: number;
  readonly standardError: number | null;
  readonly z: number | null;
  readonly p: number | null;
  readonly standardisation?: { readonly center: number; readonly scale: number };
}

/** Everything a fit reports. */
export interface FitSummary {
  readonly method: FitMethod;
  readonly subjects: number;
  readonly events: number;
  readonly coefficients: readonly FittedCoefficient[];
  readonly deviance: number;
  readonly nullDeviance: number;
  readonly aic: number | null;
  readonly lambda?: number;
  readonly converged: boolean;
  readonly warnings: readonly string[];
  readonly separation: SeparationResult;
  readonly crossValidation: CrossValidationResult;
  readonly bootstrap: OptimismResult & { readonly replicates: number; readonly seed: number };
}

/** Validation settings. */
export interface FitOptions {
  readonly method: FitMethod;
  /** k of the cross-validation; default min(5, events, non-events). */
  readonly folds?: number;
  /** Default 20. */
  readonly repeats?: number;
  /** Bootstrap resamples; default 200. */
  readonly bootstrap?: number;
  /** Default 20240601. */
  readonly seed?: number;
}

/** Thrown when maximum likelihood has no finite estimate: the separation is reported, never a diverged fit. */
export class SeparationError extends Error {
  override name = 'SeparationError';
  constructor(readonly separation: SeparationResult) {
    const which = separation.separatingPredictors.map((s) => `${s.column} (${s.kind}, events at ${s.eventsAt} values)`).join(', ');
    super(
      `${separation.status} separation: the maximum-likelihood estimate does not exist` +
        `${which ? `; separating predictors: ${which}` : ''}; rows ${separation.separatedRows.length} of the data are fitted at 0 or 1. ` +
        'Refit with --method firth (bias-reduced) or --method ridge, or drop the separating predictor.',
    );
  }
}

/**
 * The design for a model from a cohort: the subjects with an endpoint (0/1) and every chosen feature,
 * in pseudonym order; the intercept first, then the features in the given order.
 * @param cohort - The cohort.
 * @param features - Feature ids to use.
 * @returns The design, the subjects used, and those left out with the reason.
 */
export function cohortDesign(
  cohort: readonly CohortSubject[],
  features: readonly string[],
): { data: ModelData; rowNames: string[]; omitted: { subject: string; reason: string }[] } {
  const x: number[][] = [];
  const y: number[] = [];
  const rowNames: string[] = [];
  const omitted: { subject: string; reason: string }[] = [];
  for (const s of cohort) {
    if (s.endpoint === undefined || s.endpoint === null) {
      omitted.push({ subject: s.subject, reason: s.endpoint === null ? 'endpoint not evaluable' : 'no endpoint yet' });
      continue;
    }
    const values = new Map(s.features.values.map((v) => [v.feature.id, v.value]));
    const missing = features.filter((f) => !values.has(f));
    if (missing.length > 0) {
      omitted.push({ subject: s.subject, reason: `missing ${missing.join(', ')}` });
      continue;
    }
    x.push([1, ...features.map((f) => values.get(f) as number)]);
    y.push(s.endpoint);
    rowNames.push(s.subject);
  }
  return { data: { columnNames: [INTERCEPT, ...features], x, y }, rowNames, omitted };
}

/**
 * Fits and validates a logistic model.
 * @param data - 0/1 outcome data with an intercept column.
 * @param options - Method and validation settings.
 * @returns The summary.
 * @throws SeparationError for IRLS on separated data; ModelDataError for data that cannot be validated.
 */
export function fitAndValidate(data: ModelData, options: FitOptions): FitSummary {
  const separation = detectSeparation(data);
  if (options.method === 'irls' && separation.status !== 'none') throw new SeparationError(separation);
  const events = data.y.filter((v) => v === 1).length;
  const n = data.y.length;
  const seed = options.seed ?? 20240601;
  const folds = options.folds ?? Math.max(2, Math.min(5, events, n - events));
  const mean = data.y.reduce((s, v) => s + v, 0) / n;
  const ones = data.y.map(() => 1);
  const nullDeviance = binomialDeviance(data.y, data.y.map(() => mean), ones);

  let coefficients: FittedCoefficient[];
  let deviance: number;
  let aic: number | null = null;
  let lambda: number | undefined;
  let converged: boolean;
  let warnings: string[] = [];
  let fitter: Fitter;
  switch (options.method) {
    case 'irls': {
      const fit = fitLogistic(data);
      coefficients = fit.table.map((r) => ({ name: r.name, estimate: r.estimate, standardError: r.standardError, z: r.z, p: r.p }));
      deviance = fit.deviance;
      aic = fit.aic;
      converged = fit.converged;
      warnings = fit.warnings;
      fitter = (d) => fitLogistic(d);
      break;
    }
    case 'firth': {
      const fit = fitFirth(data);
      coefficients = fit.table.map((r) => ({ name: r.name, estimate: r.estimate, standardError: r.standardError, z: r.z, p: r.p }));
      deviance = binomialDeviance(data.y, fit.fitted, ones);
      converged = fit.converged;
      fitter = (d) => fitFirth(d);
      break;
    }
    case 'ridge': {
      lambda = chooseRidgeLambda(data, { seed }).lambda;
      const fit = fitRidge(data, { lambda });
      coefficients = fit.columnNames.map((name, j) => ({
        name,
        estimate: fit.coefficients[j] as number,
        standardError: null,
        z: null,
        p: null,
        ...(name === INTERCEPT ? {} : { standardisation: { center: fit.standardisation.center[j] as number, scale: fit.standardisation.scale[j] as number } }),
      }));
      deviance = fit.deviance;
      converged = fit.converged;
      fitter = ridgeFitter({ seed });
      break;
    }
  }
  const crossValidation = crossValidate(data, { fitter, folds, repeats: options.repeats ?? 20, seed });
  const replicates = options.bootstrap ?? 200;
  const bootstrap = { ...bootstrapOptimism(data, { fitter, replicates, seed }), replicates, seed };
  return {
    method: options.method,
    subjects: n,
    events,
    coefficients,
    deviance,
    nullDeviance,
    aic,
    ...(lambda === undefined ? {} : { lambda }),
    converged,
    warnings,
    separation,
    crossValidation,
    bootstrap,
  };
}

/**
 * The new model version from a fit: the base model's outcome, timepoint, policy and threshold, the
 * chosen features, the fitted coefficients and the fit's performance; status draft.
 * @param base - The model the features come from.
 * @param fit - The fit (coefficient names = feature ids).
 * @param meta - Version, date and where the data came from.
 * @returns The document (validate with parseModel before writing).
 * @throws ModelSpecError when a coefficient is not a feature of the base model.
 */
export function modelFromFit(
  base: PredictionModel,
  fit: FitSummary,
  meta: { readonly version: string; readonly fittedAt: Date; readonly source: string },
): PredictionModel {
  const byId = new Map(base.features.map((f) => [f.id, f]));
  const terms = fit.coefficients.filter((c) => c.name !== INTERCEPT);
  const unknown = terms.filter((c) => !byId.has(c.name)).map((c) => c.name);
  if (unknown.length > 0) throw new ModelSpecError(`not features of ${base.name}: ${unknown.join(', ')}`);
  const intercept = fit.coefficients.find((c) => c.name === INTERCEPT);
  if (!intercept) throw new ModelSpecError('the fit has no intercept');
  const cv = fit.crossValidation;
  return {
    ...base,
    version: meta.version,
    status: 'draft',
    date: meta.fittedAt.toISOString().slice(0, 10),
    title: `${base.title.replace(/\s*\(.*\)\s*$/, '')} (fitted ${meta.fittedAt.toISOString().slice(0, 10)})`,
    description:
      `Logistic regression (${fit.method}) of ${base.outcome.label} on ${terms.map((t) => t.name).join(', ')}, fitted on ${fit.subjects} subjects ` +
      `(${fit.events} events) from ${meta.source}. Internally validated only (cross-validation and bootstrap); not externally validated.`,
    caution: `Draft fitted on ${fit.subjects} subjects; internally validated only (optimism-corrected AUC ${fit.bootstrap.correctedAuc.toFixed(3)}); not for clinical use until reviewed and made active.`,
    features: terms.map((t) => byId.get(t.name) as PredictionModel['features'][number]),
    model: {
      family: 'binomial',
      link: 'logit',
      method: fit.method,
      ...(fit.lambda === undefined ? {} : { lambda: fit.lambda }),
      intercept: { estimate: intercept.estimate, standardError: intercept.standardError },
      coefficients: terms.map((t) => ({
        feature: t.name,
        estimate: t.estimate,
        standardError: t.standardError,
        ...(t.standardisation ? { standardisation: t.standardisation } : {}),
      })),
    },
    performance: {
      subjects: fit.subjects,
      events: fit.events,
      deviance: fit.deviance,
      nullDeviance: fit.nullDeviance,
      aic: fit.aic,
      separation: fit.separation.status,
      crossValidation: {
        folds: cv.folds,
        repeats: cv.repeats,
        seed: cv.seed,
        auc: cv.auc,
        brier: cv.brier,
        calibrationIntercept: cv.calibrationIntercept,
        calibrationSlope: cv.calibrationSlope,
      },
      bootstrap: {
        replicates: fit.bootstrap.replicates,
        seed: fit.bootstrap.seed,
        apparentAuc: fit.bootstrap.apparentAuc,
        optimism: fit.bootstrap.optimism,
        correctedAuc: fit.bootstrap.correctedAuc,
      },
    },
    provenance: { source: meta.source, fittedAt: meta.fittedAt.toISOString(), basedOn: `${base.name} ${base.version}` },
  };
}

/**
 * Fitted probabilities of a model for a design (for reports).
 * @param coefficients - Coefficients in column order.
 * @param data - The design.
 * @returns Probabilities.
 */
export function fittedProbabilities(coefficients: readonly number[], data: ModelData): number[] {
  return data.x.map((row) => inverseLogit(linearPredictor(coefficients, row)));
}
