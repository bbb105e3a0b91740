import { writeFileSync } from 'node:fs';

/** A measured figure's baseline, in the figure's own unit. */
export interface Baseline {
  readonly name: string;
  readonly median: number;
}

/** One line of the final table. */
export interface FigureRow {
  /** Which of the five figures (1 ingest core, 2 end to end, 3 screening..., 4 cold start, 5 memory). */
  readonly group: string;
  readonly figure: string;
  readonly median: number;
  readonly unit: string;
  /** Every timed run's value, in `unit`. */
  readonly samples: readonly number[];
  readonly baselines: readonly Baseline[];
  /**
   * How many times slower (or bigger) than each baseline: the figure's cost divided by the baseline's.
   * For a rate (higher is better) that is baseline ÷ figure; for a time or size, figure ÷ baseline.
   */
  readonly ratios: readonly { readonly against: string; readonly value: number }[];
  readonly target?: string;
  /** Whether the target is met; undefined when the figure has no target. */
  readonly met?: boolean;
}

/** What a figure's child process hands back to the runner. */
export interface FigureOutput {
  readonly name: string;
  readonly rows: readonly FigureRow[];
  /** Free-form findings: breakdowns, what broke, caveats. */
  readonly notes: readonly string[];
  /** Peak resident set of the process that ran the figure, MiB. */
  readonly maxRssMiB: number;
  readonly wallMs: number;
}

/**
 * Builds a row, computing ratios against the baselines.
 * @param row - The figure, its samples and baselines.
 * @param higherIsBetter - True for rates (resources/s), false for times and sizes.
 * @returns The row.
 */
export function row(
  row: Omit<FigureRow, 'ratios' | 'median' | 'met'> & { readonly meets?: (median: number) => boolean },
  higherIsBetter: boolean,
): FigureRow {
  const sorted = [...row.samples].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  const median = ((sorted[Math.floor(mid)] as number) + (sorted[Math.ceil(mid)] as number)) / 2;
  const { meets, ...rest } = row;
  return {
    ...rest,
    median,
    ratios: row.baselines.map((b) => ({ against: b.name, value: higherIsBetter ? b.median / median : median / b.median })),
    ...(meets ? { met: meets(median) } : {}),
  };
}

/**
 * Runs a figure in this (child) process and writes its output where the runner asked (BENCH_OUT),
 * with the process's peak RSS.
 * @param name - The figure's name.
 * @param measure - The measurement.
 */
export async function runFigure(name: string, measure: () => Promise<{ rows: FigureRow[]; notes: string[] }>): Promise<void> {
  const start = performance.now();
  const { rows, notes } = await measure();
  const output: FigureOutput = {
    name,
    rows,
    notes,
    // resourceUsage().maxRSS is in KiB (getrusage ru_maxrss on Linux).
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    wallMs: performance.now() - start,
  };
  const out = process.env.BENCH_OUT;
  if (out) {
    writeFileSync(out, JSON.stringify(output, null, 2));
  } else {
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  }
}
