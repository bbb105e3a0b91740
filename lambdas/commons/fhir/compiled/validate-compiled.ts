import { toTypedValue } from '@medplum/core';
import type { TypedValue } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { checkBundle } from '../check-bundle.js';
import { checkContainedReferenced } from '../check-contained.js';
import { checkNotEmpty } from '../check-empty.js';
import { checkIntegerRange } from '../check-integer.js';
import { checkNarrativeDiv } from '../check-narrative.js';
import { checkPeriod } from '../check-period.js';
import { checkResourceId } from '../check-resource-id.js';
import { checkValue } from '../check-values.js';
import { checkVitalSignCode } from '../check-vital-signs.js';
import { resourceTypeNames } from '../definitions.js';
import { errorIssue, isBlocking } from '../issues.js';
import { PRIMITIVES, type WalkedValue } from '../typed-walk.js';
import { checkInvariants, type InvariantScope } from './invariants.js';
import { moduleFor, type CompiledValidator } from './load.js';
import type { KeyInfo } from './tables.js';

type Json = Record<string, unknown>;

/** Options of {@link validateCompiled}: those of validateBase. */
export interface CompiledOptions {
  /** Severity of a vital-signs Observation without the R4 vital-signs profile's LOINC code. */
  readonly vitalSignsProfile?: 'error' | 'warning';
  /** Stop after this many errors (warnings past it are dropped). */
  readonly maxIssues: number;
}

class EnoughIssues extends Error {}
const STOP = new EnoughIssues('enough issues');
const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt']);
/** The primitive types whose string values checkValue reads. */
const VALUE_CHECKED = new Set(['date', 'dateTime', 'instant', 'code']);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `/entry/0/resource` → `.entry[0].resource`, for ajv's instance paths within one object. */
function pointerToPath(pointer: string): string {
  let out = '';
  for (const part of pointer.split('/').slice(1)) {
    const name = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(name) ? `[${name}]` : `.${name}`;
  }
  return out;
}

/** One ajv error as an issue. Ajv's messages name the rule (pattern, type, property), never the value. */
function schemaIssue(validator: CompiledValidator, path: string): OperationOutcomeIssue {
  const error = validator.errors?.[0];
  const at = path + pointerToPath(error?.instancePath ?? '');
  if (error?.keyword === 'additionalProperties') {
    const key = String(error.params.additionalProperty);
    return errorIssue('structure', `Invalid additional property "${key}"`, `${at}.${key}`);
  }
  return errorIssue(error?.keyword === 'pattern' || error?.keyword === 'minimum' ? 'value' : 'structure', `Schema: ${error?.message ?? 'invalid'}`, at);
}

/** The state of one validation: the issues so far, the resources entered, the typed values made. */
class Walk implements InvariantScope {
  public readonly issues: OperationOutcomeIssue[] = [];
  public readonly rootResource: TypedValue;
  private errors = 0;
  private readonly resources: Resource[] = [];
  private readonly typed = new Map<Resource, TypedValue>();
  private readonly resourceTypes = resourceTypeNames();

  public constructor(
    private readonly root: Resource,
    private readonly options: CompiledOptions,
  ) {
    this.rootResource = toTypedValue(root);
    this.typed.set(root, this.rootResource);
  }

  /** FHIRPath `%resource`: the nearest enclosing resource, typed on first use. */
  public resource(): TypedValue {
    const current = this.resources[this.resources.length - 1] ?? this.root;
    let typed = this.typed.get(current);
    if (!typed) {
      typed = toTypedValue(current);
      this.typed.set(current, typed);
    }
    return typed;
  }

  /**
   * Keeps an issue. Only errors stop the walk at the bound: a bundle of a hundred vital-signs warnings
   * (the ingest's strictness) must still have its errors found; warnings past the bound are dropped.
   */
  public add(issue: OperationOutcomeIssue): void {
    if (isBlocking(issue)) {
      this.issues.push(issue);
      if (++this.errors >= this.options.maxIssues) throw STOP;
    } else if (this.issues.length < this.options.maxIssues) {
      this.issues.push(issue);
    }
  }

  public addAll(found: readonly OperationOutcomeIssue[]): void {
    for (const issue of found) this.add(issue);
  }

  /**
   * Runs one of the project's checks. They were written for values of the right JSON kind (the validation
   * as it was pruned the others first); here they may meet any, and a check that throws on one is an error
   * at that place, never a 5xx. The schema has said what is wrong with the value.
   */
  private check(path: string, run: () => readonly OperationOutcomeIssue[]): void {
    let found: readonly OperationOutcomeIssue[];
    try {
      found = run();
    } catch (err) {
      if (err === STOP) throw err;
      found = [errorIssue('structure', 'Value of the wrong shape for its element', path)];
    }
    if (found.length > 0) this.addAll(found);
  }

  public visitResource(resource: Resource, path: string, isRoot: boolean): void {
    const type = (resource as unknown as Json).resourceType;
    if (typeof type !== 'string' || !this.resourceTypes.has(type)) {
      this.add(errorIssue('structure', typeof type === 'string' ? 'Unknown resource type' : 'Missing resource type', isRoot ? path : `${path}.resourceType`));
      return;
    }
    // No R4 definitions are indexed for the invariants: FHIRPath navigates by @medplum/core's built-in
    // schemas (elements and types, which is all it reads), so an accepted body never parses them. Same
    // issues on every public file and on 8,000 broken examples as with the definitions indexed.
    this.resources.push(resource);
    this.check(path, () => checkResourceId(resource, path));
    this.check(path, () => checkContainedReferenced(resource, path));
    if (resource.resourceType === 'Bundle') {
      this.check(path, () => checkBundle(resource, path, this.resourceTypes));
    } else if (resource.resourceType === 'Observation') {
      this.check(path, () => {
        const vital = checkVitalSignCode(resource, path);
        return this.options.vitalSignsProfile === 'warning' ? vital.map((i) => ({ ...i, severity: 'warning' as const })) : vital;
      });
    }
    const table = moduleFor(type, this.resourceTypes)?.tables[type];
    if (isRoot && table?.root) {
      const failed = checkInvariants(table.root, this.rootResource, path, this);
      if (failed) this.add(failed);
    }
    this.visitObject(resource as unknown as Json, type, path, resource);
    this.resources.pop();
  }

  private visitObject(obj: Json, definition: string, path: string, resource: Resource): void {
    const module = moduleFor(definition, this.resourceTypes);
    const table = module?.tables[definition];
    const validator = module?.validators[definition];
    if (!table || !validator) return;
    if (!validator(obj)) this.add(schemaIssue(validator, path));
    const required = table.required;
    for (let i = 0; i < required.length; i++) {
      const [element, keys] = required[i] as [string, string[]];
      if (!present(obj, keys)) this.add(errorIssue('structure', 'Missing required property', `${path}.${element}`));
    }
    for (const key in obj) {
      const info = table.keys[key];
      if (info === undefined) continue; // resourceType, or unknown: the validator said so
      const at = `${path}.${key}`;
      try {
        this.visitValue(obj, key, info, at, resource);
      } catch (err) {
        // The project's checks were written for values of the right JSON kind (the validation as it was
        // pruned the others first); one that throws on a misshapen value is an error there, never a 5xx.
        if (err === STOP) throw err;
        this.add(errorIssue('structure', 'Value of the wrong shape for its element', at));
      }
    }
  }

  private visitValue(parent: Json, key: string, info: KeyInfo, path: string, resource: Resource): void {
    const value = parent[key];
    this.checkPresent(value, key, info[1], path, resource);
    if (!Array.isArray(value)) {
      this.visitItem(value, info, path, resource);
      return;
    }
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const at = `${path}[${i}]`;
      if (item === null) {
        // The one null FHIR JSON allows: a primitive array item whose extension (or value) is in the partner.
        const partner = parent[key.startsWith('_') ? key.slice(1) : `_${key}`];
        if (!(Array.isArray(partner) && partner[i] !== null && partner[i] !== undefined)) this.add(errorIssue('structure', 'Invalid null value', at));
        continue;
      }
      this.checkPresent(item, key, info[1], at, resource);
      this.visitItem(item, info, at, resource);
    }
  }

  /** The project's checks of one value (an array once as a whole, then each item), as validate-base.ts's walk makes them. */
  private checkPresent(value: unknown, key: string, type: string, path: string, resource: Resource): void {
    if (typeof value === 'object' && value !== null) {
      // checkValue has nothing to say of objects and arrays.
      if (Array.isArray(value) ? value.length === 0 : isEmptyObject(value)) this.addAll(checkNotEmpty(value, path));
      return;
    }
    if (value === '') this.addAll(checkNotEmpty(value, path));
    // What checkValue looks at: calendar dates, core required codes, a primitive where an object belongs.
    if (typeof value === 'string' ? VALUE_CHECKED.has(type) || !PRIMITIVES.has(type) : !PRIMITIVES.has(type) && type !== 'Element') {
      const walked: WalkedValue = { value, type, path, key, resource };
      const found = checkValue(walked);
      if (found.length > 0) this.addAll(found);
    }
  }

  private visitItem(value: unknown, info: KeyInfo, path: string, resource: Resource): void {
    const [child, type, invariants] = info;
    if (type === 'Period') {
      if (isObject(value)) this.addAll(checkPeriod(value, path));
    } else if (type === 'xhtml') {
      this.addAll(checkNarrativeDiv(value, path));
    } else if (INTEGER_TYPES.has(type)) {
      this.addAll(checkIntegerRange(value, path));
    }
    if (invariants.length > 0 && value !== null && value !== undefined) {
      const failed = checkInvariants(invariants, { type: child === '*' && isObject(value) ? String(value.resourceType) : type, value }, path, this);
      if (failed) this.add(failed);
    }
    if (child === null || !isObject(value)) return;
    if (child === '*') {
      this.visitResource(value as unknown as Resource, path, false);
    } else {
      this.visitObject(value, child, path, resource);
    }
  }
}

function present(obj: Json, keys: readonly string[]): boolean {
  for (const k of keys) {
    const v = obj[k];
    if (v !== undefined && v !== null) return true;
  }
  return false;
}

function isEmptyObject(value: object): boolean {
  for (const _ in value) return false;
  return true;
}

/**
 * Validates a resource (Bundles and contained resources included) against base R4 in one walk over the
 * values present: per object, its type's compiled ajv validator (unknown properties, JSON kinds,
 * primitive formats, arrays); per element, minimum cardinality and the R4 invariants of severity error
 * (on the resource being validated, its own invariants too), parsed once; per value, the project's
 * checks of validate-base.ts (ids, Bundle rules, empty values, periods, narrative, integer ranges,
 * calendar dates, core required codes, vital signs). Stops after `maxIssues`.
 * @param root - The parsed resource.
 * @param options - Strictness and the issue bound.
 * @returns The issues found; the resource is valid when none is blocking.
 */
export function validateCompiled(root: Resource, options: CompiledOptions): OperationOutcomeIssue[] {
  const walk = new Walk(root, options);
  try {
    walk.visitResource(root, root.resourceType, true);
  } catch (err) {
    if (err !== STOP) throw err;
  }
  // Errors first, so that a cut keeps the verdict.
  const { issues } = walk;
  return issues.length > options.maxIssues ? [...issues.filter(isBlocking), ...issues.filter((i) => !isBlocking(i))].slice(0, options.maxIssues) : issues;
}
