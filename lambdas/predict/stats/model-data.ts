/**
 * The data every fitter in this folder takes, and the one thing every fitter returns: coefficients
 * for the columns of the design matrix. Keeping the contract that small lets cross-validation and
 * the bootstrap run with IRLS, ridge or Firth alike.
 */

/** The name R gives the intercept column; a design has an intercept exactly when it has this column. */
export const INTERCEPT = '(Intercept)';

/** A binomial regression problem: a design matrix (intercept column included) and its outcome. */
export interface ModelData {
  /** Column names of `x`, e.g. `['(Intercept)', 'gre', 'gpa', 'rank2', 'rank3', 'rank4']`. */
  readonly columnNames: readonly string[];
  /** Design matrix, one row per observation. */
  readonly x: readonly (readonly number[])[];
  /** Outcome: 0/1, or a proportion of successes when `weights` holds the binomial totals. */
  readonly y: readonly number[];
  /** Prior weights (R's `weights`); binomial totals for grouped data. Default 1 each. */
  readonly weights?: readonly number[];
  /** A known term added to the linear predictor (R's `offset`). Default 0. */
  readonly offset?: readonly number[];
}

/** What a fitter must return: coefficients in the order of `columnNames`, NaN for an aliased column. */
export interface LinearFit {
  readonly coefficients: readonly number[];
}

/** Any fitting method for binary outcomes: IRLS, ridge or Firth. */
export type Fitter = (data: ModelData) => LinearFit;

/** Thrown for data no fitter could use (no rows, unequal lengths, an outcome outside [0, 1]). */
export class ModelDataError extends Error {
  override name = 'ModelDataError';
}

/**
 * The linear predictor x·β of one row. An aliased coefficient (NaN) counts as 0, as R's
 * predict.glm does by dropping the column.
 * @param coefficients - The coefficients.
 * @param row - The design row.
 * @returns x·β.
 */
export function linearPredictor(coefficients: readonly number[], row: readonly number[]): number {
  let eta = 0;
  for (let j = 0; j < coefficients.length; j++) {
    const b = coefficients[j] as number;
    if (!Number.isNaN(b)) eta += b * (row[j] as number);
  }
  return eta;
}

/**
 * Checks shapes and values once so the fitters can index without guards.
 * @param data - The data.
 * @returns The prior weights and offset, filled with their defaults.
 * @throws ModelDataError when the data cannot be fitted.
 */
export function checkModelData(data: ModelData): { weights: number[]; offset: number[] } {
  const n = data.y.length;
  const p = data.columnNames.length;
  if (n === 0) throw new ModelDataError('no observations');
  if (data.x.length !== n) throw new ModelDataError(`x has ${data.x.length} rows but y has ${n}`);
  data.x.forEach((row, i) => {
    if (row.length !== p) throw new ModelDataError(`row ${i + 1} has ${row.length} values for ${p} columns`);
    if (row.some((v) => !Number.isFinite(v))) throw new ModelDataError(`row ${i + 1} has a non-finite value`);
  });
  data.y.forEach((v, i) => {
    if (!(v >= 0 && v <= 1)) throw new ModelDataError(`y[${i + 1}] = ${v} is outside [0, 1]`);
  });
  const weights = data.weights ? [...data.weights] : new Array<number>(n).fill(1);
  const offset = data.offset ? [...data.offset] : new Array<number>(n).fill(0);
  if (weights.length !== n || weights.some((w) => !(w >= 0 && Number.isFinite(w)))) {
    throw new ModelDataError('weights must be n finite non-negative numbers');
  }
  if (offset.length !== n || offset.some((o) => !Number.isFinite(o))) throw new ModelDataError('offset must be n finite numbers');
  return { weights, offset };
}

/**
 * Selects rows (with repetition, for the bootstrap) of a problem.
 * @param data - The data.
 * @param rows - Row indices.
 * @returns The sub-problem.
 */
export function selectRows(data: ModelData, rows: readonly number[]): ModelData {
  const pick = <T>(xs: readonly T[]): T[] => rows.map((i) => xs[i] as T);
  return {
    columnNames: data.columnNames,
    x: pick(data.x),
    y: pick(data.y),
    ...(data.weights ? { weights: pick(data.weights) } : {}),
    ...(data.offset ? { offset: pick(data.offset) } : {}),
  };
}
