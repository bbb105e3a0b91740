/**
 * Test helpers: the shared reference datasets (read in place, never copied into the repo) and a
 * relative-tolerance matcher.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { readAnalysisCsv } from '../../../../lambdas/predict/stats/csv.js';
import type { Design, DesignSpec } from '../../../../lambdas/predict/stats/design.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** Absolute path of a file in shared/data/logistic-regression. */
export function referencePath(file: string): string {
  return path.resolve(repoRoot, '../shared/data/logistic-regression', file);
}

/** Reads a reference dataset into a design. */
export function loadReference(file: string, spec: DesignSpec): Design {
  return readAnalysisCsv(readFileSync(referencePath(file), 'utf8'), spec);
}

/** Asserts |actual − expected| ≤ tolerance × |expected| element by element. */
export function expectRelative(actual: readonly number[], expected: readonly number[], tolerance = 1e-6, label = ''): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i] as number;
    const error = Math.abs(a - e) / Math.max(Math.abs(e), 1e-300);
    if (!(error <= tolerance)) expect.fail(`${label}[${i}]: ${a} vs R ${e} (relative error ${error.toExponential(2)} > ${tolerance})`);
  });
}

/** Largest relative difference, for printing the agreement achieved. */
export function maxRelativeError(actual: readonly number[], expected: readonly number[]): number {
  return Math.max(...actual.map((a, i) => Math.abs(a - (expected[i] as number)) / Math.abs(expected[i] as number)));
}
