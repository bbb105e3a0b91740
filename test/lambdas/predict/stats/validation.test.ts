import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { aucWithConfidence } from '../../../../lambdas/predict/stats/auc.js';
import { fitFirth } from '../../../../lambdas/predict/stats/firth.js';
import { fitLogistic } from '../../../../lambdas/predict/stats/logistic.js';
import type { Fitter, ModelData } from '../../../../lambdas/predict/stats/model-data.js';
import { mulberry32, normalDraw, type Random } from '../../../../lambdas/predict/stats/prng.js';
import { ridgeFitter } from '../../../../lambdas/predict/stats/ridge.js';
import { bootstrapOptimism, brierScore, calibration, crossValidate } from '../../../../lambdas/predict/stats/validation.js';

/**
 * A simulated cohort the size of the study's prediction set (72 subjects): three early markers,
 * standard normal; true model logit P(SRI-4 at week 48) = −0.4 + 1.4·m1 + 0.9·m2 (m3 is noise),
 * or, for the noise cohort, P = 0.4 whatever the markers.
 */
const TRUE_BETA = [-0.4, 1.4, 0.9, 0] as const;
function simulate(n: number, random: Random, signal: boolean): ModelData & { trueLp: number[] } {
  const x = Array.from({ length: n }, () => [1, normalDraw(random), normalDraw(random), normalDraw(random)]);
  const trueLp = x.map((row) => (signal ? row.reduce((s, v, j) => s + v * TRUE_BETA[j]!, 0) : Math.log(0.4 / 0.6)));
  const y = trueLp.map((lp) => (random() < 1 / (1 + Math.exp(-lp)) ? 1 : 0));
  return { columnNames: ['(Intercept)', 'm1', 'm2', 'm3'], x, y, trueLp };
}

const irls: Fitter = (data) => fitLogistic(data);
const signal = simulate(72, mulberry32(20210521), true);
const noise = simulate(72, mulberry32(4893161), false);

describe('Function: crossValidate', () => {
  it('recovers the true model AUC within its interval on a 72-subject cohort with signal (10 × 5-fold, seeded)', () => {
    // Prepare: the population AUC of the true linear predictor, from 200 000 simulated subjects.
    const population = simulate(200_000, mulberry32(1), true);
    const trueAuc = aucWithConfidence(population.trueLp, population.y).auc;

    // Act
    const cv = crossValidate(signal, { fitter: irls, folds: 5, repeats: 10, seed: 42 });

    // Assess
    console.log(
      `signal cohort (${signal.y.filter((v) => v === 1).length}/72 events): true AUC ${trueAuc.toFixed(3)}; ` +
        `CV AUC ${cv.auc.estimate.toFixed(3)} [${cv.auc.lower.toFixed(3)}, ${cv.auc.upper.toFixed(3)}], Brier ${cv.brier.toFixed(3)}, ` +
        `calibration intercept ${cv.calibrationIntercept.toFixed(3)}, slope ${cv.calibrationSlope.toFixed(3)}`,
    );
    expect(cv.perRepeat).toHaveLength(10);
    expect(trueAuc).toBeGreaterThanOrEqual(cv.auc.lower);
    expect(trueAuc).toBeLessThanOrEqual(cv.auc.upper);
    expect(cv.auc.estimate).toBeGreaterThan(0.7);
    // Brier below that of predicting the prevalence; slope below 1 is the expected over-fitting.
    const prevalence = signal.y.reduce((s, v) => s + v, 0) / 72;
    expect(cv.brier).toBeLessThan(prevalence * (1 - prevalence));
    expect(cv.calibrationSlope).toBeGreaterThan(0.5);
    expect(cv.calibrationSlope).toBeLessThan(1.2);
  });

  it('is reproducible for a seed and differs for another', () => {
    const a = crossValidate(signal, { fitter: irls, folds: 5, repeats: 2, seed: 3 });
    const b = crossValidate(signal, { fitter: irls, folds: 5, repeats: 2, seed: 3 });
    const c = crossValidate(signal, { fitter: irls, folds: 5, repeats: 2, seed: 4 });

    expect(b).toEqual(a);
    expect(c.auc.estimate).not.toBe(a.auc.estimate);
  });

  it('gives an AUC near 0.5 with an interval covering 0.5 on pure noise', () => {
    const cv = crossValidate(noise, { fitter: irls, folds: 5, repeats: 10, seed: 42 });

    console.log(`noise cohort: CV AUC ${cv.auc.estimate.toFixed(3)} [${cv.auc.lower.toFixed(3)}, ${cv.auc.upper.toFixed(3)}], slope ${cv.calibrationSlope.toFixed(2)}`);
    expect(Math.abs(cv.auc.estimate - 0.5)).toBeLessThan(0.15);
    expect(cv.auc.lower).toBeLessThan(0.5);
    expect(cv.auc.upper).toBeGreaterThan(0.5);
  });

  it('takes ridge (lambda re-chosen inside every training set) and Firth as fitters', () => {
    const ridge = crossValidate(signal, { fitter: ridgeFitter({ seed: 1 }), folds: 5, repeats: 2, seed: 42 });
    const firth = crossValidate(signal, { fitter: (d) => fitFirth(d), folds: 5, repeats: 2, seed: 42 });

    console.log(`signal cohort, 2 × 5-fold: ridge AUC ${ridge.auc.estimate.toFixed(3)} slope ${ridge.calibrationSlope.toFixed(2)}; Firth AUC ${firth.auc.estimate.toFixed(3)} slope ${firth.calibrationSlope.toFixed(2)}`);
    expect(ridge.auc.estimate).toBeGreaterThan(0.7);
    expect(firth.auc.estimate).toBeGreaterThan(0.7);
  });

  it('refuses grouped data', () => {
    expect(() => crossValidate({ columnNames: ['(Intercept)'], x: [[1], [1]], y: [0.5, 0.2], weights: [2, 5] }, { fitter: irls, folds: 2, repeats: 1, seed: 1 })).toThrow(/0\/1 outcome/);
  });
});

describe('Function: calibration and brierScore', () => {
  it('gives intercept 0 and slope 1 for the linear predictor of the fitted model itself', () => {
    // The maximum-likelihood score equations make a = 0, b = 1 the recalibration of a model's own fit.
    const fit = fitLogistic(signal, { epsilon: 1e-14 });

    const c = calibration(fit.linearPredictors, signal.y);

    expect(c.slope).toBeCloseTo(1, 6);
    expect(c.recalibrationIntercept).toBeCloseTo(0, 6);
    expect(c.intercept).toBeCloseTo(0, 6);
  });

  it('scores a constant prediction of the prevalence as π(1 − π)', () => {
    expect(brierScore([0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0])).toBeCloseTo(0.1875, 15);
  });
});

describe('Function: bootstrapOptimism', () => {
  it('finds positive optimism on pure noise, the corrected AUC closer to 0.5 than the apparent', () => {
    const result = bootstrapOptimism(noise, { fitter: irls, replicates: 200, seed: 11 });

    console.log(`noise cohort: apparent AUC ${result.apparentAuc.toFixed(3)}, optimism ${result.optimism.toFixed(3)}, corrected ${result.correctedAuc.toFixed(3)}`);
    expect(result.optimismByReplicate).toHaveLength(200);
    expect(result.optimism).toBeGreaterThan(0);
    expect(Math.abs(result.correctedAuc - 0.5)).toBeLessThan(Math.abs(result.apparentAuc - 0.5));
  });

  it('times a 72-subject fit with 10 × 5-fold CV and 200 bootstraps for each fitter (printed, not asserted)', () => {
    const fitters: [string, Fitter][] = [
      ['IRLS', irls],
      ['Firth', (d) => fitFirth(d)],
      ['ridge, λ = 5', ridgeFitter({ lambda: 5 })],
      ['ridge, λ by inner 5-fold CV', ridgeFitter({ seed: 1 })],
    ];
    for (const [name, fitter] of fitters) {
      const start = performance.now();
      fitter(signal);
      const cv = crossValidate(signal, { fitter, folds: 5, repeats: 10, seed: 42 });
      const boot = bootstrapOptimism(signal, { fitter, replicates: 200, seed: 11 });
      const seconds = (performance.now() - start) / 1000;
      console.log(
        `${name}: fit + 10×5 CV + 200 bootstraps in ${seconds.toFixed(2)} s; CV AUC ${cv.auc.estimate.toFixed(3)}, ` +
          `apparent ${boot.apparentAuc.toFixed(3)}, optimism ${boot.optimism.toFixed(3)}, corrected ${boot.correctedAuc.toFixed(3)}`,
      );
      expect(boot.optimismByReplicate).toHaveLength(200);
    }
  });
});
