/**
 * From text columns to a design matrix, following R's model.frame / model.matrix for a formula such
 * as `admit ~ gre + gpa + factor(rank)` with the default `na.action = na.omit`:
 *
 * - rows with a missing value in any used column (outcome, predictors, weights) are dropped first,
 *   and unused factor levels with them (glm calls model.frame with drop.unused.levels = TRUE);
 * - a predictor is a factor when listed in `factors` or when any of its values is not a number
 *   (R turns character columns into factors); its levels are sorted numerically when every value is
 *   a number, otherwise as R's sort() orders strings. R collates with ICU in any locale other than
 *   C/POSIX (Debian and CRAN builds; checked with R 4.2.2 under C.UTF-8: "_x" "10" "9" "a" "b" "B" "C"),
 *   which is Intl.Collator's root order here, the default (`collation: 'icu'`). Under LC_COLLATE=C
 *   R sorts by code point ("B" "C" "_x" "a" "b"): `collation: 'C'`. To pin an order whatever the
 *   locale, pass `levels`, as factor(x, levels = …) does;
 * - treatment contrasts, reference = first level; a dummy is named column + level (`rank2`,
 *   `agegp35-44`), as R names it for a bare factor column (R would print `factor(rank)2` for a
 *   numeric column wrapped in factor(); we keep the shorter name).
 */
import type { CsvTable } from './csv.js';
import { INTERCEPT, type ModelData } from './model-data.js';

/** What to model: R's formula, spelled out. */
export interface DesignSpec {
  /**
   * The outcome: a binary column (1/0, true/false, yes/no, any case), or success and failure count
   * columns for grouped data (R's `cbind(successes, failures)`).
   */
  readonly outcome: string | { readonly successes: string; readonly failures: string };
  /** Predictor columns, in formula order. */
  readonly predictors: readonly string[];
  /** Numeric columns to treat as factors (R's `factor(col)`). */
  readonly factors?: readonly string[];
  /** Explicit level order for a factor, reference first (R's `factor(col, levels = …)`). */
  readonly levels?: Readonly<Record<string, readonly string[]>>;
  /** Column of prior weights. */
  readonly weights?: string;
  /** How text levels are sorted: 'icu' (R in a UTF-8 locale, default) or 'C' (R under LC_COLLATE=C). */
  readonly collation?: Collation;
}

/** String order of factor levels; see the module comment. */
export type Collation = 'icu' | 'C';

/** How one factor was coded. */
export interface FactorCoding {
  readonly column: string;
  /** Levels in order; the first is the reference. */
  readonly levels: readonly string[];
  readonly reference: string;
  /** Names of its dummy columns in the design, one per non-reference level. */
  readonly dummies: readonly string[];
}

/** A design matrix ready for fitting, with what was done to get it. */
export interface Design extends ModelData {
  /** Row names of the rows kept. */
  readonly rowNames: readonly string[];
  /** Rows dropped for a missing value (R's na.omit). */
  readonly omitted: { readonly count: number; readonly rowNames: readonly string[] };
  readonly factors: readonly FactorCoding[];
}

/** Thrown when the spec does not fit the table (unknown column, bad outcome value, one-level factor). */
export class DesignError extends Error {
  override name = 'DesignError';
}

const TRUE_WORDS = new Set(['1', 'true', 'yes']);
const FALSE_WORDS = new Set(['0', 'false', 'no']);

/** A number as R's read.csv would read it, or null for text. */
function asNumber(text: string): number | null {
  if (text.trim() === '') return null;
  const v = Number(text);
  return Number.isFinite(v) ? v : null;
}

const icu = new Intl.Collator('und');

/**
 * Unicode code-point order, R's string order under the C locale (JS `<` compares UTF-16 units).
 * @param a - A string.
 * @param b - Another.
 * @returns Negative, zero or positive.
 */
export function compareCodePoints(a: string, b: string): number {
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const x = ai.next();
    const y = bi.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = (x.value.codePointAt(0) as number) - (y.value.codePointAt(0) as number);
    if (d !== 0) return d;
  }
}

/**
 * Parses a binary outcome value.
 * @param text - The cell.
 * @returns 1 or 0.
 * @throws DesignError for any other value.
 */
export function parseBinary(text: string): 0 | 1 {
  const t = text.trim().toLowerCase();
  if (TRUE_WORDS.has(t)) return 1;
  if (FALSE_WORDS.has(t)) return 0;
  throw new DesignError(`outcome value "${text}" is not one of 1/0, true/false, yes/no`);
}

/**
 * The order R's sort() gives strings under a collation.
 * @param collation - 'icu' or 'C'.
 * @returns A comparator; ICU ties (canonically equal strings) fall back to code points.
 */
export function levelComparator(collation: Collation): (a: string, b: string) => number {
  return collation === 'C' ? compareCodePoints : (a, b) => icu.compare(a, b) || compareCodePoints(a, b);
}

/**
 * The levels of a factor in R's order (see the module comment).
 * @param values - Non-missing values.
 * @param explicit - Levels given by the caller, if any.
 * @param collation - String order of text levels. Default 'icu'.
 * @returns Levels, reference first, and a key function mapping a value to its level.
 */
export function factorLevels(
  values: readonly string[],
  explicit?: readonly string[],
  collation: Collation = 'icu',
): { levels: string[]; levelOf: (value: string) => string } {
  const numeric = values.every((v) => asNumber(v) !== null);
  // Numeric levels are labelled as R prints the number ("1", not "1.0").
  const levelOf = numeric && !explicit ? (v: string): string => String(asNumber(v)) : (v: string): string => v;
  const present = [...new Set(values.map(levelOf))];
  if (explicit) {
    const unknown = present.filter((v) => !explicit.includes(v));
    if (unknown.length > 0) throw new DesignError(`value "${unknown[0]}" is not among the levels given`);
    return { levels: explicit.filter((l) => present.includes(l)), levelOf };
  }
  const levels = numeric ? present.sort((a, b) => Number(a) - Number(b)) : present.sort(levelComparator(collation));
  return { levels, levelOf };
}

/**
 * Builds the design matrix for a logistic model from a CSV table.
 * @param table - The parsed CSV.
 * @param spec - What to model.
 * @returns The design.
 * @throws DesignError when the spec does not fit the data.
 */
export function buildDesign(table: CsvTable, spec: DesignSpec): Design {
  const column = (name: string): readonly (string | null)[] => {
    const c = table.columns.get(name);
    if (!c) throw new DesignError(`no column "${name}" (columns: ${table.header.join(', ')})`);
    return c;
  };
  const outcomeColumns = typeof spec.outcome === 'string' ? [spec.outcome] : [spec.outcome.successes, spec.outcome.failures];
  const used = [...outcomeColumns, ...spec.predictors, ...(spec.weights ? [spec.weights] : [])];
  for (const f of spec.factors ?? []) {
    if (!spec.predictors.includes(f)) throw new DesignError(`factor "${f}" is not among the predictors`);
  }
  const usedColumns = used.map(column);
  const keep: number[] = [];
  const omittedNames: string[] = [];
  table.rowNames.forEach((name, i) => {
    if (usedColumns.every((c) => c[i] !== null)) keep.push(i);
    else omittedNames.push(name);
  });
  if (keep.length === 0) throw new DesignError('no row is complete in the columns used');
  const cells = (name: string): string[] => keep.map((i) => column(name)[i] as string);
  const numbers = (name: string): number[] =>
    cells(name).map((v, k) => {
      const x = asNumber(v);
      if (x === null) throw new DesignError(`column "${name}", row "${table.rowNames[keep[k] as number]}": "${v}" is not a number`);
      return x;
    });

  let y: number[];
  let weights: number[] | undefined = spec.weights ? numbers(spec.weights) : undefined;
  if (typeof spec.outcome === 'string') {
    y = cells(spec.outcome).map(parseBinary);
  } else {
    const s = numbers(spec.outcome.successes);
    const f = numbers(spec.outcome.failures);
    if ([...s, ...f].some((v) => v < 0)) throw new DesignError('success and failure counts must not be negative');
    const totals = s.map((v, k) => v + (f[k] as number));
    // R: y = successes / total (0 for an empty group), prior weight = total × any given weight.
    y = s.map((v, k) => ((totals[k] as number) === 0 ? 0 : v / (totals[k] as number)));
    weights = totals.map((t, k) => t * (weights ? (weights[k] as number) : 1));
  }

  const columnNames = [INTERCEPT];
  const blocks: number[][][] = [];
  const factors: FactorCoding[] = [];
  for (const name of spec.predictors) {
    const values = cells(name);
    const isFactor = (spec.factors ?? []).includes(name) || spec.levels?.[name] !== undefined || values.some((v) => asNumber(v) === null);
    if (!isFactor) {
      columnNames.push(name);
      blocks.push(numbers(name).map((v) => [v]));
      continue;
    }
    const { levels, levelOf } = factorLevels(values, spec.levels?.[name], spec.collation);
    if (levels.length < 2) throw new DesignError(`factor "${name}" has fewer than two levels in the rows used`);
    const dummies = levels.slice(1).map((l) => `${name}${l}`);
    factors.push({ column: name, levels, reference: levels[0] as string, dummies });
    columnNames.push(...dummies);
    blocks.push(values.map((v) => levels.slice(1).map((l) => (levelOf(v) === l ? 1 : 0))));
  }
  const x = keep.map((_, k) => [1, ...blocks.flatMap((b) => b[k] as number[])]);
  return {
    columnNames,
    x,
    y,
    ...(weights ? { weights } : {}),
    rowNames: keep.map((i) => table.rowNames[i] as string),
    omitted: { count: omittedNames.length, rowNames: omittedNames },
    factors,
  };
}
