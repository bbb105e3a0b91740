import { describe, expect, it } from 'vitest';
import { fitLogistic } from '../../../../lambdas/predict/stats/logistic.js';
import type { ModelData } from '../../../../lambdas/predict/stats/model-data.js';
import { detectSeparation } from '../../../../lambdas/predict/stats/separation.js';
import { expectRelative, loadReference } from './reference-data.js';

const oneX = (xs: readonly number[], ys: readonly number[]): ModelData => ({ columnNames: ['(Intercept)', 'x'], x: xs.map((v) => [1, v]), y: ys });
// y = 1 exactly when x1 + x2 > 0; neither x1 nor x2 separates on its own.
const POINTS = [
  [2, -1, 1], [-1, 2, 1], [1, 1, 1], [3, -2, 1], [-2, 3, 1],
  [-2, 1, 0], [1, -2, 0], [-1, -1, 0], [2, -3, 0], [-3, 2, 0],
] as const;
const twoX = (points: readonly (readonly number[])[]): ModelData => ({
  columnNames: ['(Intercept)', 'x1', 'x2'],
  x: points.map(([a, b]) => [1, a!, b!]),
  y: points.map((p) => p[2]!),
});

describe('Function: detectSeparation', () => {
  it('flags complete separation by one predictor, without throwing', () => {
    const result = detectSeparation(oneX([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]));

    expect(result.status).toBe('complete');
    expect(result.estimateExists).toBe(false);
    expect(result.separatingPredictors).toEqual([{ column: 'x', kind: 'complete', eventsAt: 'high' }]);
    expect(result.separatedRows).toHaveLength(10);
    expect(result.deviance).toBeLessThan(1e-10);
  });

  it('flags quasi-complete separation and names the rows that are separated', () => {
    const result = detectSeparation(oneX([1, 2, 3, 4, 5, 5, 6, 7, 8, 9], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]));

    expect(result.status).toBe('quasi-complete');
    expect(result.separatingPredictors).toEqual([{ column: 'x', kind: 'quasi-complete', eventsAt: 'high' }]);
    // The two rows at x = 5 (indices 4, 5) are not separated; their deviance 2·2·log 2 remains.
    expect(result.separatedRows).toEqual([0, 1, 2, 3, 6, 7, 8, 9]);
    expect(result.deviance).toBeCloseTo(4 * Math.log(2), 8);
  });

  it('flags separation by a combination of predictors that no single predictor shows', () => {
    const complete = detectSeparation(twoX(POINTS));
    const quasi = detectSeparation(twoX([...POINTS, [0, 0, 1], [0, 0, 0], [1, -1, 1], [-1, 1, 0]]));

    expect(complete.status).toBe('complete');
    expect(complete.separatingPredictors).toEqual([]);
    expect(complete.divergingCoefficients).toEqual(['x1', 'x2']);
    expect(quasi.status).toBe('quasi-complete');
    expect(quasi.separatedRows).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13]);
  });

  it('finds no separation in any reference dataset', () => {
    const ucla = loadReference('ucla_binary.csv', { outcome: 'admit', predictors: ['gre', 'gpa', 'rank'], factors: ['rank'] });
    const mtcars = loadReference('Rdatasets_datasets_mtcars.csv', { outcome: 'am', predictors: ['hp', 'wt'] });
    const esoph = loadReference('Rdatasets_datasets_esoph.csv', { outcome: { successes: 'ncases', failures: 'ncontrols' }, predictors: ['agegp', 'tobgp', 'alcgp'] });

    for (const data of [ucla, mtcars, esoph]) {
      const result = detectSeparation(data);
      expect(result.status).toBe('none');
      expect(result.estimateExists).toBe(true);
    }
  });

  it('leaves the IRLS fit of separated data to end as R does: huge coefficients and warnings, no exception', () => {
    // R: glm(y ~ x, binomial) on x = 1…10, y = five 0s then five 1s → coef -245.84732, 44.69951
    //    after 25 iterations, "algorithm did not converge" and "fitted probabilities numerically 0 or 1"
    const fit = fitLogistic(oneX([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]));

    expect(fit.converged).toBe(false);
    expect(fit.iterations).toBe(25);
    expectRelative(fit.coefficients, [-245.84732231154723, 44.699513148993994], 1e-6);
    expect(fit.warnings).toEqual(['glm.fit: algorithm did not converge', 'glm.fit: fitted probabilities numerically 0 or 1 occurred']);
    expect(fit.fittedAtBoundary).toBeGreaterThan(0);
  });
});
