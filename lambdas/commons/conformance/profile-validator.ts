import { evalFhirPathTyped, parseFhirPath, toTypedValue } from '@medplum/core';
import type { Coding, ElementDefinition, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';

/** What the validator needs from the loaded conformance resources. */
export interface ProfileSources {
  /** A study StructureDefinition by canonical URL. */
  structureDefinition(url: string): StructureDefinition | undefined;
  /** ValueSet membership. */
  inValueSet(valueSetUrl: string, coding: Coding): boolean;
}

interface Segment {
  readonly name: string;
  /** For an extension slice: the extension URL the slice holds. */
  readonly sliceUrl?: string;
}

interface Rule {
  readonly id: string;
  readonly segments: readonly Segment[];
  readonly element: ElementDefinition;
}

interface CompiledProfile {
  readonly rules: readonly Rule[];
  /** The study profile this one is derived from, checked too. */
  readonly parent?: string;
}

interface Node {
  readonly value: unknown;
  /** FHIR type of a choice value (from its JSON key), e.g. `Quantity`, `boolean`. */
  readonly type?: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a resource against the differentials of a study profile and its study ancestors: cardinality,
 * choice-type restrictions, fixed and pattern values, required bindings and FHIRPath constraints, on
 * any depth (backbone children and extension values included). Together with medplum's base-R4
 * validation this covers what `validateResource(r, { profile })` skips (value[x] types, bindings,
 * backbone children) and avoids its re-parsing of the profile on every call: profiles are compiled
 * once and cached here.
 */
export class ProfileValidator {
  private readonly compiled = new Map<string, CompiledProfile>();

  /** @param sources - Profiles and terminology. */
  public constructor(private readonly sources: ProfileSources) {}

  /**
   * Validates a resource against a profile.
   * @param resource - The resource.
   * @param profileUrl - A study profile's canonical URL.
   * @returns Issues; empty when the resource conforms.
   */
  public validate(resource: Resource, profileUrl: string): OperationOutcomeIssue[] {
    const issues: OperationOutcomeIssue[] = [];
    const sd = this.sources.structureDefinition(profileUrl);
    if (!sd) {
      return [issue('not-found', `Unknown profile ${profileUrl}`, resource.resourceType)];
    }
    if (sd.type !== resource.resourceType) {
      return [issue('structure', `Profile ${profileUrl} is for ${sd.type ?? '?'}, not ${resource.resourceType}`, resource.resourceType)];
    }
    this.check({ value: resource, type: resource.resourceType }, profileUrl, resource, resource.resourceType, issues);
    return issues;
  }

  private check(root: Node, profileUrl: string, resource: Resource, rootPath: string, issues: OperationOutcomeIssue[]): void {
    for (let url: string | undefined = profileUrl, depth = 0; url && depth < 10; depth++) {
      const profile = this.compile(url);
      if (!profile) {
        return;
      }
      for (const rule of profile.rules) {
        this.checkRule(root, rule, resource, rootPath, issues);
      }
      url = profile.parent;
    }
  }

  private compile(url: string): CompiledProfile | undefined {
    const cached = this.compiled.get(url);
    if (cached) {
      return cached;
    }
    const sd = this.sources.structureDefinition(url);
    if (!sd) {
      return undefined;
    }
    const elements = sd.differential?.element ?? [];
    const sliceUrls = new Map<string, string>();
    for (const e of elements) {
      const extensionUrl = e.type?.[0]?.profile?.[0];
      if (e.sliceName && e.id && extensionUrl) {
        sliceUrls.set(e.id, extensionUrl);
      }
    }
    const rules = elements
      .filter((e) => e.id)
      .map((element): Rule => {
        const id = element.id as string;
        const parts = id.split('.').slice(1);
        const segments = parts.map((part, i): Segment => {
          const [name = part] = part.split(':');
          const sliceId = [id.split('.')[0], ...parts.slice(0, i + 1)].join('.');
          const sliceUrl = part.includes(':') ? sliceUrls.get(sliceId) : undefined;
          return sliceUrl ? { name, sliceUrl } : { name };
        });
        return { id, segments, element };
      });
    const base = sd.baseDefinition;
    const compiled: CompiledProfile = base && this.sources.structureDefinition(base) ? { rules, parent: base } : { rules };
    this.compiled.set(url, compiled);
    return compiled;
  }

  private checkRule(root: Node, rule: Rule, resource: Resource, rootPath: string, issues: OperationOutcomeIssue[]): void {
    const { element, segments } = rule;
    const path = rootPath + rule.id.slice(rule.id.indexOf('.') < 0 ? rule.id.length : rule.id.indexOf('.'));
    const last = segments[segments.length - 1];
    if (!last) {
      this.checkConstraints([root], element, resource, path, issues);
      return;
    }
    const parents = walk([root], segments.slice(0, -1));
    for (const parent of parents) {
      const nodes = children(parent.value, last);
      const max = element.max === undefined || element.max === '*' ? Infinity : Number(element.max);
      if (element.min !== undefined && nodes.length < element.min) {
        issues.push(issue('required', `Missing required element (at least ${element.min} expected)`, path));
      }
      if (nodes.length > max) {
        issues.push(issue('structure', max === 0 ? 'Element is not allowed in this profile' : `Too many values: at most ${max} allowed`, path));
      }
      if (element.type && last.name.endsWith('[x]')) {
        const allowed = new Set(element.type.map((t) => t.code));
        for (const n of nodes) {
          if (n.type && !allowed.has(n.type)) {
            issues.push(issue('structure', `Type ${n.type} is not allowed; expected ${[...allowed].join(' | ')}`, path));
          }
        }
      }
      for (const n of nodes) {
        this.checkValue(n, element, path, issues);
      }
      this.checkConstraints(nodes, element, resource, path, issues);
      const extensionUrl = last.sliceUrl;
      if (extensionUrl) {
        for (const n of nodes) {
          this.check({ value: n.value, type: 'Extension' }, extensionUrl, resource, path, issues);
        }
      }
    }
  }

  private checkValue(node: Node, element: ElementDefinition, path: string, issues: OperationOutcomeIssue[]): void {
    const record = element as unknown as Json;
    for (const key of Object.keys(record)) {
      if (key.startsWith('fixed') && !deepEqual(node.value, record[key])) {
        issues.push(issue('value', `Value must be exactly ${JSON.stringify(record[key])}`, path));
      } else if (key.startsWith('pattern') && !matchesPattern(node.value, record[key])) {
        issues.push(issue('value', `Value does not match the pattern ${JSON.stringify(record[key])}`, path));
      }
    }
    const binding = element.binding;
    if (binding?.strength === 'required' && binding.valueSet) {
      const codings = codingsOf(node);
      if (codings && !codings.some((c) => this.sources.inValueSet(binding.valueSet as string, c))) {
        const shown = codings.map((c) => `${c.system ?? ''}|${c.code ?? ''}`).join(', ') || '(no code)';
        issues.push(issue('code-invalid', `Code ${shown} is not in the required ValueSet ${binding.valueSet}`, path));
      }
    }
  }

  private checkConstraints(nodes: readonly Node[], element: ElementDefinition, resource: Resource, path: string, issues: OperationOutcomeIssue[]): void {
    for (const c of element.constraint ?? []) {
      if (!c.expression) {
        continue;
      }
      for (const n of nodes) {
        const severity = c.severity === 'warning' ? 'warning' : 'error';
        try {
          const type = n.type ?? element.type?.[0]?.code ?? 'BackboneElement';
          const typedResource = toTypedValue(resource);
          const input = n.value === resource ? typedResource : { type, value: n.value };
          const result = evalFhirPathTyped(parsedExpression(c.expression), [input], {
            resource: typedResource,
            rootResource: typedResource,
          });
          if (!result.every((r) => r.value === true)) {
            issues.push(issue('invariant', `Constraint ${c.key ?? '?'} failed: ${c.human ?? c.expression}`, path, severity));
          }
        } catch (err) {
          issues.push(issue('invariant', `Constraint ${c.key ?? '?'} could not be evaluated: ${(err as Error).message}`, path, severity));
        }
      }
    }
  }
}

/** FHIRPath expressions of the study profiles, parsed once per process (they were parsed on every call). */
const parsedExpressions = new Map<string, ReturnType<typeof parseFhirPath>>();
function parsedExpression(expression: string): ReturnType<typeof parseFhirPath> {
  let atom = parsedExpressions.get(expression);
  if (!atom) {
    atom = parseFhirPath(expression);
    parsedExpressions.set(expression, atom);
  }
  return atom;
}

function issue(code: OperationOutcomeIssue['code'], text: string, expression: string, severity: OperationOutcomeIssue['severity'] = 'error'): OperationOutcomeIssue {
  return { severity, code, details: { text }, expression: [expression] };
}

function walk(nodes: readonly Node[], segments: readonly Segment[]): Node[] {
  let current: Node[] = [...nodes];
  for (const segment of segments) {
    current = current.flatMap((n) => children(n.value, segment));
  }
  return current;
}

/** The values of one element in an object: arrays flattened, choice keys resolved, slices filtered. */
function children(value: unknown, segment: Segment): Node[] {
  if (!isObject(value)) {
    return [];
  }
  const nodes: Node[] = [];
  const push = (v: unknown, type?: string): void => {
    for (const item of Array.isArray(v) ? (v as unknown[]) : [v]) {
      if (item !== undefined && item !== null) {
        nodes.push(type ? { value: item, type } : { value: item });
      }
    }
  };
  if (segment.name.endsWith('[x]')) {
    const prefix = segment.name.slice(0, -3);
    for (const [key, v] of Object.entries(value)) {
      const suffix = key.slice(prefix.length);
      if (key.startsWith(prefix) && /^[A-Z]/.test(suffix)) {
        push(v, choiceType(suffix));
      }
    }
  } else {
    push(value[segment.name]);
  }
  if (segment.sliceUrl) {
    return nodes.filter((n) => isObject(n.value) && n.value.url === segment.sliceUrl);
  }
  return nodes;
}

// JSON keys capitalise the type: valueQuantity → Quantity, valueDateTime → dateTime.
const COMPLEX = /^(Address|Age|Annotation|Attachment|CodeableConcept|Coding|ContactPoint|Count|Distance|Duration|HumanName|Identifier|Money|Period|Quantity|Range|Ratio|Reference|SampledData|Signature|Timing|Meta|Dosage|Expression|ContactDetail|Contributor|DataRequirement|ParameterDefinition|RelatedArtifact|TriggerDefinition|UsageContext)$/;
function choiceType(suffix: string): string {
  return COMPLEX.test(suffix) ? suffix : suffix.charAt(0).toLowerCase() + suffix.slice(1);
}

/** The codings a bound value carries; undefined for values a binding does not apply to. */
function codingsOf(node: Node): Coding[] | undefined {
  const v = node.value;
  if (typeof v === 'string') {
    return [{ code: v }];
  }
  if (!isObject(v)) {
    return undefined;
  }
  if (node.type === 'Quantity' || 'value' in v || 'unit' in v) {
    return [{ system: v.system as string | undefined, code: v.code as string | undefined }];
  }
  if ('coding' in v || 'text' in v) {
    return Array.isArray(v.coding) ? (v.coding as Coding[]) : [];
  }
  if ('code' in v || 'system' in v) {
    return [v];
  }
  return undefined;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** FHIR pattern[x]: every property of the pattern is in the value; each pattern array item matches some value item. */
function matchesPattern(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) {
    return Array.isArray(value) && pattern.every((p) => value.some((v) => matchesPattern(v, p)));
  }
  if (isObject(pattern)) {
    return isObject(value) && Object.entries(pattern).every(([k, p]) => matchesPattern(value[k], p));
  }
  return value === pattern;
}
