/**
 * Firth's bias-reduced logistic regression: maximises the Jeffreys-prior penalised likelihood
 * ℓ(β) + ½ log det I(β), whose estimates are finite even under separation (Firth 1993; Heinze &
 * Schemper 2002, Stat Med 21:2409). The root of the modified score
 *   U*(β) = Σ xᵢ [wᵢ(yᵢ − μᵢ) + hᵢ(½ − μᵢ)],  hᵢ = diag of W½X(XᵀWX)⁻¹XᵀW½,
 * is found by the Fisher-scoring iteration of logistf (step capped at `maxStep`, halved while the
 * penalised likelihood falls).
 *
 * Inference: standard errors are Wald, from the inverse Fisher information at the estimate (the
 * variance logistf and brglm2 report). logistf's default p values and intervals come from the
 * profile penalised likelihood instead; those are not computed here, and Wald p values can be
 * optimistic under separation.
 */
import { inverseLogit, logLikelihood } from './binomial-family.js';
import { checkModelData, type LinearFit, type ModelData } from './model-data.js';
import { twoSidedNormalP } from './normal.js';
import { qrLeastSquares, SingularDesignError } from './qr-least-squares.js';
import type { CoefficientRow } from './logistic.js';

/** Controls of the Firth iteration. */
export interface FirthOptions {
  /** Stop when every coefficient moves less than this. Default 1e-10. */
  readonly tolerance?: number;
  /** Default 100. */
  readonly maxIterations?: number;
  /** Largest change of any coefficient in one step (logistf's maxstep). Default 5. */
  readonly maxStep?: number;
  /** Default 25 (logistf uses 0 by default: with the step cap it rarely matters). */
  readonly maxHalvings?: number;
}

/** A Firth fit. */
export interface FirthFit extends LinearFit {
  readonly columnNames: readonly string[];
  readonly coefficients: number[];
  /** Wald standard errors from the inverse Fisher information at the estimate. */
  readonly standardErrors: number[];
  readonly table: CoefficientRow[];
  readonly covariance: number[][];
  readonly aliased: boolean[];
  /** ℓ(β̂) + ½ log det I(β̂). */
  readonly penalisedLogLikelihood: number;
  /** ℓ(β̂), binomial coefficients left out. */
  readonly logLikelihood: number;
  readonly fitted: number[];
  /** Hat-matrix diagonal hᵢ at the estimate. */
  readonly leverages: number[];
  readonly iterations: number;
  readonly converged: boolean;
}

interface State {
  eta: number[];
  mu: number[];
  penalised: number;
  loglik: number;
  covariance: number[][];
  hat: number[];
  score: number[];
}

/**
 * Fits Firth's penalised-likelihood logistic regression.
 * @param data - Design, 0/1 or proportion outcome, optional prior weights and offset.
 * @param options - Iteration controls.
 * @returns The fit.
 * @throws ModelDataError for malformed data; SingularDesignError when no column is estimable.
 */
export function fitFirth(data: ModelData, options: FirthOptions = {}): FirthFit {
  const { weights, offset } = checkModelData(data);
  const tolerance = options.tolerance ?? 1e-10;
  const maxIterations = options.maxIterations ?? 100;
  const maxStep = options.maxStep ?? 5;
  const maxHalvings = options.maxHalvings ?? 25;
  const p = data.columnNames.length;
  // Aliased columns carry no information under any penalty: find them once, fit without them.
  const { kept, aliased } = qrLeastSquares(data.x, data.y, 1e-7);
  if (kept.length === 0) throw new SingularDesignError('every column of the design is aliased');
  const x = data.x.map((row) => kept.map((j) => row[j] as number));
  const k = kept.length;
  const y = data.y;

  const evaluate = (beta: readonly number[]): State => {
    const eta = x.map((row, i) => row.reduce((s, v, j) => s + v * (beta[j] as number), 0) + (offset[i] as number));
    const mu = eta.map(inverseLogit);
    const w = mu.map((m, i) => (weights[i] as number) * m * (1 - m));
    const solve = qrLeastSquares(
      x.map((row, i) => row.map((v) => v * Math.sqrt(w[i] as number))),
      x.map(() => 0),
      0,
    );
    const cov = solve.unscaledCovariance.to2DArray();
    const hat = x.map((row, i) => {
      let q = 0;
      for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) q += (row[a] as number) * (cov[a]?.[b] as number) * (row[b] as number);
      return (w[i] as number) * q;
    });
    const score = new Array<number>(k).fill(0);
    x.forEach((row, i) => {
      const m = mu[i] as number;
      const r = (weights[i] as number) * ((y[i] as number) - m) + (hat[i] as number) * (0.5 - m);
      row.forEach((v, j) => (score[j] = (score[j] as number) + v * r));
    });
    const loglik = logLikelihood(y, eta, weights);
    return { eta, mu, penalised: loglik + 0.5 * solve.logDeterminant, loglik, covariance: cov, hat, score };
  };

  let beta = new Array<number>(k).fill(0);
  let state = evaluate(beta);
  let converged = false;
  let iterations = 0;
  for (let iter = 1; iter <= maxIterations; iter++) {
    iterations = iter;
    let delta = state.covariance.map((row) => row.reduce((s, c, j) => s + c * (state.score[j] as number), 0));
    const largest = Math.max(...delta.map(Math.abs));
    if (largest > maxStep) delta = delta.map((d) => (d * maxStep) / largest);
    let candidate = beta.map((b, j) => b + (delta[j] as number));
    let next = evaluate(candidate);
    for (let h = 0; h < maxHalvings && !(next.penalised >= state.penalised - 1e-12 * Math.abs(state.penalised)); h++) {
      delta = delta.map((d) => d / 2);
      candidate = beta.map((b, j) => b + (delta[j] as number));
      next = evaluate(candidate);
    }
    beta = candidate;
    state = next;
    if (Math.max(...delta.map(Math.abs)) < tolerance) {
      converged = true;
      break;
    }
  }

  const expand = (values: readonly number[]): number[] => {
    const out = new Array<number>(p).fill(Number.NaN);
    kept.forEach((j, a) => (out[j] = values[a] as number));
    return out;
  };
  const coefficients = expand(beta);
  const covariance = Array.from({ length: p }, () => new Array<number>(p).fill(Number.NaN));
  kept.forEach((j, a) => kept.forEach((l, b) => ((covariance[j] as number[])[l] = state.covariance[a]?.[b] as number)));
  const standardErrors = covariance.map((row, j) => Math.sqrt(row[j] as number));
  const table = data.columnNames.map((name, j): CoefficientRow => {
    const estimate = coefficients[j] as number;
    const standardError = standardErrors[j] as number;
    return { name, estimate, standardError, z: estimate / standardError, p: twoSidedNormalP(estimate / standardError) };
  });
  return {
    columnNames: data.columnNames,
    coefficients,
    standardErrors,
    table,
    covariance,
    aliased,
    penalisedLogLikelihood: state.penalised,
    logLikelihood: state.loglik,
    fitted: state.mu,
    leverages: state.hat,
    iterations,
    converged,
  };
}
