/**
 * Maximum-likelihood logistic regression by iteratively reweighted least squares (Fisher scoring),
 * a line-by-line reimplementation of R's glm.fit for family = binomial(link = "logit") so that
 * coefficients, standard errors, deviances, AIC and the iteration count agree with R:
 * the same starting values (μ = (w·y + ½)/(w + 1)), the same convergence test
 * |dev − dev_old| / (|dev| + 0.1) < ε, the same step halving for a non-finite deviance, and standard
 * errors from the QR factor of the last iteration's weighted design, as summary.glm takes them.
 * @see https://stat.ethz.ch/R-manual/R-devel/library/stats/html/glm.html
 */
import { devianceResidual, inverseLogit, logit, minusTwoLogLikelihood, muEta } from './binomial-family.js';
import { checkModelData, INTERCEPT, type LinearFit, type ModelData } from './model-data.js';
import { twoSidedNormalP } from './normal.js';
import { qrLeastSquares, type QrLeastSquaresResult } from './qr-least-squares.js';

/** Controls of the fit; the defaults are R's glm.control(). */
export interface LogisticOptions {
  /** Convergence tolerance on the relative change in deviance. Default 1e-8. */
  readonly epsilon?: number;
  /** Maximum number of IRLS iterations. Default 25. */
  readonly maxIterations?: number;
  /** Starting coefficients (R's `start`); default: R's binomial initialisation. */
  readonly start?: readonly number[];
}

/** One line of R's coefficient table. NaN throughout for an aliased column (R prints NA). */
export interface CoefficientRow {
  readonly name: string;
  readonly estimate: number;
  readonly standardError: number;
  readonly z: number;
  readonly p: number;
}

/** Everything R's glm object and its summary report for a binomial fit. */
export interface LogisticFit extends LinearFit {
  readonly columnNames: readonly string[];
  readonly coefficients: number[];
  readonly standardErrors: number[];
  readonly table: CoefficientRow[];
  /** Inverse Fisher information (R's vcov), NaN in rows and columns of aliased coefficients. */
  readonly covariance: number[][];
  readonly aliased: boolean[];
  readonly rank: number;
  readonly deviance: number;
  readonly nullDeviance: number;
  readonly dfResidual: number;
  readonly dfNull: number;
  readonly aic: number;
  /** −2 log-likelihood (equals the deviance for 0/1 data). */
  readonly minusTwoLogLikelihood: number;
  readonly iterations: number;
  readonly converged: boolean;
  /** Fitted probabilities μ. */
  readonly fitted: number[];
  /** Linear predictors η (offset included). */
  readonly linearPredictors: number[];
  /** Number of fitted probabilities within 10ε of 0 or 1 (R then warns; a sign of separation). */
  readonly fittedAtBoundary: number;
  /** R's warnings, in R's words. */
  readonly warnings: string[];
}

const DEFAULT_EPSILON = 1e-8;
const DEFAULT_MAX_ITERATIONS = 25;

/**
 * Fits a logistic regression by maximum likelihood.
 * Never throws for separation: the fit then ends with huge coefficients, `fittedAtBoundary` > 0 and
 * R's warnings, and {@link ./separation.js} says what kind of separation it is.
 * @param data - Design, outcome, optional prior weights and offset.
 * @param options - Convergence controls.
 * @returns The fit.
 * @throws ModelDataError for malformed data; SingularDesignError when no column is estimable.
 * @example
 * const fit = fitLogistic(design); // design from readAnalysisCsv
 * fit.table; // [{ name: '(Intercept)', estimate: -3.99, standardError: 1.14, z: -3.50, p: 0.000465 }, …]
 */
export function fitLogistic(data: ModelData, options: LogisticOptions = {}): LogisticFit {
  return fit(data, options, false);
}

/** The IRLS fit; `isNullModel` marks the intercept-only fit that gives the null deviance. */
function fit(data: ModelData, options: LogisticOptions, isNullModel: boolean): LogisticFit {
  const { weights, offset } = checkModelData(data);
  const epsilon = options.epsilon ?? DEFAULT_EPSILON;
  const maxIterations = options.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  if (!(maxIterations >= 1)) throw new RangeError('maxIterations must be at least 1');
  const n = data.y.length;
  const p = data.columnNames.length;
  // R sets y to 0 where the weight is 0 so that those rows add nothing anywhere.
  const y = data.y.map((v, i) => ((weights[i] as number) === 0 ? 0 : v));
  const linear = (beta: readonly number[]): number[] =>
    data.x.map((row, i) => row.reduce((s, v, j) => s + v * (beta[j] as number), 0) + (offset[i] as number));
  const totalDeviance = (mu: readonly number[]): number =>
    mu.reduce((s, m, i) => s + devianceResidual(y[i] as number, m, weights[i] as number), 0);

  let eta = options.start ? linear(options.start) : y.map((v, i) => logit(((weights[i] as number) * v + 0.5) / ((weights[i] as number) + 1)));
  let mu = eta.map(inverseLogit);
  let devOld = totalDeviance(mu);
  let coefOld: number[] | null = null;
  let beta: number[] = new Array<number>(p).fill(0);
  let lastSolve: QrLeastSquaresResult | null = null;
  let workingWeights: number[] = [];
  let converged = false;
  let iterations = 0;
  let dev = devOld;
  const warnings: string[] = [];

  for (let iter = 1; iter <= maxIterations; iter++) {
    iterations = iter;
    const rows: number[][] = [];
    const z: number[] = [];
    const good: number[] = [];
    workingWeights = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      const d = muEta(eta[i] as number);
      const m = mu[i] as number;
      if (!((weights[i] as number) > 0) || d === 0) continue;
      const w = Math.sqrt(((weights[i] as number) * d * d) / (m * (1 - m)));
      workingWeights[i] = w * w;
      good.push(i);
      rows.push((data.x[i] as readonly number[]).map((v) => v * w));
      z.push(((eta[i] as number) - (offset[i] as number) + ((y[i] as number) - m) / d) * w);
    }
    lastSolve = qrLeastSquares(rows, z, Math.min(1e-7, epsilon / 1000));
    if (lastSolve.coefficients.some((b) => !Number.isFinite(b))) {
      warnings.push(`glm.fit: non-finite coefficients at iteration ${iter}`);
      converged = false;
      break;
    }
    let start = lastSolve.coefficients;
    eta = linear(start);
    mu = eta.map(inverseLogit);
    dev = totalDeviance(mu);
    if (!Number.isFinite(dev)) {
      // Only reachable from a user-supplied start: the clamped link keeps μ inside (0, 1).
      if (coefOld === null) throw new RangeError('no valid set of coefficients has been found: please supply starting values');
      const previous: number[] = coefOld;
      for (let halvings = 0; !Number.isFinite(dev) && halvings < maxIterations; halvings++) {
        start = start.map((b, j) => (b + (previous[j] as number)) / 2);
        eta = linear(start);
        mu = eta.map(inverseLogit);
        dev = totalDeviance(mu);
      }
    }
    beta = start;
    if (Math.abs(dev - devOld) / (Math.abs(dev) + 0.1) < epsilon) {
      converged = true;
      break;
    }
    devOld = dev;
    coefOld = start;
  }
  if (!converged && !warnings.some((w) => w.includes('non-finite'))) warnings.push('glm.fit: algorithm did not converge');
  const boundaryEps = 10 * Number.EPSILON;
  const fittedAtBoundary = mu.filter((m) => m > 1 - boundaryEps || m < boundaryEps).length;
  if (fittedAtBoundary > 0) warnings.push('glm.fit: fitted probabilities numerically 0 or 1 occurred');

  const solve = lastSolve as QrLeastSquaresResult;
  const aliased = solve.aliased;
  const coefficients = beta.map((b, j) => (aliased[j] ? Number.NaN : b));
  const covariance = Array.from({ length: p }, () => new Array<number>(p).fill(Number.NaN));
  solve.kept.forEach((j, a) => solve.kept.forEach((k, b) => ((covariance[j] as number[])[k] = solve.unscaledCovariance.get(a, b))));
  const standardErrors = covariance.map((row, j) => Math.sqrt(row[j] as number));
  const table = data.columnNames.map((name, j): CoefficientRow => {
    const estimate = coefficients[j] as number;
    const standardError = standardErrors[j] as number;
    const z = estimate / standardError;
    return { name, estimate, standardError, z, p: twoSidedNormalP(z) };
  });

  const hasIntercept = data.columnNames.includes(INTERCEPT);
  const nOk = weights.filter((w) => w !== 0).length;
  const nullDeviance = isNullModel ? dev : nullModelDeviance(data, y, weights, offset, hasIntercept, options);
  const m2ll = minusTwoLogLikelihood(y, mu, weights);
  return {
    columnNames: data.columnNames,
    coefficients,
    standardErrors,
    table,
    covariance,
    aliased,
    rank: solve.rank,
    deviance: dev,
    nullDeviance,
    dfResidual: nOk - solve.rank,
    dfNull: nOk - (hasIntercept ? 1 : 0),
    aic: m2ll + 2 * solve.rank,
    minusTwoLogLikelihood: m2ll,
    iterations,
    converged,
    fitted: mu,
    linearPredictors: eta,
    fittedAtBoundary,
    warnings,
  };
}

/** R's null deviance: the weighted mean, or (with an offset) an intercept-only fit on that offset. */
function nullModelDeviance(
  data: ModelData,
  y: readonly number[],
  weights: readonly number[],
  offset: readonly number[],
  hasIntercept: boolean,
  options: LogisticOptions,
): number {
  const hasOffset = offset.some((o) => o !== 0);
  if (!hasIntercept) {
    return y.reduce((s, v, i) => s + devianceResidual(v, inverseLogit(offset[i] as number), weights[i] as number), 0);
  }
  if (!hasOffset) {
    const totalWeight = weights.reduce((s, w) => s + w, 0);
    const wtdmu = y.reduce((s, v, i) => s + v * (weights[i] as number), 0) / totalWeight;
    return y.reduce((s, v, i) => s + devianceResidual(v, wtdmu, weights[i] as number), 0);
  }
  const { epsilon, maxIterations } = options;
  const interceptOnly = fit(
    { columnNames: [INTERCEPT], x: data.x.map(() => [1]), y, weights, offset },
    { ...(epsilon === undefined ? {} : { epsilon }), ...(maxIterations === undefined ? {} : { maxIterations }) },
    true,
  );
  return interceptOnly.deviance;
}
