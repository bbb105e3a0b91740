/**
 * The binomial family with logit link exactly as R's C code computes it (src/library/stats/src/family.c),
 * including its clamping of the linear predictor at ±30: matching R to 1e-6 near separation depends
 * on reproducing the clamp, not on the textbook formulas.
 */

const THRESHOLD = 30;

/**
 * Inverse logit μ = 1/(1 + e^−η), clamped so that μ stays strictly inside (0, 1).
 * @param eta - The linear predictor.
 * @returns The probability.
 */
export function inverseLogit(eta: number): number {
  const t = eta < -THRESHOLD ? Number.EPSILON : eta > THRESHOLD ? 1 / Number.EPSILON : Math.exp(eta);
  return t / (1 + t);
}

/**
 * dμ/dη, floored at machine epsilon beyond ±30 (R's `logit_mu_eta`).
 * @param eta - The linear predictor.
 * @returns The derivative.
 */
export function muEta(eta: number): number {
  if (eta > THRESHOLD || eta < -THRESHOLD) return Number.EPSILON;
  const e = Math.exp(eta);
  return e / ((1 + e) * (1 + e));
}

/**
 * Logit log(μ/(1 − μ)).
 * @param mu - A probability in (0, 1).
 * @returns The log-odds.
 */
export function logit(mu: number): number {
  return Math.log(mu / (1 - mu));
}

const yLogY = (y: number, mu: number): number => (y === 0 ? 0 : y * Math.log(y / mu));

/**
 * One observation's binomial deviance contribution 2w[y log(y/μ) + (1−y) log((1−y)/(1−μ))].
 * @param y - Observed proportion.
 * @param mu - Fitted probability.
 * @param weight - Prior weight (binomial total).
 * @returns The deviance residual squared.
 */
export function devianceResidual(y: number, mu: number, weight: number): number {
  return 2 * weight * (yLogY(y, mu) + yLogY(1 - y, 1 - mu));
}

/**
 * Total binomial deviance.
 * @param y - Observed proportions.
 * @param mu - Fitted probabilities.
 * @param weights - Prior weights.
 * @returns The deviance.
 */
export function deviance(y: readonly number[], mu: readonly number[], weights: readonly number[]): number {
  let d = 0;
  for (let i = 0; i < y.length; i++) d += devianceResidual(y[i] as number, mu[i] as number, weights[i] as number);
  return d;
}

/** log C(n, k) for whole n and k, by a product that is exact enough for the sizes of clinical data. */
function logChoose(n: number, k: number): number {
  const m = Math.min(k, n - k);
  let s = 0;
  for (let i = 1; i <= m; i++) s += Math.log((n - m + i) / i);
  return s;
}

/**
 * −2 × the binomial log-likelihood, the first term of R's binomial()$aic: the totals are the prior
 * weights, successes round(w·y), and the binomial coefficient is included, so grouped data get the
 * same AIC as R.
 * @param y - Observed proportions.
 * @param mu - Fitted probabilities.
 * @param weights - Prior weights (binomial totals).
 * @returns −2 log L.
 */
export function minusTwoLogLikelihood(y: readonly number[], mu: readonly number[], weights: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const m = Math.round(weights[i] as number);
    if (!((weights[i] as number) > 0)) continue;
    const k = Math.round((weights[i] as number) * (y[i] as number));
    const p = mu[i] as number;
    s += logChoose(m, k) + (k === 0 ? 0 : k * Math.log(p)) + (m - k === 0 ? 0 : (m - k) * Math.log(1 - p));
  }
  return -2 * s;
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/**
 * The binomial log-likelihood Σ wᵢ[yᵢηᵢ − log(1 + e^ηᵢ)] (binomial coefficients left out), computed
 * from η so that it stays finite however large η grows.
 * @param y - Observed proportions.
 * @param eta - Linear predictors.
 * @param weights - Prior weights.
 * @returns The log-likelihood.
 */
export function logLikelihood(y: readonly number[], eta: readonly number[], weights: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const e = eta[i] as number;
    s += (weights[i] as number) * ((y[i] as number) * e - softplus(e));
  }
  return s;
}
