/**
 * L2-penalised (ridge) logistic regression.
 *
 * Maximises ℓ(β) − (λ/2) Σⱼ β̃ⱼ², where β̃ are the coefficients of the predictors standardised to
 * mean 0 and standard deviation 1 (divisor n, weighted by the prior weights, as glmnet does), and
 * the intercept is not penalised. The fit is done on the standardised scale by Newton–Raphson with
 * step halving and reported back on the original scale:
 *   βⱼ = β̃ⱼ / sⱼ,  β₀ = β̃₀ − Σ β̃ⱼ mⱼ / sⱼ.
 * λ is on the scale of the summed log-likelihood; glmnet's λ (mean log-likelihood, alpha = 0) is λ/n.
 * A predictor with no spread gets scale 1: its centred column is all zeros and its coefficient 0.
 */
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { deviance, inverseLogit, logLikelihood } from './binomial-family.js';
import { stratifiedFolds } from './folds.js';
import { checkModelData, INTERCEPT, type Fitter, type LinearFit, linearPredictor, type ModelData, ModelDataError, selectRows } from './model-data.js';
import { mulberry32 } from './prng.js';

/** Controls of a ridge fit. */
export interface RidgeOptions {
  /** Penalty λ ≥ 0 on the summed log-likelihood scale. */
  readonly lambda: number;
  /** Stop when every standardised coefficient moves less than this. Default 1e-10. */
  readonly tolerance?: number;
  /** Default 100. */
  readonly maxIterations?: number;
}

/** The centring and scaling used for each column (intercept: centre 0, scale 1). */
export interface Standardisation {
  readonly center: readonly number[];
  readonly scale: readonly number[];
}

/** A ridge fit. */
export interface RidgeFit extends LinearFit {
  readonly columnNames: readonly string[];
  /** On the original scale of the predictors. */
  readonly coefficients: number[];
  /** On the standardised scale (the penalised ones). */
  readonly standardisedCoefficients: number[];
  readonly standardisation: Standardisation;
  readonly lambda: number;
  /** ℓ(β̂) − (λ/2)‖β̃‖². */
  readonly penalisedLogLikelihood: number;
  /** Unpenalised binomial deviance at the estimate. */
  readonly deviance: number;
  /** tr[(XᵀWX + λP)⁻¹ XᵀWX], the effective number of parameters. */
  readonly effectiveDf: number;
  readonly iterations: number;
  readonly converged: boolean;
}

/**
 * Weighted means and standard deviations (divisor Σw) of the columns; intercept left alone.
 * @param data - The data.
 * @param weights - Prior weights.
 * @returns The standardisation.
 */
export function standardisation(data: ModelData, weights: readonly number[]): Standardisation {
  const total = weights.reduce((s, w) => s + w, 0);
  const center = data.columnNames.map((name, j) =>
    name === INTERCEPT ? 0 : data.x.reduce((s, row, i) => s + (weights[i] as number) * (row[j] as number), 0) / total,
  );
  const scale = data.columnNames.map((name, j) => {
    if (name === INTERCEPT) return 1;
    const m = center[j] as number;
    const sd = Math.sqrt(data.x.reduce((s, row, i) => s + (weights[i] as number) * ((row[j] as number) - m) ** 2, 0) / total);
    return sd > 1e-12 * Math.max(1, Math.abs(m)) ? sd : 1;
  });
  return { center, scale };
}

/**
 * Fits a ridge logistic regression at a given λ.
 * @param data - Design (with an intercept column), outcome, optional prior weights and offset.
 * @param options - λ and iteration controls.
 * @returns The fit.
 * @throws ModelDataError when the design has no intercept or λ is negative.
 */
export function fitRidge(data: ModelData, options: RidgeOptions): RidgeFit {
  const { weights, offset } = checkModelData(data);
  const lambda = options.lambda;
  if (!(lambda >= 0)) throw new ModelDataError(`lambda must be ≥ 0, got ${lambda}`);
  const interceptIndex = data.columnNames.indexOf(INTERCEPT);
  if (interceptIndex < 0) throw new ModelDataError('ridge needs an intercept column, which it leaves unpenalised');
  const tolerance = options.tolerance ?? 1e-10;
  const maxIterations = options.maxIterations ?? 100;
  const std = standardisation(data, weights);
  const p = data.columnNames.length;
  const xs = data.x.map((row) => row.map((v, j) => (v - (std.center[j] as number)) / (std.scale[j] as number)));
  const penalised = data.columnNames.map((_, j) => (j === interceptIndex ? 0 : 1));
  const y = data.y;

  const etaOf = (beta: readonly number[]): number[] => xs.map((row, i) => linearPredictor(beta, row) + (offset[i] as number));
  const objective = (beta: readonly number[], eta: readonly number[]): number =>
    logLikelihood(y, eta, weights) - (lambda / 2) * beta.reduce((s, b, j) => s + (penalised[j] as number) * b * b, 0);

  // Start at the weighted event rate, on the logit scale, for the intercept.
  const totalWeight = weights.reduce((s, w) => s + w, 0);
  const rate = Math.min(1 - 1e-6, Math.max(1e-6, y.reduce((s, v, i) => s + v * (weights[i] as number), 0) / totalWeight));
  let beta = new Array<number>(p).fill(0);
  beta[interceptIndex] = Math.log(rate / (1 - rate));
  let eta = etaOf(beta);
  let value = objective(beta, eta);
  let converged = false;
  let iterations = 0;
  let information = new Matrix(p, p);
  let hessian = new Matrix(p, p);
  for (let iter = 1; iter <= maxIterations; iter++) {
    iterations = iter;
    const mu = eta.map(inverseLogit);
    const w = mu.map((m, i) => (weights[i] as number) * m * (1 - m));
    const gradient = beta.map((b, j) => xs.reduce((s, row, i) => s + (row[j] as number) * (weights[i] as number) * ((y[i] as number) - (mu[i] as number)), 0) - lambda * (penalised[j] as number) * b);
    information = crossProduct(xs, w);
    hessian = information.clone();
    for (let j = 0; j < p; j++) hessian.set(j, j, hessian.get(j, j) + lambda * (penalised[j] as number));
    let delta = new CholeskyDecomposition(hessian).solve(Matrix.columnVector(gradient)).to1DArray();
    let candidate = beta.map((b, j) => b + (delta[j] as number));
    let candidateEta = etaOf(candidate);
    let candidateValue = objective(candidate, candidateEta);
    for (let h = 0; h < 30 && !(candidateValue >= value - 1e-12 * Math.abs(value)); h++) {
      delta = delta.map((d) => d / 2);
      candidate = beta.map((b, j) => b + (delta[j] as number));
      candidateEta = etaOf(candidate);
      candidateValue = objective(candidate, candidateEta);
    }
    beta = candidate;
    eta = candidateEta;
    value = candidateValue;
    if (Math.max(...delta.map(Math.abs)) < tolerance) {
      converged = true;
      break;
    }
  }
  const effectiveDf = new CholeskyDecomposition(hessian).solve(information).trace();
  const original = beta.map((b, j) => (j === interceptIndex ? b : b / (std.scale[j] as number)));
  original[interceptIndex] = beta.reduce(
    (s, b, j) => (j === interceptIndex ? s : s - (b * (std.center[j] as number)) / (std.scale[j] as number)),
    beta[interceptIndex] as number,
  );
  return {
    columnNames: data.columnNames,
    coefficients: original,
    standardisedCoefficients: beta,
    standardisation: std,
    lambda,
    penalisedLogLikelihood: value,
    deviance: deviance(y, eta.map(inverseLogit), weights),
    effectiveDf,
    iterations,
    converged,
  };
}

/** XᵀWX for row-major X. */
function crossProduct(x: readonly (readonly number[])[], w: readonly number[]): Matrix {
  const p = x[0]?.length ?? 0;
  const out = new Matrix(p, p);
  x.forEach((row, i) => {
    const wi = w[i] as number;
    for (let a = 0; a < p; a++) {
      const ra = (row[a] as number) * wi;
      for (let b = a; b < p; b++) out.set(a, b, out.get(a, b) + ra * (row[b] as number));
    }
  });
  for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) out.set(a, b, out.get(b, a));
  return out;
}

/** Default λ grid: 10^−3 … 10^3 in quarter-decade steps (25 values). */
export const DEFAULT_LAMBDAS: readonly number[] = Array.from({ length: 25 }, (_, k) => 10 ** (-3 + k / 4));

/** Options for choosing λ by cross-validation. */
export interface RidgeCvOptions {
  /** Candidate λ values. Default {@link DEFAULT_LAMBDAS}. */
  readonly lambdas?: readonly number[];
  /** Default 5. */
  readonly folds?: number;
  /** Seed of the fold assignment. Default 1. */
  readonly seed?: number;
}

/** The λ chosen and the out-of-fold deviance of every candidate. */
export interface RidgeCvResult {
  readonly lambda: number;
  readonly path: readonly { readonly lambda: number; readonly deviance: number }[];
}

/**
 * Chooses λ by stratified k-fold cross-validation, minimising the out-of-fold binomial deviance
 * (the smallest λ on a tie, i.e. the least shrinkage).
 * @param data - 0/1 outcome data.
 * @param options - Grid, folds and seed.
 * @returns The chosen λ and the deviance path.
 */
export function chooseRidgeLambda(data: ModelData, options: RidgeCvOptions = {}): RidgeCvResult {
  const lambdas = options.lambdas ?? DEFAULT_LAMBDAS;
  const k = options.folds ?? 5;
  const fold = stratifiedFolds(data.y, k, mulberry32(options.seed ?? 1));
  const path = lambdas.map((lambda) => {
    let total = 0;
    for (let f = 0; f < k; f++) {
      const train = fold.flatMap((g, i) => (g === f ? [] : [i]));
      const test = fold.flatMap((g, i) => (g === f ? [i] : []));
      const fit = fitRidge(selectRows(data, train), { lambda });
      const testData = selectRows(data, test);
      const mu = testData.x.map((row, i) => inverseLogit(linearPredictor(fit.coefficients, row) + (testData.offset?.[i] ?? 0)));
      total += deviance(testData.y, mu, testData.weights ?? testData.y.map(() => 1));
    }
    return { lambda, deviance: total };
  });
  const best = path.reduce((a, b) => (b.deviance < a.deviance ? b : a));
  return { lambda: best.lambda, path };
}

/**
 * A {@link Fitter} for cross-validation and the bootstrap: ridge at a fixed λ, or with λ chosen
 * afresh by inner cross-validation on each training set (nested, so the choice is validated too).
 * @param options - A fixed λ, or the inner cross-validation's options.
 * @returns The fitter.
 */
export function ridgeFitter(options: { readonly lambda: number } | RidgeCvOptions = {}): Fitter {
  return (data) => {
    const lambda = 'lambda' in options ? options.lambda : chooseRidgeLambda(data, options).lambda;
    return fitRidge(data, { lambda });
  };
}
