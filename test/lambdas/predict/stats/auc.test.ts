import { describe, expect, it } from 'vitest';
import { aucWithConfidence } from '../../../../lambdas/predict/stats/auc.js';
import { fitLogistic } from '../../../../lambdas/predict/stats/logistic.js';
import { normalCdf, normalQuantile } from '../../../../lambdas/predict/stats/normal.js';
import { expectRelative, loadReference } from './reference-data.js';

describe('Function: normalCdf and normalQuantile', () => {
  it('match R pnorm and qnorm to 1e-14, far tail included', () => {
    // R: sprintf("%.17g", c(pnorm(-1.96), pnorm(-9.3571757725721), pnorm(3), pnorm(-0.3)))
    expectRelative([normalCdf(-1.96), normalCdf(-9.3571757725721), normalCdf(3), normalCdf(-0.3)], [0.024997895148220428, 4.0948235100760747e-21, 0.9986501019683699, 0.38208857781104733], 1e-14);
    // R: sprintf("%.17g", c(qnorm(0.975), qnorm(1e-10), qnorm(0.3)))
    expectRelative([normalQuantile(0.975), normalQuantile(1e-10), normalQuantile(0.3)], [1.9599639845400536, -6.3613409024040557, -0.52440051270804067], 1e-14);
  });
});

describe('Function: aucWithConfidence', () => {
  const ucla = loadReference('ucla_binary.csv', { outcome: 'admit', predictors: ['gre', 'gpa', 'rank'], factors: ['rank'] });

  it('matches pROC (DeLong) on the UCLA model fitted values', () => {
    // R: r <- roc(admit, fitted(glm(admit ~ gre + gpa + factor(rank), binomial)), direction = "<", levels = c(0, 1))
    //    c(auc(r), ci.auc(r, method = "delong"), sqrt(var(r, method = "delong")))
    const a = aucWithConfidence(fitLogistic(ucla).fitted, ucla.y);

    expectRelative([a.auc, a.lower, a.upper, a.standardError], [0.692841279455453, 0.637388394246977, 0.748294164663929, 0.0282928082586626], 1e-10);
  });

  it('counts ties as one half, matching pROC on the heavily tied GRE scores, at another level', () => {
    // R: r2 <- roc(admit, gre, direction = "<", levels = c(0, 1)); ci.auc(r2, method = "delong", conf.level = 0.9)
    const gre = ucla.x.map((row) => row[1]!);

    const a = aucWithConfidence(gre, ucla.y, 0.9);

    expectRelative([a.auc, a.lower, a.upper], [0.609370944016613, 0.560501030524589, 0.658240857508638], 1e-10);
    expectRelative([aucWithConfidence(gre, ucla.y).standardError], [0.0297107977824134], 1e-10);
  });

  it('gives 1 for perfect ranking, 0.5 for constant scores', () => {
    expect(aucWithConfidence([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]).auc).toBe(1);
    expect(aucWithConfidence([1, 1, 1, 1], [0, 1, 0, 1]).auc).toBe(0.5);
  });
});
