/**
 * The standard normal distribution, to double precision, for Wald p values and confidence limits.
 *
 * The distribution function is W. J. Cody's rational Chebyshev approximation (ACM TOMS 715, the
 * algorithm behind R's `pnorm`), so tail p values such as 1e-20 keep their relative accuracy where
 * `1 - erf` would cancel to zero.
 */

// Cody's coefficients (as in R's pnorm.c), each written as the double it rounds to.
const A = [2.2352520354606837, 161.02823106855587, 1067.6894854603709, 18154.98125334356, 0.06568233791820745];
const B = [47.202581904688245, 976.0985517377767, 10260.932208618979, 45507.78933502673];
const C = [
  0.39894151208813466, 8.883149794388377, 93.50665613217785, 597.2702763948002, 2494.5375852903726,
  6848.190450536283, 11602.65143764735, 9842.714838383978, 1.0765576773720192e-8,
];
const D = [
  22.266688044328117, 235.387901782625, 1519.3775994075547, 6485.558298266761, 18615.571640885097,
  34900.95272114598, 38912.00328609327, 19685.429676859992,
];
const P = [0.215898534057957, 0.12740116116024736, 0.022235277870649807, 0.0014216191932278934, 0.000029112874951168793, 0.023073441764940174];
const Q = [1.284260096144911, 0.4682382124808651, 0.06598813786892856, 0.0037823963320275824, 0.00007297515550839662];
const ONE_OVER_SQRT_2PI = 0.3989422804014327;
const SQRT_32 = 5.656854249492381;

const at = (xs: readonly number[], i: number): number => xs[i] as number;

/** exp(-x²/2) computed in two parts so that the large-|x| tail keeps its relative accuracy (Cody). */
function gaussianKernel(x: number): number {
  const xsq = Math.trunc(x * 16) / 16;
  const del = (x - xsq) * (x + xsq);
  return Math.exp(-xsq * xsq * 0.5) * Math.exp(-del * 0.5);
}

/**
 * P(Z ≤ x) for a standard normal Z.
 * @param x - The quantile.
 * @returns The lower-tail probability, accurate to about 1e-15 relative (0 below x ≈ −37.5).
 */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const y = Math.abs(x);
  if (y <= 0.67448975) {
    let xnum = 0;
    let xden = 0;
    if (y > Number.EPSILON * 0.5) {
      const xsq = x * x;
      xnum = at(A, 4) * xsq;
      xden = xsq;
      for (let i = 0; i < 3; i++) {
        xnum = (xnum + at(A, i)) * xsq;
        xden = (xden + at(B, i)) * xsq;
      }
    }
    return 0.5 + (x * (xnum + at(A, 3))) / (xden + at(B, 3));
  }
  let tail: number; // P(Z > |x|)
  if (y <= SQRT_32) {
    let xnum = at(C, 8) * y;
    let xden = y;
    for (let i = 0; i < 7; i++) {
      xnum = (xnum + at(C, i)) * y;
      xden = (xden + at(D, i)) * y;
    }
    tail = (gaussianKernel(y) * (xnum + at(C, 7))) / (xden + at(D, 7));
  } else if (y < 37.5193) {
    const xsq = 1 / (x * x);
    let xnum = at(P, 5) * xsq;
    let xden = xsq;
    for (let i = 0; i < 4; i++) {
      xnum = (xnum + at(P, i)) * xsq;
      xden = (xden + at(Q, i)) * xsq;
    }
    const ratio = (xsq * (xnum + at(P, 4))) / (xden + at(Q, 4));
    tail = (gaussianKernel(y) * (ONE_OVER_SQRT_2PI - ratio)) / y;
  } else {
    tail = 0;
  }
  return x > 0 ? 1 - tail : tail;
}

/**
 * Two-sided p value of a Wald z statistic, 2·P(Z > |z|), as R's summary.glm prints it.
 * @param z - The z statistic.
 * @returns The p value.
 */
export function twoSidedNormalP(z: number): number {
  return 2 * normalCdf(-Math.abs(z));
}

/**
 * The standard normal quantile function (R's `qnorm`).
 *
 * A rough start (the logistic approximation) is refined by Halley steps on {@link normalCdf}, so
 * the answer is as accurate as the distribution function itself without carrying a second table
 * of coefficients.
 * @param p - A probability in (0, 1).
 * @returns x with P(Z ≤ x) = p; ±Infinity at 0 and 1, NaN outside [0, 1].
 */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return Number.NaN;
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return Number.POSITIVE_INFINITY;
  if (p > 0.5) return -normalQuantile(1 - p);
  // Lower half only: the lower tail of normalCdf keeps relative accuracy, the upper would not.
  const t = Math.sqrt(-2 * Math.log(p));
  let x = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t));
  for (let i = 0; i < 6; i++) {
    const density = ONE_OVER_SQRT_2PI * Math.exp(-0.5 * x * x);
    if (density === 0) break;
    const u = (normalCdf(x) - p) / density;
    const step = u / (1 + 0.5 * x * u);
    x -= step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(x))) break;
  }
  return x;
}
