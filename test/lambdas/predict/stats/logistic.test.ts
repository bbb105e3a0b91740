import { describe, expect, it } from 'vitest';
import type { DesignSpec } from '../../../../lambdas/predict/stats/design.js';
import { fitLogistic } from '../../../../lambdas/predict/stats/logistic.js';
import { expectRelative, loadReference, maxRelativeError } from './reference-data.js';

/**
 * R 4.2.2 figures: summary(glm(..., family = binomial)) on the same CSV files, read with read.csv,
 * printed with sprintf("%.15g"). Rows: name, estimate, SE, z, p.
 */
interface RReference {
  readonly title: string;
  readonly file: string;
  readonly spec: DesignSpec;
  readonly rCall: string;
  readonly table: readonly (readonly [string, number, number, number, number])[];
  readonly nullDeviance: number;
  readonly dfNull: number;
  readonly deviance: number;
  readonly dfResidual: number;
  readonly aic: number;
  readonly iterations: number;
  readonly n: number;
}

const REFERENCES: readonly RReference[] = [
  {
    title: 'UCLA admissions',
    file: 'ucla_binary.csv',
    spec: { outcome: 'admit', predictors: ['gre', 'gpa', 'rank'], factors: ['rank'] },
    rCall: 'glm(admit ~ gre + gpa + factor(rank), binomial, data = read.csv("ucla_binary.csv"))',
    table: [
      ['(Intercept)', -3.98997907333104, 1.13995093570036, -3.50013228497388, 0.00046502732589815],
      ['gre', 0.00226442578617916, 0.00109399763837217, 2.06986350496017, 0.0384651283758593],
      ['gpa', 0.804037549280221, 0.33181929793374, 2.42311871035535, 0.0153878973502501],
      ['rank2', -0.675442927963561, 0.316489660980957, -2.13417059460973, 0.0328288188280345],
      ['rank3', -1.34020391646789, 0.345306418178355, -3.88120187148, 0.000103941515658309],
      ['rank4', -1.55146367691807, 0.417831633092574, -3.71313120893921, 0.000204710686822866],
    ],
    nullDeviance: 499.976517554915,
    dfNull: 399,
    deviance: 458.517492475899,
    dfResidual: 394,
    aic: 470.517492475899,
    iterations: 4,
    n: 400,
  },
  {
    title: 'mtcars, transmission on horsepower and weight',
    file: 'Rdatasets_datasets_mtcars.csv',
    spec: { outcome: 'am', predictors: ['hp', 'wt'] },
    rCall: 'glm(am ~ hp + wt, binomial, data = read.csv("Rdatasets_datasets_mtcars.csv"))',
    table: [
      ['(Intercept)', 18.8662987172041, 7.44355806020529, 2.5345807159169, 0.0112581987166137],
      ['hp', 0.0362555960822166, 0.0177341536507694, 2.0443939302761, 0.0409146464590301],
      ['wt', -8.08347518244464, 3.0686751130547, -2.63419061472362, 0.00843381259970713],
    ],
    nullDeviance: 43.2297332768578,
    dfNull: 31,
    deviance: 10.059110472267,
    dfResidual: 29,
    aic: 16.059110472267,
    iterations: 8,
    n: 32,
  },
  {
    title: 'mtcars, engine shape on mpg',
    file: 'Rdatasets_datasets_mtcars.csv',
    spec: { outcome: 'vs', predictors: ['mpg'] },
    rCall: 'glm(vs ~ mpg, binomial, data = read.csv("Rdatasets_datasets_mtcars.csv"))',
    table: [
      ['(Intercept)', -8.83307257679206, 3.1622740911939, -2.79326596052817, 0.00521787716108104],
      ['mpg', 0.430413520262659, 0.158421969587019, 2.71688024953029, 0.00659004466769213],
    ],
    nullDeviance: 43.8601092656933,
    dfNull: 31,
    deviance: 25.533335153093,
    dfResidual: 30,
    aic: 29.533335153093,
    iterations: 6,
    n: 32,
  },
  {
    title: 'infert (the example of ?infert, without the conditional strata)',
    file: 'Rdatasets_datasets_infert.csv',
    spec: { outcome: 'case', predictors: ['spontaneous', 'induced'] },
    rCall: 'glm(case ~ spontaneous + induced, binomial, data = read.csv("Rdatasets_datasets_infert.csv"))',
    table: [
      ['(Intercept)', -1.70786007135974, 0.267709465631953, -6.3795281475318, 1.77634435730666e-10],
      ['spontaneous', 1.19720503529305, 0.211643273000287, 5.65671196783762, 1.54300385238395e-8],
      ['induced', 0.418129395047793, 0.205627444695606, 2.0334318488797, 0.0420089123741483],
    ],
    nullDeviance: 316.171110816404,
    dfNull: 247,
    deviance: 279.611978833782,
    dfResidual: 245,
    aic: 285.611978833782,
    iterations: 4,
    n: 248,
  },
  {
    title: 'infert with age, parity and a text factor (education)',
    file: 'Rdatasets_datasets_infert.csv',
    spec: { outcome: 'case', predictors: ['age', 'parity', 'education', 'spontaneous', 'induced'] },
    rCall: 'glm(case ~ age + parity + factor(education) + spontaneous + induced, binomial, data = read.csv("Rdatasets_datasets_infert.csv"))',
    table: [
      ['(Intercept)', -1.14923653686373, 1.4121953744517, -0.813794293378091, 0.415762804821267],
      ['age', 0.0395820016989104, 0.031202533064172, 1.26855090955292, 0.204601282375799],
      ['parity', -0.828277380809984, 0.196489492144938, -4.2153774828784, 2.493607385738e-5],
      ['education12+ yrs', -1.40320508723792, 0.834156175969071, -1.68218509634334, 0.0925329531893736],
      ['education6-11yrs', -1.04424358178539, 0.792549762670924, -1.31757478327449, 0.187646031654799],
      ['spontaneous', 2.0459050192519, 0.310156521157475, 6.59636306087253, 4.21366332803701e-11],
      ['induced', 1.28875737868221, 0.301460192776064, 4.27504993881413, 1.91094456627749e-5],
    ],
    nullDeviance: 316.171110816404,
    dfNull: 247,
    deviance: 257.797690205529,
    dfResidual: 241,
    aic: 271.797690205529,
    iterations: 4,
    n: 248,
  },
  {
    title: 'esoph, grouped binomial (cases and controls per cell), factors with treatment contrasts',
    file: 'Rdatasets_datasets_esoph.csv',
    spec: { outcome: { successes: 'ncases', failures: 'ncontrols' }, predictors: ['agegp', 'tobgp', 'alcgp'] },
    // read.csv gives character columns, so agegp etc. are unordered factors here (R's own esoph has
    // ordered factors and would use polynomial contrasts).
    rCall: 'glm(cbind(ncases, ncontrols) ~ agegp + tobgp + alcgp, binomial, data = read.csv("Rdatasets_datasets_esoph.csv"))',
    table: [
      ['(Intercept)', -6.89541517368716, 1.08593787230944, -6.34973265922003, 2.15689429863506e-10],
      ['agegp35-44', 1.9808845739112, 1.10406537588225, 1.79417325928575, 0.0727855188672952],
      ['agegp45-54', 3.77628646790695, 1.06804161519519, 3.53571098183923, 0.000406679356408401],
      ['agegp55-64', 4.3351816651786, 1.06504868982323, 4.07040702138991, 4.69310694670425e-5],
      ['agegp65-74', 4.89640585205515, 1.07637773550632, 4.54896612084969, 5.39101205117834e-6],
      ['agegp75+', 4.82654201304138, 1.12129761661031, 4.30442546344837, 1.67419645584003e-5],
      ['tobgp10-19', 0.438052454459724, 0.228322869486905, 1.91856582498342, 0.0550393041154486],
      ['tobgp20-29', 0.512618062728805, 0.272977233821455, 1.87787844265464, 0.0603977960620311],
      ['tobgp30+', 1.64099732949381, 0.344113706318469, 4.76876479885142, 1.85358914822619e-6],
      ['alcgp120+', 3.602868807064, 0.385038060054914, 9.3571757725721, 8.18964702015229e-21],
      ['alcgp40-79', 1.43462868279106, 0.250062257534161, 5.73708602384778, 9.63193413292682e-9],
      ['alcgp80-119', 1.98071729433248, 0.284761943007171, 6.95569524991828, 3.50827515659691e-12],
    ],
    nullDeviance: 367.953457855934,
    dfNull: 87,
    deviance: 82.3368724695684,
    dfResidual: 76,
    aic: 221.391792868343,
    iterations: 6,
    n: 88,
  },
  {
    title: 'birthwt (MASS), low birth weight',
    file: 'Rdatasets_MASS_birthwt.csv',
    spec: { outcome: 'low', predictors: ['age', 'lwt', 'race', 'smoke'], factors: ['race'] },
    rCall: 'glm(low ~ age + lwt + factor(race) + smoke, binomial, data = read.csv("Rdatasets_MASS_birthwt.csv"))',
    table: [
      ['(Intercept)', 0.332451571952275, 1.10767247927857, 0.300135263962504, 0.764073981661441],
      ['age', -0.0224782798744726, 0.0341704755935102, -0.657827539243901, 0.510648956233417],
      ['lwt', -0.0125256640163901, 0.0063858292067484, -1.9614780807406, 0.049823279496585],
      ['race2', 1.23167137306762, 0.517151542201406, 2.38164497745603, 0.0172355048916542],
      ['race3', 0.943262653279985, 0.416231871170936, 2.26619516335069, 0.0234394366503011],
      ['smoke', 1.0544386478146, 0.37999960461129, 2.77484143409362, 0.00552286278809644],
    ],
    nullDeviance: 234.671996193219,
    dfNull: 188,
    deviance: 214.577234534074,
    dfResidual: 183,
    aic: 226.577234534074,
    iterations: 4,
    n: 189,
  },
];

describe('Function: fitLogistic against R glm(family = binomial)', () => {
  it.each(REFERENCES)('matches R on $title', (ref) => {
    // Prepare
    const design = loadReference(ref.file, ref.spec);

    // Act
    const fit = fitLogistic(design);

    // Assess
    console.log(
      `${ref.title}: ${ref.rCall}\n  max relative error vs R: coefficients ${maxRelativeError(fit.coefficients, ref.table.map((r) => r[1])).toExponential(1)},` +
        ` SEs ${maxRelativeError(fit.standardErrors, ref.table.map((r) => r[2])).toExponential(1)},` +
        ` p ${maxRelativeError(fit.table.map((r) => r.p), ref.table.map((r) => r[4])).toExponential(1)},` +
        ` deviance ${maxRelativeError([fit.deviance], [ref.deviance]).toExponential(1)}; iterations ${fit.iterations}`,
    );
    expect(design.y).toHaveLength(ref.n);
    expect(fit.columnNames).toEqual(ref.table.map((r) => r[0]));
    expectRelative(fit.coefficients, ref.table.map((r) => r[1]), 1e-6, 'coefficients');
    expectRelative(fit.standardErrors, ref.table.map((r) => r[2]), 1e-6, 'standard errors');
    expectRelative(fit.table.map((r) => r.z), ref.table.map((r) => r[3]), 1e-6, 'z');
    expectRelative(fit.table.map((r) => r.p), ref.table.map((r) => r[4]), 1e-6, 'p');
    expectRelative([fit.deviance, fit.nullDeviance, fit.aic], [ref.deviance, ref.nullDeviance, ref.aic], 1e-6, 'deviance, null deviance, AIC');
    expect([fit.dfResidual, fit.dfNull]).toEqual([ref.dfResidual, ref.dfNull]);
    expect(fit.iterations).toBe(ref.iterations);
    expect(fit.converged).toBe(true);
    expect(fit.warnings).toEqual([]);
  });

  it('reproduces the published UCLA figures (UCLA OARC, "Logit Regression | R Data Analysis Examples")', () => {
    const fit = fitLogistic(loadReference('ucla_binary.csv', { outcome: 'admit', predictors: ['gre', 'gpa', 'rank'], factors: ['rank'] }));
    // Published to 6 decimals (gre to 6 decimals = 4 significant digits): compare at that rounding.
    const published = [-3.989979, 0.002264, 0.804038, -0.675443, -1.340204, -1.551464];
    fit.coefficients.forEach((b, j) => expect(b).toBeCloseTo(published[j] as number, 6));
    expect(fit.deviance).toBeCloseTo(458.517, 3);
    expect(fit.dfResidual).toBe(394);
  });

  it('reproduces the published mtcars figures glm(am ~ hp + wt): 18.86630, 0.03626, -8.08348', () => {
    const fit = fitLogistic(loadReference('Rdatasets_datasets_mtcars.csv', { outcome: 'am', predictors: ['hp', 'wt'] }));
    expect(fit.coefficients[0]).toBeCloseTo(18.8663, 4);
    expect(fit.coefficients[1]).toBeCloseTo(0.03626, 5);
    expect(fit.coefficients[2]).toBeCloseTo(-8.08348, 5);
  });

  it('gives the same fit for grouped data and for the same data expanded to one row per subject', () => {
    // Prepare: esoph cells expanded into 0/1 rows (975 subjects).
    const grouped = loadReference('Rdatasets_datasets_esoph.csv', { outcome: { successes: 'ncases', failures: 'ncontrols' }, predictors: ['agegp', 'alcgp'] });
    const x: number[][] = [];
    const y: number[] = [];
    grouped.x.forEach((row, i) => {
      const total = grouped.weights![i]!;
      const cases = Math.round(grouped.y[i]! * total);
      for (let k = 0; k < total; k++) {
        x.push([...row]);
        y.push(k < cases ? 1 : 0);
      }
    });

    // Act: R's SEs come from the weights of the last-but-one iterate, which differ between the two
    // layouts (they start from different μ) by up to 1e-4 at R's ε = 1e-8; at ε = 1e-14 both sit on
    // the estimate itself.
    const a = fitLogistic(grouped, { epsilon: 1e-14 });
    const b = fitLogistic({ columnNames: grouped.columnNames, x, y }, { epsilon: 1e-14 });

    // Assess: same estimates; deviances differ by the saturated model, as in R.
    expectRelative(b.coefficients, a.coefficients, 1e-8, 'coefficients');
    expectRelative(b.standardErrors, a.standardErrors, 1e-8, 'SEs');
  });

  it('reports an aliased column as NaN, as R reports NA, and still fits the rest', () => {
    const design = loadReference('Rdatasets_datasets_mtcars.csv', { outcome: 'am', predictors: ['hp', 'wt'] });
    const x = design.x.map((row) => [...row, 2 * row[1]! - row[2]!]);

    const fit = fitLogistic({ columnNames: [...design.columnNames, 'combo'], x, y: design.y });

    expect(fit.aliased).toEqual([false, false, false, true]);
    expect(fit.rank).toBe(3);
    expect(fit.coefficients[3]).toBeNaN();
    expectRelative(fit.coefficients.slice(0, 3), [18.8662987172041, 0.0362555960822166, -8.08347518244464], 1e-6);
  });

  it('matches R when an offset is given, null deviance included', () => {
    // R: f <- glm(am ~ hp, binomial, offset = -0.5 * wt, data = read.csv("Rdatasets_datasets_mtcars.csv"))
    //    c(coef(f), sqrt(diag(vcov(f))), f$deviance, f$null.deviance, f$aic, f$iter)
    const design = loadReference('Rdatasets_datasets_mtcars.csv', { outcome: 'am', predictors: ['hp', 'wt'] });
    const fit = fitLogistic({
      columnNames: design.columnNames.slice(0, 2),
      x: design.x.map((r) => r.slice(0, 2)),
      y: design.y,
      offset: design.x.map((r) => -0.5 * r[2]!),
    });
    expectRelative(fit.coefficients, [1.65923120060305, -0.00321527595562698], 1e-6, 'coefficients');
    expectRelative(fit.standardErrors, [0.895949882312993, 0.00582972195530147], 1e-6, 'SEs');
    expectRelative([fit.deviance, fit.nullDeviance, fit.aic], [34.1492011340393, 34.4672715227102, 38.1492011340393], 1e-6, 'deviances, AIC');
    expect(fit.iterations).toBe(4);
  });
});
