/**
 * Least squares by Householder QR with R's rule for aliased columns, the linear-algebra step of IRLS.
 *
 * R's glm.fit calls LINPACK dqrdc2, which moves a column to the end when the part of it not
 * explained by the earlier columns has norm below `tolerance` × its original norm; such a column
 * is aliased and its coefficient reported as NA. Dropping the first offending column and
 * factorising again gives the same set of aliased columns with ml-matrix's unpivoted QR.
 */
import { inverse, Matrix, QrDecomposition } from 'ml-matrix';

/** The solution of min ‖A b − y‖ over the non-aliased columns of A. */
export interface QrLeastSquaresResult {
  /** One per column of A; 0 for an aliased column (so A·b is the fitted vector). */
  readonly coefficients: number[];
  readonly aliased: boolean[];
  readonly rank: number;
  /** (AᵀA)⁻¹ of the non-aliased columns, indexed by position in `kept`. */
  readonly unscaledCovariance: Matrix;
  /** Indices of the non-aliased columns. */
  readonly kept: number[];
  /** log det(AᵀA) of the non-aliased columns, 2 Σ log |R_kk| (the Jeffreys penalty of Firth's method). */
  readonly logDeterminant: number;
}

/** Thrown when no column of the design carries information. */
export class SingularDesignError extends Error {
  override name = 'SingularDesignError';
}

/**
 * Solves a least-squares problem, dropping aliased columns as R does.
 * @param a - The n × p matrix (rows already scaled by the square-root weights).
 * @param y - The n-vector.
 * @param tolerance - Relative tolerance for aliasing (R's glm.fit uses min(1e-7, ε/1000) = 1e-11).
 * @returns The coefficients, aliasing and (AᵀA)⁻¹.
 * @throws SingularDesignError when every column is aliased.
 */
export function qrLeastSquares(a: readonly (readonly number[])[], y: readonly number[], tolerance: number): QrLeastSquaresResult {
  const p = a[0]?.length ?? 0;
  const norms = Array.from({ length: p }, (_, j) => Math.sqrt(a.reduce((s, row) => s + (row[j] as number) ** 2, 0)));
  const kept = Array.from({ length: p }, (_, j) => j);
  for (;;) {
    if (kept.length === 0) throw new SingularDesignError('every column of the design is aliased');
    const reduced = new Matrix(a.map((row) => kept.map((j) => row[j] as number)));
    const qr = new QrDecomposition(reduced);
    const r = qr.upperTriangularMatrix;
    const bad = kept.findIndex((j, k) => !(Math.abs(r.get(k, k)) >= tolerance * (norms[j] as number)) || norms[j] === 0);
    if (bad >= 0) {
      kept.splice(bad, 1);
      continue;
    }
    const solution = qr.solve(Matrix.columnVector([...y]));
    const rInverse = inverse(r);
    const coefficients = new Array<number>(p).fill(0);
    kept.forEach((j, k) => {
      coefficients[j] = solution.get(k, 0);
    });
    const aliased = Array.from({ length: p }, (_, j) => !kept.includes(j));
    let logDeterminant = 0;
    for (let k = 0; k < kept.length; k++) logDeterminant += 2 * Math.log(Math.abs(r.get(k, k)));
    return { coefficients, aliased, rank: kept.length, unscaledCovariance: rInverse.mmul(rInverse.transpose()), kept, logDeterminant };
  }
}
