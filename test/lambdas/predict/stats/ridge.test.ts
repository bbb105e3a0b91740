import { describe, expect, it } from 'vitest';
import { chooseRidgeLambda, fitRidge, ridgeFitter } from '../../../../lambdas/predict/stats/ridge.js';
import { fitLogistic } from '../../../../lambdas/predict/stats/logistic.js';
import { expectRelative, loadReference, maxRelativeError } from './reference-data.js';

/**
 * References, R 4.2.2:
 * 1. an independent R fit of the same objective, sum log-lik − λ/2 Σ β̃², predictors standardised
 *    with divisor n: optim(BFGS, reltol 1e-16) polished by 20 Newton steps;
 * 2. glmnet 4.1-6 (Debian r-cran-glmnet), which minimises −ℓ/n + λ_g/2 Σ β̃² (alpha = 0, divisor-n
 *    standardisation), so λ = n·λ_g: glmnet(X, y, "binomial", alpha = 0, lambda = λ/n, thresh = 1e-20).
 * The two agree to 1e-10; the values below are (1).
 */
const uclaSpec = { outcome: 'admit', predictors: ['gre', 'gpa', 'rank'], factors: ['rank'] } as const;

describe('Function: fitRidge', () => {
  const ucla = loadReference('ucla_binary.csv', { ...uclaSpec, factors: [...uclaSpec.factors], predictors: [...uclaSpec.predictors] });

  it('matches R (and glmnet with lambda = 20/400) on the UCLA data at lambda = 20', () => {
    const fit = fitRidge(ucla, { lambda: 20 });

    const original = [-3.78205050734179, 0.00199722970926858, 0.660617590850989, -0.205795182252184, -0.739341517491803, -0.878552260070692];
    const standardised = [-0.817347029882188, 0.23042448656126, 0.251094645793349, -0.0997615893323819, -0.339609546626751, -0.328070459636437];
    console.log(`ridge UCLA λ=20: max relative error vs R ${maxRelativeError(fit.coefficients, original).toExponential(1)}; effective df ${fit.effectiveDf.toFixed(3)}`);
    expectRelative(fit.coefficients, original, 1e-6, 'original-scale coefficients');
    expectRelative(fit.standardisedCoefficients, standardised, 1e-6, 'standardised coefficients');
    expectRelative([fit.penalisedLogLikelihood], [-234.921050238679], 1e-9);
    // R: colMeans(X); sqrt(colMeans(sweep(X, 2, colMeans(X))^2))
    expectRelative(fit.standardisation.center.slice(1), [587.7, 3.3899, 0.3775, 0.3025, 0.1675], 1e-12);
    expectRelative(fit.standardisation.scale.slice(1), [115.372050341493, 0.380090765475827, 0.484761539315982, 0.459340559933477, 0.373421678535138], 1e-12);
  });

  it('matches R at lambda = 2 and on mtcars at lambda = 1', () => {
    expectRelative(fitRidge(ucla, { lambda: 2 }).coefficients, [-3.98948344785582, 0.00223654577861392, 0.784721846094877, -0.585138639061764, -1.23094172717031, -1.42881881065102], 1e-6);
    const mtcars = loadReference('Rdatasets_datasets_mtcars.csv', { outcome: 'am', predictors: ['hp', 'wt'] });
    expectRelative(fitRidge(mtcars, { lambda: 1 }).coefficients, [5.86446098584982, 0.00815381202629403, -2.40681594530002], 1e-6);
  });

  it('reduces to maximum likelihood at lambda = 0', () => {
    expectRelative(fitRidge(ucla, { lambda: 0 }).coefficients, fitLogistic(ucla, { epsilon: 1e-14 }).coefficients, 1e-8);
  });

  it('stays finite under complete separation', () => {
    const fit = fitRidge({ columnNames: ['(Intercept)', 'x'], x: [1, 2, 3, 4, 5, 6].map((v) => [1, v]), y: [0, 0, 0, 1, 1, 1] }, { lambda: 1 });

    expect(fit.converged).toBe(true);
    expect(fit.coefficients.every(Number.isFinite)).toBe(true);
  });

  it('chooses lambda by stratified cross-validation, reproducibly for a seed', () => {
    const first = chooseRidgeLambda(ucla, { seed: 7 });
    const again = chooseRidgeLambda(ucla, { seed: 7 });

    console.log(`ridge UCLA: λ chosen by 5-fold CV ${first.lambda.toPrecision(3)}`);
    expect(again).toEqual(first);
    expect(first.path).toHaveLength(25);
    expect(first.path.find((p) => p.lambda === first.lambda)!.deviance).toBe(Math.min(...first.path.map((p) => p.deviance)));
    expect(ridgeFitter({ lambda: 20 })(ucla).coefficients).toEqual(fitRidge(ucla, { lambda: 20 }).coefficients);
  });
});
