import type { CodeSystem, CodeSystemConcept, Coding, ConceptMap, ValueSet, ValueSetComposeInclude } from '@medplum/fhirtypes';

type Matcher = (coding: Coding) => boolean;

/** Codes of one CodeSystem, nested concepts included. */
function codesOf(concepts: readonly CodeSystemConcept[] | undefined, into = new Set<string>()): Set<string> {
  for (const c of concepts ?? []) {
    if (c.code) {
      into.add(c.code);
    }
    codesOf(c.concept, into);
  }
  return into;
}

/**
 * ValueSet membership without a terminology server, for the study's own ValueSets.
 * Supports `compose.include`/`exclude` with concept lists, whole-system includes (checked against the
 * CodeSystem when it is one of ours, accepted otherwise), `valueSet` imports, and filters on `code`
 * with op `regex`, `=` or `in`. Hierarchy filters (`is-a`) need SNOMED and are not supported: such an
 * include matches nothing, so a required binding fails closed.
 */
export class ValueSetIndex {
  private readonly valueSets: ReadonlyMap<string, ValueSet>;
  private readonly codeSystems: ReadonlyMap<string, ReadonlySet<string>>;
  private readonly compiled = new Map<string, Matcher>();

  /**
   * @param valueSets - ValueSets by canonical URL.
   * @param codeSystems - The study's CodeSystems (complete content).
   */
  public constructor(valueSets: readonly ValueSet[], codeSystems: readonly CodeSystem[]) {
    this.valueSets = new Map(valueSets.filter((v) => v.url).map((v) => [v.url as string, v]));
    this.codeSystems = new Map(codeSystems.filter((c) => c.url).map((c) => [c.url as string, codesOf(c.concept)]));
  }

  /** True when the ValueSet is known. */
  public has(url: string): boolean {
    return this.valueSets.has(stripVersion(url));
  }

  /**
   * Whether a coding is in a ValueSet (system and code both must match; display is ignored).
   * @param url - ValueSet canonical URL (a `|version` suffix is ignored).
   * @param coding - The coding to test.
   * @returns False for an unknown ValueSet.
   */
  public contains(url: string, coding: Coding): boolean {
    if (!coding.code || !coding.system) {
      return false;
    }
    return this.matcher(stripVersion(url), [])(coding);
  }

  private matcher(url: string, trail: readonly string[]): Matcher {
    const cached = this.compiled.get(url);
    if (cached) {
      return cached;
    }
    const vs = this.valueSets.get(url);
    if (!vs || trail.includes(url)) {
      return () => false;
    }
    const include = (vs.compose?.include ?? []).map((i) => this.compileInclude(i, [...trail, url]));
    const exclude = (vs.compose?.exclude ?? []).map((i) => this.compileInclude(i, [...trail, url]));
    const matcher: Matcher = (c) => include.some((m) => m(c)) && !exclude.some((m) => m(c));
    this.compiled.set(url, matcher);
    return matcher;
  }

  private compileInclude(include: ValueSetComposeInclude, trail: readonly string[]): Matcher {
    const parts: Matcher[] = [];
    const system = include.system;
    if (system) {
      parts.push((c) => c.system === system);
      if (include.concept) {
        const codes = new Set(include.concept.map((c) => c.code));
        parts.push((c) => codes.has(c.code as string));
      } else if (include.filter) {
        parts.push(...include.filter.map((f) => compileFilter(f.property, f.op, f.value)));
      } else {
        const known = this.codeSystems.get(system);
        // Whole external systems (LOINC, RxNorm) cannot be checked here: any code of the system passes.
        if (known) {
          parts.push((c) => known.has(c.code as string));
        }
      }
    }
    for (const imported of include.valueSet ?? []) {
      const m = this.matcher(stripVersion(imported), trail);
      parts.push(m);
    }
    return (c) => parts.length > 0 && parts.every((m) => m(c));
  }
}

function compileFilter(property: string | undefined, op: string | undefined, value: string | undefined): Matcher {
  if (property !== 'code' || value === undefined) {
    return () => false;
  }
  if (op === 'regex') {
    const re = new RegExp(value);
    return (c) => re.test(c.code as string);
  }
  if (op === '=') {
    return (c) => c.code === value;
  }
  if (op === 'in') {
    const codes = new Set(value.split(',').map((s) => s.trim()));
    return (c) => codes.has(c.code as string);
  }
  return () => false;
}

function stripVersion(url: string): string {
  const bar = url.indexOf('|');
  return bar < 0 ? url : url.slice(0, bar);
}

/** Equivalences that do not give a usable target (FHIR R4 ConceptMapEquivalence). */
const NOT_A_MATCH = new Set(['unmatched', 'disjoint']);

/**
 * Source coding → standard coding, from the groups of the study's ConceptMaps.
 * @param maps - ConceptMaps (R4).
 * @returns Lookup by `system|code`; the first usable target wins.
 */
export function indexConceptMaps(maps: readonly ConceptMap[]): ReadonlyMap<string, Coding> {
  const index = new Map<string, Coding>();
  for (const map of maps) {
    for (const group of map.group ?? []) {
      if (!group.source || !group.target) {
        continue;
      }
      for (const element of group.element ?? []) {
        const target = element.target?.find((t) => t.code && !NOT_A_MATCH.has(t.equivalence ?? ''));
        const key = `${group.source}|${element.code ?? ''}`;
        if (target?.code && !index.has(key)) {
          index.set(key, { system: group.target, code: target.code, ...(target.display ? { display: target.display } : {}) });
        }
      }
    }
  }
  return index;
}
