import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodeSet } from './code-set.js';
import { type CriteriaFile, criteriaFileSchema } from './criteria-schema.js';
import type { RecordSettings } from './record.js';
import { compileRule, type Rule } from './rules.js';

/** The rule file's name inside its directory. */
export const CRITERIA_FILE = 'eligibility-criteria.json';

/** Where the rule file lives in the repository (fhir-profiles/eligibility/). */
export const DEFAULT_CRITERIA_DIR = fileURLToPath(new URL('../../../fhir-profiles/eligibility/', import.meta.url));

/** A rule file that does not parse or does not hang together (unknown set, duplicate code...). */
export class EligibilityCriteriaError extends Error {
  public override readonly name = 'EligibilityCriteriaError';
}

/** One criterion, compiled for one canonical base. */
export interface CompiledCriterion {
  readonly code: string;
  readonly kind: 'inclusion' | 'exclusion';
  readonly bullet: string;
  readonly evaluate: Rule;
}

/** The criteria compiled for one canonical base: code sets built, regexes compiled, rules bound. */
export interface CompiledCriteria {
  readonly base: string;
  readonly sets: ReadonlyMap<string, CodeSet>;
  readonly systems: ReadonlyMap<string, string>;
  readonly criteria: readonly CompiledCriterion[];
  readonly belimumab: CodeSet;
  readonly settings: CriteriaFile['settings'];
  readonly recordSettings: RecordSettings;
}

/**
 * The study's eligibility criteria, validated. Compiling depends on the canonical base (study code
 * systems are written `{base}/...` in the file), so it is done per base on first use and cached.
 */
export class EligibilityCriteria {
  private readonly compiled = new Map<string, CompiledCriteria>();

  /**
   * @param file - The validated rule file.
   */
  constructor(readonly file: CriteriaFile) {
    // Compile once with a placeholder base, so that a broken file fails here and not per patient.
    this.forBase('https://example.invalid/fhir');
    this.compiled.clear();
  }

  /** The file's id and version, e.g. `nct04893161-eligibility|1.0.0`. */
  get version(): string {
    return `${this.file.id}|${this.file.version}`;
  }

  /**
   * @param base - The canonical base.
   * @returns The criteria compiled for it (cached).
   */
  forBase(base: string): CompiledCriteria {
    let compiled = this.compiled.get(base);
    if (!compiled) {
      compiled = compile(this.file, base);
      this.compiled.set(base, compiled);
    }
    return compiled;
  }
}

/**
 * Validates a parsed rule file.
 * @param json - The parsed JSON.
 * @returns The criteria.
 * @throws EligibilityCriteriaError naming every problem.
 */
export function parseEligibilityCriteria(json: unknown): EligibilityCriteria {
  const parsed = criteriaFileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new EligibilityCriteriaError(`Invalid eligibility criteria: ${problems.join('; ')}`);
  }
  try {
    return new EligibilityCriteria(parsed.data);
  } catch (err) {
    if (err instanceof EligibilityCriteriaError) {
      throw err;
    }
    throw new EligibilityCriteriaError(`Invalid eligibility criteria: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * Reads and validates the rule file (`eligibility-criteria.json`) of a directory.
 * @param dir - The directory; defaults to the repository's fhir-profiles/eligibility/ (a bundled
 *   Lambda must pass the directory its build copies the file to).
 * @returns The criteria.
 * @throws EligibilityCriteriaError when the file does not validate.
 */
export function loadEligibilityCriteria(dir: string = DEFAULT_CRITERIA_DIR): EligibilityCriteria {
  return parseEligibilityCriteria(JSON.parse(readFileSync(join(dir, CRITERIA_FILE), 'utf8')));
}

function compile(file: CriteriaFile, base: string): CompiledCriteria {
  const systems = new Map(Object.entries(file.systems).map(([alias, uri]) => [alias, uri.replaceAll('{base}', base)]));
  const sets = new Map<string, CodeSet>();
  for (const [name, definition] of Object.entries(file.codeSets)) {
    try {
      sets.set(name, new CodeSet(name, definition, systems));
    } catch (err) {
      throw new EligibilityCriteriaError(`codeSets.${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  const set = (name: string): CodeSet => {
    const found = sets.get(name);
    if (!found) {
      throw new EligibilityCriteriaError(`Unknown code set '${name}'`);
    }
    return found;
  };
  const unconfirmed = new Set(file.settings.unconfirmedVerificationStatuses);
  const earlier = new Set<string>();
  const criteria: CompiledCriterion[] = [];
  for (const def of file.criteria) {
    if (earlier.has(def.code)) {
      throw new EligibilityCriteriaError(`Duplicate criterion '${def.code}'`);
    }
    if ((def.kind === 'inclusion') !== def.code.startsWith('incl-')) {
      throw new EligibilityCriteriaError(`Criterion '${def.code}' is not named for its kind '${def.kind}'`);
    }
    const rule = def.rule;
    // `{base}` in a profile URL is resolved like the systems.
    const resolved = rule.type === 'score' && rule.preferProfile ? { ...rule, preferProfile: rule.preferProfile.replaceAll('{base}', base) } : rule;
    const evaluate = compileRule(resolved, { set, settings: file.settings, unconfirmed, earlier });
    criteria.push({ code: def.code, kind: def.kind, bullet: def.bullet, evaluate });
    earlier.add(def.code);
  }
  set(file.settings.results.positive);
  set(file.settings.results.negative);
  set(file.settings.results.indeterminate);
  const recordSettings: RecordSettings = {
    ignoredStatuses: new Set(file.settings.ignoredStatuses),
    ignoredVerificationStatuses: new Set(file.settings.ignoredVerificationStatuses),
    inactiveClinicalStatuses: new Set(file.settings.inactiveClinicalStatuses),
  };
  return { base, sets, systems, criteria, belimumab: set(file.settings.dayZero.set), settings: file.settings, recordSettings };
}
