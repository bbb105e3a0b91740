/** Small statistics and timing helpers of the benchmark. */

/**
 * The median of some numbers.
 * @param values - The numbers (not empty).
 * @returns Their median.
 */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/**
 * A quantile by linear interpolation between closest ranks (R's type 7, numpy's default).
 * @param values - The numbers (not empty).
 * @param q - The probability, 0 to 1.
 * @returns The quantile.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) {
    throw new RangeError('quantile of no values');
  }
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (at - lo);
}

/**
 * Times an async function in milliseconds.
 * @param fn - The work.
 * @returns Elapsed wall time and the function's value.
 */
export async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/**
 * Times a synchronous function in milliseconds.
 * @param fn - The work.
 * @returns Elapsed wall time and the function's value.
 */
export function timeSync<T>(fn: () => T): { ms: number; value: T } {
  const start = performance.now();
  const value = fn();
  return { ms: performance.now() - start, value };
}

/**
 * Runs `warmup` untimed then `runs` timed repetitions of some work.
 * @param runs - Timed repetitions.
 * @param warmup - Untimed repetitions first (JIT, lazy definition loading).
 * @param fn - The work.
 * @returns Milliseconds of each timed run.
 */
export async function repeat(runs: number, warmup: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) {
    await fn();
  }
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    global.gc?.();
    times.push((await timeAsync(fn)).ms);
  }
  return times;
}

/**
 * Rounds to a few significant digits for display.
 * @param value - A number.
 * @param digits - Significant digits.
 * @returns The rounded number.
 */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) {
    return value;
  }
  return Number(value.toPrecision(digits));
}
