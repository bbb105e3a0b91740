/**
 * Internal validation of a prediction model for a binary outcome (TRIPOD: repeated cross-validation
 * and bootstrap optimism correction; Steyerberg, Clinical Prediction Models, 2nd ed., ch. 5 & 15).
 *
 * Cross-validation: in each repeat, stratified k-fold; every subject gets an out-of-fold linear
 * predictor from the model fitted without its fold. Per repeat the pooled out-of-fold predictions
 * give the AUC (DeLong SE), the Brier score and the calibration intercept and slope; the reported
 * figures are means over repeats, and the AUC interval uses the mean DeLong variance. That interval
 * treats the pooled predictions as if from one model, so it ignores the variation between the
 * fold models and is somewhat narrow.
 *
 * Bootstrap (Harrell, Lee & Mark 1996): optimism = mean over B resamples of (AUC of the resample's
 * model on the resample − AUC of that model on the original data); corrected AUC = apparent − optimism.
 *
 * Both take the fitter as a parameter, so IRLS, ridge (with λ re-chosen inside each training set)
 * and Firth are validated the same way.
 */
import { type AucEstimate, aucWithConfidence } from './auc.js';
import { inverseLogit } from './binomial-family.js';
import { stratifiedFolds } from './folds.js';
import { fitLogistic } from './logistic.js';
import { type Fitter, INTERCEPT, linearPredictor, type ModelData, ModelDataError, selectRows } from './model-data.js';
import { normalQuantile } from './normal.js';
import { mulberry32, randomInt } from './prng.js';

/** Calibration of predictions against outcomes (Van Calster et al. 2019, BMC Med 17:230). */
export interface Calibration {
  /** Calibration-in-the-large: intercept of logit P(y) = a + lp (lp as offset); 0 is ideal. */
  readonly intercept: number;
  /** Slope b of logit P(y) = a + b·lp; 1 is ideal, below 1 means over-fitting. */
  readonly slope: number;
  /** The a fitted jointly with the slope. */
  readonly recalibrationIntercept: number;
}

/**
 * Logistic recalibration of a linear predictor.
 * @param lp - Linear predictors (log-odds).
 * @param y - 0/1 outcomes.
 * @returns Intercept (in the large), slope and the joint intercept.
 */
export function calibration(lp: readonly number[], y: readonly number[]): Calibration {
  const inTheLarge = fitLogistic({ columnNames: [INTERCEPT], x: lp.map(() => [1]), y, offset: lp });
  const recalibration = fitLogistic({ columnNames: [INTERCEPT, 'lp'], x: lp.map((v) => [1, v]), y });
  return {
    intercept: inTheLarge.coefficients[0] as number,
    slope: recalibration.coefficients[1] as number,
    recalibrationIntercept: recalibration.coefficients[0] as number,
  };
}

/**
 * Brier score, the mean squared difference between predicted probability and outcome.
 * @param probabilities - Predicted probabilities.
 * @param y - 0/1 outcomes.
 * @returns The score (0 is perfect; a constant prediction of the prevalence π scores π(1 − π)).
 */
export function brierScore(probabilities: readonly number[], y: readonly number[]): number {
  return probabilities.reduce((s, p, i) => s + (p - (y[i] as number)) ** 2, 0) / probabilities.length;
}

/** Options of repeated cross-validation. */
export interface CrossValidationOptions {
  readonly fitter: Fitter;
  /** k of k-fold. */
  readonly folds: number;
  readonly repeats: number;
  readonly seed: number;
  /** Confidence level of the AUC interval. Default 0.95. */
  readonly level?: number;
}

/** The figures of one repeat. */
export interface RepeatResult {
  readonly auc: AucEstimate;
  readonly brier: number;
  readonly calibration: Calibration;
  /** Out-of-fold linear predictor of each subject. */
  readonly outOfFoldLinearPredictor: readonly number[];
}

/** Result of repeated cross-validation. */
export interface CrossValidationResult {
  readonly folds: number;
  readonly repeats: number;
  readonly seed: number;
  /** Mean AUC over repeats, SE = √(mean DeLong variance), normal interval clipped to [0, 1]. */
  readonly auc: { readonly estimate: number; readonly standardError: number; readonly lower: number; readonly upper: number; readonly level: number };
  readonly brier: number;
  readonly calibrationIntercept: number;
  readonly calibrationSlope: number;
  readonly perRepeat: readonly RepeatResult[];
}

/** Refuses what the validation cannot score: grouped data, and outcomes other than 0/1. */
function checkBinary(data: ModelData): void {
  if (data.y.some((v) => v !== 0 && v !== 1)) throw new ModelDataError('validation needs a 0/1 outcome, one row per subject');
  if (data.weights?.some((w) => w !== 1)) throw new ModelDataError('validation does not take prior weights');
  const events = data.y.filter((v) => v === 1).length;
  if (events === 0 || events === data.y.length) throw new ModelDataError('validation needs both events and non-events');
}

const predict = (fit: { readonly coefficients: readonly number[] }, data: ModelData): number[] =>
  data.x.map((row, i) => linearPredictor(fit.coefficients, row) + (data.offset?.[i] ?? 0));

/**
 * Repeated stratified k-fold cross-validation.
 * @param data - 0/1 outcome data, one row per subject.
 * @param options - Fitter, k, repeats, seed.
 * @returns Discrimination, accuracy and calibration, per repeat and averaged.
 * @throws ModelDataError for data other than 0/1 outcomes; RangeError for an impossible k.
 */
export function crossValidate(data: ModelData, options: CrossValidationOptions): CrossValidationResult {
  checkBinary(data);
  const level = options.level ?? 0.95;
  const random = mulberry32(options.seed);
  const perRepeat: RepeatResult[] = [];
  for (let r = 0; r < options.repeats; r++) {
    const fold = stratifiedFolds(data.y, options.folds, random);
    const lp = new Array<number>(data.y.length).fill(0);
    for (let f = 0; f < options.folds; f++) {
      const test = fold.flatMap((g, i) => (g === f ? [i] : []));
      const train = fold.flatMap((g, i) => (g === f ? [] : [i]));
      const fit = options.fitter(selectRows(data, train));
      const predicted = predict(fit, selectRows(data, test));
      test.forEach((i, k) => (lp[i] = predicted[k] as number));
    }
    perRepeat.push({
      auc: aucWithConfidence(lp, data.y, level),
      brier: brierScore(lp.map(inverseLogit), data.y),
      calibration: calibration(lp, data.y),
      outOfFoldLinearPredictor: lp,
    });
  }
  const mean = (f: (r: RepeatResult) => number): number => perRepeat.reduce((s, r) => s + f(r), 0) / perRepeat.length;
  const estimate = mean((r) => r.auc.auc);
  const standardError = Math.sqrt(mean((r) => r.auc.standardError ** 2));
  const z = normalQuantile(1 - (1 - level) / 2);
  return {
    folds: options.folds,
    repeats: options.repeats,
    seed: options.seed,
    auc: { estimate, standardError, lower: Math.max(0, estimate - z * standardError), upper: Math.min(1, estimate + z * standardError), level },
    brier: mean((r) => r.brier),
    calibrationIntercept: mean((r) => r.calibration.intercept),
    calibrationSlope: mean((r) => r.calibration.slope),
    perRepeat,
  };
}

/** Options of the bootstrap. */
export interface BootstrapOptions {
  readonly fitter: Fitter;
  /** Number of bootstrap resamples B. */
  readonly replicates: number;
  readonly seed: number;
}

/** Harrell's optimism-corrected AUC. */
export interface OptimismResult {
  /** AUC of the model fitted to all data, on all data. */
  readonly apparentAuc: number;
  /** Mean of (bootstrap apparent − bootstrap model on original data). */
  readonly optimism: number;
  readonly correctedAuc: number;
  /** Each resample's optimism, in order. */
  readonly optimismByReplicate: readonly number[];
  /** Resamples drawn again because they held only one class (the AUC is then undefined). */
  readonly redrawn: number;
}

/**
 * Bootstrap optimism correction of the AUC.
 * @param data - 0/1 outcome data, one row per subject.
 * @param options - Fitter, B, seed.
 * @returns Apparent, optimism and corrected AUC.
 * @throws ModelDataError for data other than 0/1 outcomes.
 */
export function bootstrapOptimism(data: ModelData, options: BootstrapOptions): OptimismResult {
  checkBinary(data);
  const random = mulberry32(options.seed);
  const n = data.y.length;
  const aucOf = (lp: readonly number[], y: readonly number[]): number => aucWithConfidence(lp, y).auc;
  const apparentAuc = aucOf(predict(options.fitter(data), data), data.y);
  const optimismByReplicate: number[] = [];
  let redrawn = 0;
  while (optimismByReplicate.length < options.replicates) {
    const rows = Array.from({ length: n }, () => randomInt(random, n));
    const sample = selectRows(data, rows);
    const events = sample.y.filter((v) => v === 1).length;
    if (events === 0 || events === n) {
      redrawn++;
      continue;
    }
    const fit = options.fitter(sample);
    optimismByReplicate.push(aucOf(predict(fit, sample), sample.y) - aucOf(predict(fit, data), data.y));
  }
  const optimism = optimismByReplicate.reduce((s, v) => s + v, 0) / optimismByReplicate.length;
  return { apparentAuc, optimism, correctedAuc: apparentAuc - optimism, optimismByReplicate, redrawn };
}
