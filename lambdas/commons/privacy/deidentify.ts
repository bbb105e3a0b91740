import { capitalize, tryGetDataType, type InternalTypeSchema } from '@medplum/core';
import type { CodeSystemConcept, Coding, Resource } from '@medplum/fhirtypes';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Conformance } from '../conformance/index.js';
import { ensureDefinitions } from '../fhir/definitions.js';
import { PRIMITIVES } from '../fhir/typed-walk.js';
import { keyedHash } from '../ids.js';

/*
 * The de-identification policy (fhir-profiles/deidentification/) applied to every study resource the
 * mapper builds: one walk over the resource guided by the base R4 type definitions, each element decided
 * by the first policy rule that matches its path, its datatype's element or its type. What no rule keeps
 * is not kept: every primitive type has a rule, and strings default to drop.
 */

const DEFAULT_FILE = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../fhir-profiles/deidentification/limited-data-set.json');

const ruleSchema = z
  .object({
    path: z.string().min(1),
    action: z.enum(['keep', 'drop', 'replace', 'crypto-hash']),
    why: z.string().min(3),
    /** keep only a Coding of a known system, or an Extension of the study's own. */
    only: z.enum(['known-system', 'study-extension']).optional(),
    /** keep a string only when all of it is a lab result (number, comparator, range, titre, qualitative word). */
    pattern: z.literal('result').optional(),
    with: z.enum(['terminology-display', 'ucum-code']).optional(),
  })
  .strict()
  .refine((r) => (r.action === 'replace') === (r.with !== undefined), { message: 'replace needs `with`, and only replace takes it' });

const policySchema = z
  .object({
    id: z.string().min(1),
    version: z.string().min(1),
    title: z.string().min(1),
    peer: z.string().min(1),
    howRulesMatch: z.string().min(1),
    qualitativeResults: z.array(z.string().min(1)).min(1),
    knownSystems: z.object({ why: z.string().min(10), prefixes: z.array(z.string().min(1)).min(1) }).strict(),
    rules: z.array(ruleSchema).min(1),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    for (const r of p.rules) {
      if (seen.has(r.path)) ctx.addIssue({ code: 'custom', message: `two rules for ${r.path}` });
      seen.add(r.path);
    }
    for (const primitive of PRIMITIVES) {
      if (!seen.has(primitive)) ctx.addIssue({ code: 'custom', message: `no rule for the primitive type ${primitive}: its values would be kept unchecked` });
    }
  });

/** The policy as written. */
export type DeidentificationPolicy = z.infer<typeof policySchema>;
export type PolicyRule = z.infer<typeof ruleSchema>;

/**
 * Reads and checks the policy file.
 * @param file - Path (default fhir-profiles/deidentification/limited-data-set.json, or FHIR_PROFILES_DIR's).
 * @returns The policy.
 */
export function loadDeidentificationPolicy(file: string = DEFAULT_FILE): DeidentificationPolicy {
  return parseDeidentificationPolicy(JSON.parse(readFileSync(file, 'utf8')));
}

/**
 * The policy file inside a conformance directory.
 * @param dir - A fhir-profiles/ directory, or undefined for the source tree's.
 * @returns The path.
 */
export function policyFileIn(dir: string | undefined): string {
  return dir ? join(dir, 'deidentification', 'limited-data-set.json') : DEFAULT_FILE;
}

/**
 * Checks a policy document.
 * @param value - Parsed JSON.
 * @returns The policy.
 * @throws Error naming every problem.
 */
export function parseDeidentificationPolicy(value: unknown): DeidentificationPolicy {
  const result = policySchema.safeParse(value);
  if (!result.success) {
    throw new Error(`Invalid de-identification policy: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return result.data;
}

/** Quantity's profiles: their elements follow Quantity's rules. */
const QUANTITY_FAMILY = new Set(['Age', 'Count', 'Distance', 'Duration', 'SimpleQuantity', 'MoneyQuantity']);
const family = (type: string): string => (QUANTITY_FAMILY.has(type) ? 'Quantity' : type);

const UCUM = 'http://unitsofmeasure.org';

/** Displays of the study's terminology, by `system|code`, and the systems it knows. */
export class StudyTerminology {
  private readonly displays = new Map<string, string>();
  private readonly systems = new Set<string>();

  constructor(
    conformance: Conformance,
    private readonly prefixes: readonly string[],
  ) {
    const add = (system: string | undefined, code: string | undefined, display: string | undefined): void => {
      if (!system) return;
      this.systems.add(system);
      const key = `${system}|${code ?? ''}`;
      if (code && display && !this.displays.has(key)) this.displays.set(key, display);
    };
    for (const r of conformance.resources) {
      switch (r.resourceType) {
        case 'CodeSystem': {
          const walk = (concepts: readonly CodeSystemConcept[] | undefined): void =>
            concepts?.forEach((c) => {
              add((r).url, c.code, c.display);
              walk(c.concept);
            });
          add(r.url, undefined, undefined);
          walk(r.concept);
          break;
        }
        case 'ValueSet':
          for (const include of (r).compose?.include ?? []) {
            add(include.system, undefined, undefined);
            include.concept?.forEach((c) => add(include.system, c.code, c.display));
          }
          break;
        case 'ConceptMap':
          for (const group of (r).group ?? []) {
            add(group.source, undefined, undefined);
            add(group.target, undefined, undefined);
            for (const element of group.element ?? []) {
              add(group.source, element.code, element.display);
              element.target?.forEach((t) => add(group.target, t.code, t.display));
            }
          }
          break;
        case 'ObservationDefinition':
          (r).code.coding?.forEach((c) => add(c.system, c.code, c.display));
          break;
        default:
          break;
      }
    }
  }

  /** The study's display of a coding, or undefined. */
  display(coding: Pick<Coding, 'system' | 'code'>): string | undefined {
    return this.displays.get(`${coding.system ?? ''}|${coding.code ?? ''}`);
  }

  /** True for a system of a public terminology or of the study's own conformance resources. */
  knows(system: string | undefined): boolean {
    return !!system && (this.systems.has(system) || this.prefixes.some((p) => system.startsWith(p)));
  }
}

type Json = Record<string, unknown>;

const keyTypeCache = new WeakMap<InternalTypeSchema, Map<string, string>>();

function keyTypes(schema: InternalTypeSchema): Map<string, string> {
  let map = keyTypeCache.get(schema);
  if (!map) {
    map = new Map();
    for (const [name, element] of Object.entries(schema.elements)) {
      if (name.endsWith('[x]')) {
        for (const t of element.type) map.set(name.slice(0, -3) + capitalize(t.code), t.code);
      } else {
        map.set(name, element.type[0]?.code ?? 'Element');
      }
    }
    keyTypeCache.set(schema, map);
  }
  return map;
}

interface Where {
  /** From the resource: JSON keys, no indexes (Observation.component.valueString). */
  readonly path: string;
  /** True for the resource's own elements (Resource.* rules). */
  readonly topLevel: boolean;
  /** The datatype whose element this is, when inside one. */
  readonly datatype?: string;
}

/**
 * Applies the policy to study resources.
 */
export class Deidentifier {
  private readonly rules: ReadonlyMap<string, PolicyRule>;
  private readonly resultPattern: RegExp;
  private readonly terminology: StudyTerminology;
  private readonly base: string;

  /**
   * @param policy - The policy.
   * @param conformance - The study's conformance resources (terminology, canonical base).
   * @param key - The source-identifier key (crypto-hash).
   */
  constructor(
    readonly policy: DeidentificationPolicy,
    conformance: Conformance,
    private readonly key: Uint8Array,
  ) {
    this.rules = new Map(policy.rules.map((r) => [r.path, r]));
    this.terminology = new StudyTerminology(conformance, policy.knownSystems.prefixes);
    this.base = conformance.base;
    const number = String.raw`\d{1,6}(?:[.,]\d+)?`;
    const words = policy.qualitativeResults.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    // A comparator and a number; a range of two short numbers; a titre; or one qualitative word.
    this.resultPattern = new RegExp(
      String.raw`^\s*(?:(?:<=|>=|<|>|≤|≥)?\s*${number}|\d{1,3}(?:[.,]\d+)?\s*[-–]\s*\d{1,3}(?:[.,]\d+)?|1\s*:\s*\d{1,6}|${words})\s*$`,
      'i',
    );
  }

  /** The study-own identifier system that hashed source identifiers get. */
  get hashedIdentifierSystem(): string {
    return `${this.base}/sid/source-record`;
  }

  /**
   * A de-identified copy of a resource.
   * @param resource - A mapped study resource.
   * @returns The copy, with only what the policy keeps.
   */
  apply<T extends Resource>(resource: T): T {
    const copy = structuredClone(resource) as unknown as Json;
    this.resource(copy);
    return copy as unknown as T;
  }

  /**
   * Whether a string would be kept as a lab result (Observation.valueString).
   * @param value - The string.
   * @returns True when the whole value is a result.
   */
  isResultString(value: string): boolean {
    return this.resultPattern.test(value);
  }

  private resource(obj: Json): void {
    const type = obj.resourceType as string;
    ensureDefinitions([type]);
    const schema = tryGetDataType(type);
    if (!schema) {
      for (const k of Object.keys(obj)) if (k !== 'resourceType') delete obj[k];
      return;
    }
    this.object(obj, schema, { path: type, topLevel: true });
  }

  private ruleFor(key: string, type: string, where: Where): PolicyRule | undefined {
    const path = `${where.path}.${key}`;
    return (
      this.rules.get(path) ??
      (where.topLevel ? this.rules.get(`Resource.${key}`) : undefined) ??
      (where.datatype ? this.rules.get(`${family(where.datatype)}.${key}`) : undefined) ??
      this.rules.get(family(type))
    );
  }

  private object(obj: Json, schema: InternalTypeSchema, where: Where): void {
    const types = keyTypes(schema);
    const replacements: [string, PolicyRule][] = [];
    for (const key of Object.keys(obj)) {
      if (key === 'resourceType') continue;
      const type = types.get(key);
      // `_element` (extensions and ids of primitives) and keys the type does not have: never kept.
      if (!type) {
        delete obj[key];
        continue;
      }
      const rule = this.ruleFor(key, type, where);
      if (rule?.action === 'replace') {
        replacements.push([key, rule]);
        continue;
      }
      const value = obj[key];
      const childWhere: Where = { path: `${where.path}.${key}`, topLevel: false, ...(where.datatype ? { datatype: where.datatype } : {}) };
      const kept = Array.isArray(value)
        ? value.map((v) => this.element(v, type, rule, childWhere)).filter((v) => v !== undefined)
        : this.element(value, type, rule, childWhere);
      if (kept === undefined || (Array.isArray(kept) && kept.length === 0)) delete obj[key];
      else obj[key] = kept;
    }
    for (const [key, rule] of replacements) {
      const replaced = this.replace(obj, key, rule);
      if (replaced === undefined) delete obj[key];
      else obj[key] = replaced;
    }
  }

  private element(value: unknown, type: string, rule: PolicyRule | undefined, where: Where): unknown {
    const primitive = PRIMITIVES.has(type);
    if (primitive) {
      // Every primitive type has a rule (checked at load).
      if (rule?.action !== 'keep') return undefined;
      if (rule.pattern === 'result') return typeof value === 'string' && this.resultPattern.test(value) ? value : undefined;
      return value;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const obj = value as Json;
    switch (rule?.action) {
      case 'drop':
        return undefined;
      case 'crypto-hash':
        return this.hashIdentifier(obj);
      default:
        break;
    }
    if (rule?.only === 'known-system' && !this.terminology.knows(obj.system as string | undefined)) return undefined;
    if (rule?.only === 'study-extension' && !(typeof obj.url === 'string' && obj.url.startsWith(`${this.base}/StructureDefinition/`))) return undefined;
    if (typeof obj.resourceType === 'string') {
      this.resource(obj);
    } else {
      const schema = tryGetDataType(type);
      if (!schema) return undefined;
      const datatype = (schema as { kind?: string }).kind === 'complex-type' ? type : undefined;
      this.object(obj, schema, { path: where.path, topLevel: false, ...(datatype ? { datatype } : {}) });
    }
    return prune(obj, type);
  }

  private replace(container: Json, key: string, rule: PolicyRule): unknown {
    switch (rule.with) {
      case 'terminology-display':
        if (key === 'display') return this.terminology.display(container);
        for (const coding of (container.coding as Coding[] | undefined) ?? []) {
          const display = this.terminology.display(coding);
          if (display) return display;
        }
        return undefined;
      case 'ucum-code':
        return container.system === UCUM && typeof container.code === 'string' ? container.code : undefined;
      default:
        return undefined;
    }
  }

  private hashIdentifier(identifier: Json): Json | undefined {
    const system = typeof identifier.system === 'string' ? identifier.system : '';
    const value = typeof identifier.value === 'string' ? identifier.value : undefined;
    if (!value) return undefined;
    if (system.startsWith(`${this.base}/sid/`)) {
      // Assigned by the study (a pseudonym, an earlier hash): not a hospital id.
      return { system, value };
    }
    return { system: this.hashedIdentifierSystem, value: keyedHash(this.key, system, value) };
  }
}

/** Drops what the walk emptied: an empty object, an Extension with neither value nor extensions. */
function prune(obj: Json, type: string): Json | undefined {
  const keys = Object.keys(obj).filter((k) => k !== 'resourceType');
  if (keys.length === 0 && typeof obj.resourceType !== 'string') return undefined;
  if (type === 'Extension' && !keys.some((k) => k.startsWith('value') || k === 'extension')) return undefined;
  return obj;
}
