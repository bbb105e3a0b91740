import { normalizeOperationOutcome, OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { checkBundle } from './check-bundle.js';
import { checkContainedReferenced } from './check-contained.js';
import { checkNotEmpty } from './check-empty.js';
import { checkIntegerRange } from './check-integer.js';
import { checkNarrativeDiv } from './check-narrative.js';
import { checkPeriod } from './check-period.js';
import { checkResourceId } from './check-resource-id.js';
import { checkShape } from './check-shape.js';
import { checkValue } from './check-values.js';
import { checkVitalSignCode } from './check-vital-signs.js';
import { limits } from '../limits.js';
import { ensureDefinitions, resourceTypeNames } from './definitions.js';
import { isBlocking } from './issues.js';
import { collectResourceTypes, walkResource } from './typed-walk.js';
import { validateCompiled } from './compiled/validate-compiled.js';

const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt']);

/** How strict base validation is where the HL7 validator applies a profile that base R4 mandates. */
export interface ValidateBaseOptions {
  /**
   * Severity of a vital-signs Observation that misses the R4 vital-signs profile's LOINC code (Synthea
   * codes blood pressure 55284-4 without 85354-9). `error` agrees with the HL7 validator; the ingest
   * uses `warning`, as it re-profiles what it keeps and drops the rest, and an EHR export must not fail
   * whole for it.
   */
  readonly vitalSignsProfile?: 'error' | 'warning';
  /** Validation stops after this many issues (default: the MAX_ISSUES limit). */
  readonly maxIssues?: number;
}

/** Thrown inside the walk to stop it once enough issues are found. */
class EnoughIssues extends Error {}
const STOP = new EnoughIssues('enough issues');

/**
 * Cuts a list of issues at `max` and says so, so that a sender knows more may follow.
 * @param issues - All issues found.
 * @param max - How many to keep.
 * @returns At most `max` issues, plus one issue saying that validation stopped when the cap was reached.
 */
export function capIssues(issues: OperationOutcomeIssue[], max: number): OperationOutcomeIssue[] {
  if (issues.length < max) return issues;
  const kept = issues.slice(0, max);
  // An error when errors were found, so that callers who keep only blocking issues still say it stopped.
  const severity = kept.some(isBlocking) ? 'error' : 'warning';
  // Located where the last kept issue is, so that a batch reports it with that entry's issues.
  const where = kept.at(-1)?.expression;
  return [...kept, { severity, code: 'too-costly', details: { text: `Validation stopped after ${max} issues (MAX_ISSUES)` }, ...(where ? { expression: where } : {}) }];
}

/**
 * The checks the HL7 validator makes against base R4 that @medplum/core's validator does not, in one
 * typed walk over the resource.
 * @param resource - A resource whose types are already indexed.
 * @param options - Strictness.
 * @returns Issues found.
 */
export function extraBaseChecks(resource: Resource, options: ValidateBaseOptions = {}): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const max = options.maxIssues ?? limits().MAX_ISSUES;
  const types = resourceTypeNames();
  const add = (found: readonly OperationOutcomeIssue[]): void => {
    for (const issue of found) {
      issues.push(issue);
      if (issues.length >= max) throw STOP;
    }
  };
  try {
    walk(resource, add, types, options);
  } catch (err) {
    if (err !== STOP) throw err;
  }
  return issues.slice(0, max);
}

function walk(
  resource: Resource,
  add: (found: readonly OperationOutcomeIssue[]) => void,
  types: ReturnType<typeof resourceTypeNames>,
  options: ValidateBaseOptions,
): void {
  walkResource(resource, {
    resource(r, path) {
      add([...checkResourceId(r, path), ...checkContainedReferenced(r, path)]);
      if (r.resourceType === 'Bundle') {
        add(checkBundle(r, path, types));
      } else if (r.resourceType === 'Observation') {
        const vital = checkVitalSignCode(r, path);
        add(options.vitalSignsProfile === 'warning' ? vital.map((i) => ({ ...i, severity: 'warning' as const })) : vital);
      }
    },
    value(walked) {
      const { value, type, path } = walked;
      add([...checkNotEmpty(value, path), ...checkValue(walked)]);
      if (Array.isArray(value)) {
        return;
      }
      if (type === 'Period' && typeof value === 'object' && value !== null) {
        add(checkPeriod(value, path));
      } else if (type === 'xhtml') {
        add(checkNarrativeDiv(value, path));
      } else if (INTEGER_TYPES.has(type)) {
        add(checkIntegerRange(value, path));
      }
    },
  });
}

/**
 * Validates a resource (Bundles and contained resources included) against base FHIR R4, with no
 * profiles and no terminology server, so that the verdict agrees with the HL7 Java validator: the
 * compiled validators of fhir-profiles/generated/validators (ajv standalone code from the R4 JSON
 * schema, the R4 invariants and the project's checks in one walk, see compiled/validate-compiled.ts).
 * A resource they reject is explained by {@link validateBaseReference} (@medplum/core's validator and
 * {@link extraBaseChecks}), whose issues say more; the verdict stays the compiled one.
 *
 * @example
 * const issues = validateBase(parseFhirJson(body));
 * if (issues.some(isBlocking)) throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
 *
 * @param resource - The parsed resource (see parseFhirJson).
 * @param options - Strictness (default: as the HL7 validator).
 * @returns All issues; the resource is valid when none has severity error or fatal.
 */
export function validateBase(resource: Resource, options: ValidateBaseOptions = {}): OperationOutcomeIssue[] {
  const max = options.maxIssues ?? limits().MAX_ISSUES;
  const compiled = validateCompiled(resource, { ...options, maxIssues: max });
  if (!compiled.some(isBlocking)) {
    return capIssues(compiled, max);
  }
  const explained = validateBaseReference(resource, options);
  // Both reject (every public file and validator case so far): the reference's words. Should the
  // compiled rules ever be stricter, their errors stand, so that the verdict does not depend on the explainer.
  return explained.some(isBlocking) ? explained : capIssues([...explained, ...compiled.filter(isBlocking)], max);
}

/**
 * The validation as it was before the compiled validators: @medplum/core's validateResource plus the
 * checks in {@link extraBaseChecks}. Used to explain a rejection, and as the baseline that the compiled
 * validators are compared with (test/lambdas/commons/fhir/compiled-agreement.test.ts, bench).
 * @param resource - The parsed resource.
 * @param options - Strictness.
 * @returns All issues.
 */
export function validateBaseReference(resource: Resource, options: ValidateBaseOptions = {}): OperationOutcomeIssue[] {
  ensureDefinitions(collectResourceTypes(resource));
  const max = options.maxIssues ?? limits().MAX_ISSUES;
  // Values of the wrong JSON kind first: the validator below does per-character work on them. It then
  // runs on a copy without them, so that the other resources' problems are still found.
  let shape = checkShape(resource, max);
  if (shape.length >= max) {
    // Too many to go on; the ids still, first: later steps key the store and identity table on them.
    const ids: OperationOutcomeIssue[] = [];
    walkResource(resource, { resource: (r, path) => void ids.push(...checkResourceId(r, path)) });
    return capIssues([...ids.slice(0, max), ...shape], max);
  }
  const pruned: string[] = [];
  let target = resource;
  if (shape.length > 0) {
    target = structuredClone(resource);
    shape = checkShape(target, max, pruned);
  }
  let issues: OperationOutcomeIssue[];
  try {
    issues = validateResource(target);
  } catch (err) {
    // validateResource throws once it has found an error; the outcome carries all its issues.
    issues = err instanceof OperationOutcomeError ? [...(err.outcome.issue ?? [])] : [...(normalizeOperationOutcome(err).issue ?? [])];
  }
  // What the validator says of a pruned property ("missing required") the shape issue already said.
  if (pruned.length > 0) {
    const about = (i: OperationOutcomeIssue, p: string): boolean => {
      const at = i.expression?.[0] ?? '';
      return at === p || at.startsWith(`${p}.`) || at.startsWith(`${p}[`);
    };
    issues = [...shape, ...issues.slice(0, 4 * max).filter((i) => !pruned.some((p) => about(i, p)))];
  }
  // Only errors count against the bound here: @medplum/core's warnings (a reference's target type) once
  // filled MAX_ISSUES before these checks ran, and a Synthea bundle with 100 warnings passed unchecked.
  const errors = issues.filter(isBlocking).length;
  try {
    if (errors < max) issues.push(...extraBaseChecks(target, { ...options, maxIssues: max - errors }));
  } catch (err) {
    issues.push(...(normalizeOperationOutcome(err).issue ?? []));
  }
  // Errors first when the list is cut, so that the cut never turns a rejection into an acceptance.
  return capIssues(issues.length > max ? [...issues.filter(isBlocking), ...issues.filter((i) => !isBlocking(i))] : issues, max);
}
