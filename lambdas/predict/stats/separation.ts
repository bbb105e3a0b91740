/**
 * Detection of complete and quasi-complete separation (Albert & Anderson 1984), the reason a
 * logistic maximum-likelihood estimate does not exist. Reported as a result so that a caller can
 * switch to Firth's method (./firth.js) instead of reading meaningless coefficients and SEs.
 *
 * Two checks, no linear programming:
 * 1. Exact, one predictor at a time: the events' values and the non-events' values of a column do
 *    not overlap (complete) or touch only at one value (quasi-complete).
 * 2. For combinations of predictors: Newton–Raphson on the unpenalised likelihood is run for a
 *    fixed number of iterations without a convergence stop. When the estimate exists Newton
 *    converges (quadratically) and stops early. When it does not, each step moves the separated
 *    observations about one unit further out on the logit scale: an observation is counted as
 *    separated when its linear predictor is past ±15 on the side of its outcome and grew by more
 *    than 5 over the second half of the run. All observations separated = complete; some =
 *    quasi-complete. This is a numerical diagnosis: an estimate that exists but lies beyond
 *    |η| ≈ 15 after `iterations` Newton steps would be misread, which needs near-separated data.
 */
import { checkModelData, INTERCEPT, type ModelData } from './model-data.js';
import { qrLeastSquares } from './qr-least-squares.js';

/** Kind of separation found. */
export type SeparationStatus = 'none' | 'quasi-complete' | 'complete';

/** A predictor that on its own separates the outcome. */
export interface SeparatingPredictor {
  readonly column: string;
  readonly kind: 'complete' | 'quasi-complete';
  /** Whether events sit at the high or the low values of the predictor. */
  readonly eventsAt: 'high' | 'low';
}

/** The diagnosis. */
export interface SeparationResult {
  readonly status: SeparationStatus;
  readonly separatingPredictors: readonly SeparatingPredictor[];
  /** Rows (0-based) whose fitted probability runs off to their observed 0 or 1. */
  readonly separatedRows: readonly number[];
  /** Coefficients still moving at the end of the run (by more than one unit of the predictor's SD). */
  readonly divergingCoefficients: readonly string[];
  /** Whether Newton converged, i.e. a finite maximum-likelihood estimate was found. */
  readonly estimateExists: boolean;
  /** Deviance at the end of the run (near 0 under complete separation). */
  readonly deviance: number;
  readonly iterations: number;
}

/** Options of the Newton run. */
export interface SeparationOptions {
  /** Newton steps before deciding. Default 50 (enough to carry separated rows to |η| ≈ 40). */
  readonly iterations?: number;
}

const SEPARATED_ETA = 15;
const GROWTH = 5;

/** log(1 + e^x) without overflow. */
const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/**
 * The predictors that separate the outcome on their own.
 * @param data - The data (0/1 or proportion outcome).
 * @param weights - Prior weights.
 * @returns One entry per separating predictor.
 */
function singlePredictorSeparation(data: ModelData, weights: readonly number[]): SeparatingPredictor[] {
  const out: SeparatingPredictor[] = [];
  data.columnNames.forEach((column, j) => {
    if (column === INTERCEPT) return;
    // A row with a proportion strictly between 0 and 1 holds both an event and a non-event.
    const events = data.x.flatMap((row, i) => ((data.y[i] as number) > 0 && (weights[i] as number) > 0 ? [row[j] as number] : []));
    const nonEvents = data.x.flatMap((row, i) => ((data.y[i] as number) < 1 && (weights[i] as number) > 0 ? [row[j] as number] : []));
    if (events.length === 0 || nonEvents.length === 0) return;
    const [eMin, eMax, nMin, nMax] = [Math.min(...events), Math.max(...events), Math.min(...nonEvents), Math.max(...nonEvents)];
    if (eMin === eMax && nMin === nMax && eMin === nMin) return; // constant column
    if (nMax < eMin) out.push({ column, kind: 'complete', eventsAt: 'high' });
    else if (eMax < nMin) out.push({ column, kind: 'complete', eventsAt: 'low' });
    else if (nMax === eMin) out.push({ column, kind: 'quasi-complete', eventsAt: 'high' });
    else if (eMax === nMin) out.push({ column, kind: 'quasi-complete', eventsAt: 'low' });
  });
  return out;
}

/**
 * Diagnoses separation in a logistic-regression problem. Never throws for separated data.
 * @param data - Design, outcome, optional prior weights and offset.
 * @param options - Length of the Newton run.
 * @returns The diagnosis.
 * @throws ModelDataError for malformed data.
 */
export function detectSeparation(data: ModelData, options: SeparationOptions = {}): SeparationResult {
  const { weights, offset } = checkModelData(data);
  const maxIterations = options.iterations ?? 50;
  const p = data.columnNames.length;
  const y = data.y;
  const etaOf = (beta: readonly number[]): number[] =>
    data.x.map((row, i) => row.reduce((s, v, j) => s + v * (beta[j] as number), 0) + (offset[i] as number));
  const minusLogLik = (eta: readonly number[]): number =>
    eta.reduce((s, e, i) => s + (weights[i] as number) * (softplus(e) - (y[i] as number) * e), 0);

  let beta = new Array<number>(p).fill(0);
  let eta = etaOf(beta);
  let value = minusLogLik(eta);
  let halfway = { beta, eta };
  let estimateExists = false;
  let iterations = 0;
  for (let iter = 1; iter <= maxIterations; iter++) {
    iterations = iter;
    const rows: number[][] = [];
    const rhs: number[] = [];
    eta.forEach((e, i) => {
      // μ and 1 − μ computed separately so that y − μ keeps its digits when μ is near 1.
      const mu = 1 / (1 + Math.exp(-e));
      const oneMinusMu = 1 / (1 + Math.exp(e));
      const w = (weights[i] as number) * mu * oneMinusMu;
      if (!(w > 1e-300)) return;
      const sw = Math.sqrt(w);
      const residual = (y[i] as number) === 1 ? oneMinusMu : (y[i] as number) - mu;
      rows.push((data.x[i] as readonly number[]).map((v) => v * sw));
      rhs.push(((weights[i] as number) * residual) / sw);
    });
    if (rows.length === 0) break;
    let delta = qrLeastSquares(rows, rhs, 1e-11).coefficients;
    let candidate = beta.map((b, j) => b + (delta[j] as number));
    let candidateEta = etaOf(candidate);
    let candidateValue = minusLogLik(candidateEta);
    for (let h = 0; h < 30 && !(candidateValue <= value + 1e-12 * Math.abs(value)); h++) {
      delta = delta.map((d) => d / 2);
      candidate = beta.map((b, j) => b + (delta[j] as number));
      candidateEta = etaOf(candidate);
      candidateValue = minusLogLik(candidateEta);
    }
    beta = candidate;
    eta = candidateEta;
    value = candidateValue;
    if (iter === Math.floor(maxIterations / 2)) halfway = { beta, eta };
    const scale = Math.max(1, ...beta.map(Math.abs));
    if (Math.max(...delta.map(Math.abs)) < 1e-10 * scale) {
      estimateExists = true;
      break;
    }
  }

  const usable = y.flatMap((_, i) => ((weights[i] as number) > 0 ? [i] : []));
  const separatedRows = estimateExists
    ? []
    : usable.filter((i) => {
        const e = eta[i] as number;
        const side = y[i] === 1 ? e : y[i] === 0 ? -e : Number.NaN;
        const before = y[i] === 1 ? (halfway.eta[i] as number) : -(halfway.eta[i] as number);
        return side > SEPARATED_ETA && side - before > GROWTH;
      });
  const sd = data.columnNames.map((name, j) => {
    if (name === INTERCEPT) return 1;
    const m = data.x.reduce((s, row) => s + (row[j] as number), 0) / data.x.length;
    return Math.sqrt(data.x.reduce((s, row) => s + ((row[j] as number) - m) ** 2, 0) / data.x.length);
  });
  const divergingCoefficients = estimateExists
    ? []
    : data.columnNames.filter((_, j) => Math.abs((beta[j] as number) - (halfway.beta[j] as number)) * (sd[j] as number) > 1);
  const separatingPredictors = singlePredictorSeparation(data, weights);

  let status: SeparationStatus = 'none';
  if (separatedRows.length > 0) status = separatedRows.length === usable.length ? 'complete' : 'quasi-complete';
  if (separatingPredictors.some((s) => s.kind === 'complete')) status = 'complete';
  else if (status === 'none' && separatingPredictors.length > 0) status = 'quasi-complete';
  return {
    status,
    separatingPredictors,
    separatedRows,
    divergingCoefficients,
    estimateExists,
    deviance: 2 * value - 2 * saturatedLogLik(y, weights),
    iterations,
  };
}

/** Log-likelihood of the saturated model (0 for 0/1 data), so that 2(sat − ℓ) is the deviance. */
function saturatedLogLik(y: readonly number[], weights: readonly number[]): number {
  return y.reduce((s, v, i) => s + (weights[i] as number) * ((v > 0 ? v * Math.log(v) : 0) + (v < 1 ? (1 - v) * Math.log(1 - v) : 0)), 0);
}
