/**
 * Command-line spelling of a {@link DesignSpec}, for a script that fits a CSV from a terminal:
 *   data.csv --outcome admit --predictors gre,gpa,rank --factor rank [--weights w] [--collation C]
 *   data.csv --successes ncases --failures ncontrols --predictors agegp,alcgp
 * `--factor` may be repeated or take a comma list. Parsing only: reading the file and printing belong
 * to the script (scripts/), so this stays a pure function.
 */
import type { DesignSpec } from './design.js';

/** Thrown for arguments that do not make a spec; the message says which. */
export class DesignArgsError extends Error {
  override name = 'DesignArgsError';
}

const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/**
 * Parses command-line arguments into a file name and a design spec.
 * @param argv - Arguments after the script name.
 * @returns The CSV path and the spec.
 * @throws DesignArgsError for an unknown flag, a flag without a value, or a missing outcome or file.
 */
export function parseDesignArgs(argv: readonly string[]): { file: string; spec: DesignSpec } {
  let file: string | undefined;
  let outcome: string | undefined;
  let successes: string | undefined;
  let failures: string | undefined;
  let weights: string | undefined;
  let collation: 'icu' | 'C' | undefined;
  const predictors: string[] = [];
  const factors: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      if (file !== undefined) throw new DesignArgsError(`unexpected argument "${arg}"`);
      file = arg;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new DesignArgsError(`${arg} needs a value`);
    i++;
    switch (arg) {
      case '--outcome':
        outcome = value;
        break;
      case '--successes':
        successes = value;
        break;
      case '--failures':
        failures = value;
        break;
      case '--predictors':
        predictors.push(...list(value));
        break;
      case '--factor':
        factors.push(...list(value));
        break;
      case '--weights':
        weights = value;
        break;
      case '--collation':
        if (value !== 'icu' && value !== 'C') throw new DesignArgsError('--collation is icu or C');
        collation = value;
        break;
      default:
        throw new DesignArgsError(`unknown flag ${arg}`);
    }
  }
  if (file === undefined) throw new DesignArgsError('no CSV file given');
  if ((outcome === undefined) === (successes === undefined || failures === undefined)) {
    throw new DesignArgsError('give either --outcome, or --successes and --failures');
  }
  // A factor named only with --factor is still a predictor, as factor(x) in a formula is.
  for (const f of factors) if (!predictors.includes(f)) predictors.push(f);
  const spec: DesignSpec = {
    outcome: outcome ?? { successes: successes as string, failures: failures as string },
    predictors,
    ...(factors.length > 0 ? { factors } : {}),
    ...(weights ? { weights } : {}),
    ...(collation ? { collation } : {}),
  };
  return { file, spec };
}
