import { describe, expect, it } from 'vitest';
import { fitFirth } from '../../../../lambdas/predict/stats/firth.js';
import type { ModelData } from '../../../../lambdas/predict/stats/model-data.js';
import { expectRelative, loadReference, maxRelativeError } from './reference-data.js';

/**
 * Reference: R 4.2.2 with brglm2 0.9 (Debian r-cran-brglm2; logistf is not packaged for Debian),
 *   glm(..., family = binomial, method = "brglm_fit", control = brglm_control(type = "AS_mean", epsilon = 1e-14, maxit = 500))
 * For the logit link, AS_mean solves Firth's modified score, i.e. it gives logistf's point estimates
 * (checked outside the tests on brglm2's `endometrial` data, whose Firth fit 3.7746, 2.9293,
 * −0.0348, −2.6042 is the one Heinze & Schemper 2002 publish). Its SEs, like ours, are
 * sqrt(diag(I(β̂)⁻¹)).
 */
const toy = (xs: readonly number[], ys: readonly number[]): ModelData => ({ columnNames: ['(Intercept)', 'x'], x: xs.map((v) => [1, v]), y: ys });

describe('Function: fitFirth against brglm2 (type = "AS_mean")', () => {
  it('matches on mtcars am ~ hp + wt', () => {
    const fit = fitFirth(loadReference('Rdatasets_datasets_mtcars.csv', { outcome: 'am', predictors: ['hp', 'wt'] }));

    const coefficients = [13.4328227416189, 0.024456035708706, -5.70413827963969];
    const ses = [4.80978970613281, 0.0119218351923063, 1.91637643791249];
    console.log(`Firth mtcars: max relative error coefficients ${maxRelativeError(fit.coefficients, coefficients).toExponential(1)}, SEs ${maxRelativeError(fit.standardErrors, ses).toExponential(1)}`);
    expectRelative(fit.coefficients, coefficients, 1e-6, 'coefficients');
    expectRelative(fit.standardErrors, ses, 1e-6, 'SEs');
    expect(fit.converged).toBe(true);
  });

  it('matches on birthwt low ~ age + lwt + factor(race) + smoke', () => {
    const fit = fitFirth(loadReference('Rdatasets_MASS_birthwt.csv', { outcome: 'low', predictors: ['age', 'lwt', 'race', 'smoke'], factors: ['race'] }));

    expectRelative(fit.coefficients, [0.247093692961225, -0.0211947520096843, -0.0115830169977641, 1.1897771334416, 0.909642305214357, 1.01645025191378], 1e-6, 'coefficients');
    expectRelative(fit.standardErrors, [1.09425723994045, 0.033820495055169, 0.00625916841596591, 0.512518427428922, 0.411263006965032, 0.375353851637301], 1e-6, 'SEs');
  });

  it('matches on grouped data: esoph cbind(ncases, ncontrols) ~ agegp + tobgp + alcgp', () => {
    const fit = fitFirth(loadReference('Rdatasets_datasets_esoph.csv', { outcome: { successes: 'ncases', failures: 'ncontrols' }, predictors: ['agegp', 'tobgp', 'alcgp'] }));

    expectRelative(
      fit.coefficients,
      [-6.41907784828248, 1.62111200324087, 3.35088923937414, 3.89933475599058, 4.45169452117711, 4.39751680808339, 0.433750384326287, 0.510184864305067, 1.61303381089998, 3.52060728633624, 1.40731077321964, 1.94644060597511],
      1e-6,
      'coefficients',
    );
    expectRelative(
      fit.standardErrors,
      [0.919101162995722, 0.940547005956688, 0.900419689200613, 0.896707950872206, 0.909272748400261, 0.961627104155136, 0.226433650201272, 0.270799104566909, 0.339656006184461, 0.378215584961423, 0.24678529118878, 0.281755700684637],
      1e-6,
      'SEs',
    );
  });

  it('gives finite estimates under complete separation (x = 1…10, events at x ≥ 6)', () => {
    const fit = fitFirth(toy([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]));

    expectRelative(fit.coefficients, [-5.33857263129345, 0.970649569326082], 1e-6, 'coefficients');
    expectRelative(fit.standardErrors, [3.32271227807416, 0.576540835138837], 1e-6, 'SEs');
  });

  it('gives finite estimates under quasi-complete separation (a tie at x = 5 with both outcomes)', () => {
    const fit = fitFirth(toy([1, 2, 3, 4, 5, 5, 6, 7, 8, 9], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]));

    expectRelative(fit.coefficients, [-4.91424573551102, 0.982849147102204], 1e-6, 'coefficients');
    expectRelative(fit.standardErrors, [3.16465581269268, 0.607003777583409], 1e-6, 'SEs');
  });

  it('solves the modified score: U*(β̂) = Σ xᵢ(yᵢ − μᵢ + hᵢ(½ − μᵢ)) = 0, and the leverages sum to p', () => {
    const data = loadReference('Rdatasets_datasets_mtcars.csv', { outcome: 'vs', predictors: ['mpg', 'wt'] });

    const fit = fitFirth(data);

    const score = [0, 1, 2].map((j) => data.x.reduce((s, row, i) => s + row[j]! * (data.y[i]! - fit.fitted[i]! + fit.leverages[i]! * (0.5 - fit.fitted[i]!)), 0));
    score.forEach((u) => expect(Math.abs(u)).toBeLessThan(1e-8));
    expect(fit.leverages.reduce((s, h) => s + h, 0)).toBeCloseTo(3, 10);
  });
});
