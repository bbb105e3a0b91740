import type { CodeableConcept, Coding, ValueSetComposeInclude } from '@medplum/fhirtypes';
import type { CodeSetDefinition } from './criteria-schema.js';

/** The ICD-10-CM system URI: its codes are compared in dotted form (`C4401` reads as `C44.01`). */
export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';

interface SystemMatcher {
  readonly codes: ReadonlySet<string>;
  readonly prefixes: readonly string[];
  readonly ranges: readonly (readonly [string, string])[];
  readonly patterns: readonly RegExp[];
}

/**
 * A code list compiled once: exact codes in a set, prefixes, 3-character category ranges and
 * patterns per system, and name patterns for the few lists that must match on names (biosimilars,
 * substances whose codes are unverified).
 */
export class CodeSet {
  private readonly bySystem = new Map<string, SystemMatcher>();
  private readonly names: readonly RegExp[];

  /**
   * @param name - The set's key in the rule file.
   * @param definition - The set as written.
   * @param systems - System alias → URI, with `{base}` already replaced.
   */
  constructor(
    public readonly name: string,
    public readonly definition: CodeSetDefinition,
    systems: ReadonlyMap<string, string>,
  ) {
    const names: RegExp[] = [];
    for (const include of definition.include) {
      const system = systems.get(include.system);
      if (!system) {
        throw new Error(`Code set '${name}' names unknown system '${include.system}'`);
      }
      const current = this.bySystem.get(system) ?? { codes: new Set<string>(), prefixes: [], ranges: [], patterns: [] };
      const norm = (c: string): string => normaliseCode(system, c);
      this.bySystem.set(system, {
        codes: new Set([...current.codes, ...(include.codes ?? []).map(norm)]),
        prefixes: [...current.prefixes, ...(include.prefixes ?? []).map(norm)],
        ranges: [...current.ranges, ...(include.ranges ?? []).map((r) => [r.from.toUpperCase(), r.to.toUpperCase()] as const)],
        patterns: [...current.patterns, ...(include.patterns ?? []).map((p) => new RegExp(p))],
      });
      names.push(...(include.namePatterns ?? []).map((p) => new RegExp(p, 'i')));
    }
    this.names = names;
  }

  /** True when the set lists no code and no name at all. */
  get empty(): boolean {
    return this.names.length === 0 && [...this.bySystem.values()].every((m) => m.codes.size + m.prefixes.length + m.ranges.length + m.patterns.length === 0);
  }

  /**
   * @param coding - A coding.
   * @returns True when its system and code are in the set, or its display matches a name pattern.
   */
  hasCoding(coding: Coding): boolean {
    const matcher = coding.system ? this.bySystem.get(coding.system) : undefined;
    if (matcher && coding.code) {
      const code = normaliseCode(coding.system as string, coding.code);
      if (matcher.codes.has(code) || matcher.prefixes.some((p) => code.startsWith(p))) {
        return true;
      }
      if (matcher.ranges.length > 0) {
        const category = code.slice(0, 3);
        if (matcher.ranges.some(([from, to]) => category >= from && category <= to)) {
          return true;
        }
      }
      if (matcher.patterns.some((p) => p.test(code))) {
        return true;
      }
    }
    return this.names.length > 0 && coding.display !== undefined && this.names.some((p) => p.test(coding.display as string));
  }

  /**
   * @param concept - A CodeableConcept (or nothing).
   * @returns True when any coding is in the set, or the text matches a name pattern.
   */
  has(concept: CodeableConcept | undefined): boolean {
    if (!concept) {
      return false;
    }
    if (concept.coding?.some((c) => this.hasCoding(c))) {
      return true;
    }
    return this.names.length > 0 && concept.text !== undefined && this.names.some((p) => p.test(concept.text as string));
  }

  /**
   * The set as FHIR ValueSet compose includes: one include with the exact codes, and one per
   * prefix, range or pattern as a regex filter on the code (includes are OR-ed, filters inside one
   * include AND-ed, and vsd-3 forbids concepts and filters together).
   * @param systems - System alias → URI.
   * @returns The includes (empty for an empty set).
   */
  composeIncludes(systems: ReadonlyMap<string, string>): ValueSetComposeInclude[] {
    return this.definition.include.flatMap((include) => {
      const system = systems.get(include.system);
      const filters = [
        ...(include.prefixes ?? []).map((p) => `^${escapeRegex(p)}`),
        ...(include.ranges ?? []).map((r) => `^(${categoryRangePattern(r.from, r.to)})`),
        ...(include.patterns ?? []),
      ];
      return [
        ...(include.codes?.length ? [{ system, concept: include.codes.map((code) => ({ code })) }] : []),
        ...filters.map((value) => ({ system, filter: [{ property: 'code', op: 'regex' as const, value }] })),
      ];
    });
  }

  /** The name patterns (case-insensitive, on coding.display and CodeableConcept.text). */
  get namePatterns(): string[] {
    return this.definition.include.flatMap((i) => i.namePatterns ?? []);
  }
}

/**
 * A code as the sets compare it: ICD-10-CM upper-cased with its dot after the category.
 * @param system - The code system URI.
 * @param code - The code as sent.
 * @returns The comparable code.
 */
export function normaliseCode(system: string, code: string): string {
  if (system !== ICD10CM) {
    return code;
  }
  const upper = code.trim().toUpperCase();
  return upper.length > 3 && upper[3] !== '.' ? `${upper.slice(0, 3)}.${upper.slice(3)}` : upper;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const TAIL = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A character class for TAIL[from..to], collapsed into ranges (`[6-9A-Z]`). */
function charClass(from: string, to: string, alphabet = TAIL): string {
  const chars = alphabet.slice(alphabet.indexOf(from), alphabet.indexOf(to) + 1);
  if (chars.length === 1) {
    return chars;
  }
  const digits = chars.replace(/[A-Z]/g, '');
  const letters = chars.replace(/[0-9]/g, '');
  const part = (run: string): string => (run.length === 0 ? '' : run.length === 1 ? run : `${run[0] ?? ''}-${run[run.length - 1] ?? ''}`);
  return `[${part(digits)}${part(letters)}]`;
}

/**
 * A regular expression for an inclusive range of 3-character categories (letter, digit, digit or
 * letter), e.g. C00-C96 → `C[0-8][0-9A-Z]|C9[0-6]`.
 * @param from - First category.
 * @param to - Last category.
 * @returns The alternatives, unanchored.
 */
export function categoryRangePattern(from: string, to: string): string {
  const sameLetter = (letter: string, lo: string, hi: string): string[] => {
    const [a1 = '0', b1 = '0'] = lo;
    const [a2 = '9', b2 = 'Z'] = hi;
    if (a1 === a2) {
      return [`${letter}${a1}${charClass(b1, b2)}`];
    }
    const out = [`${letter}${a1}${charClass(b1, 'Z')}`];
    const next = TAIL[TAIL.indexOf(a1) + 1] ?? '9';
    const before = TAIL[TAIL.indexOf(a2) - 1] ?? '0';
    if (TAIL.indexOf(a2) - TAIL.indexOf(a1) > 1) {
      out.push(`${letter}${charClass(next, before)}[0-9A-Z]`);
    }
    out.push(`${letter}${a2}${charClass('0', b2)}`);
    return out;
  };
  const [l1 = 'A', ...rest1] = from;
  const [l2 = 'Z', ...rest2] = to;
  if (l1 === l2) {
    return sameLetter(l1, rest1.join(''), rest2.join('')).join('|');
  }
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const between = letters.slice(letters.indexOf(l1) + 1, letters.indexOf(l2));
  return [
    ...sameLetter(l1, rest1.join(''), '9Z'),
    ...(between ? [`${charClass(between[0] ?? 'A', between[between.length - 1] ?? 'A', letters)}[0-9][0-9A-Z]`] : []),
    ...sameLetter(l2, '00', rest2.join('')),
  ].join('|');
}
