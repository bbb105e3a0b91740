import { evalFhirPathTyped, parseFhirPath, toTypedValue, UCUM } from '@medplum/core';
import type { TypedValue } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { constraintRows } from './load.js';

type FhirPathAtom = ReturnType<typeof parseFhirPath>;
type Json = Record<string, unknown>;

/*
 * The R4 invariants (StructureDefinition constraints of severity error), evaluated as @medplum/core's
 * validator evaluates them (same engine, same variables, first failing invariant per value), but only
 * on values present, with each expression parsed once per process.
 */

const atoms = new Map<number, FhirPathAtom>();
const UCUM_VALUE = toTypedValue(UCUM);

/**
 * Invariants implemented natively, where the FHIRPath form costs more than the check: bdl-7 is
 * `entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()`, whose
 * `isDistinct()` compares every pair of entries (a 1,000-entry Bundle: half a million comparisons).
 * Same result: `&` reads a missing versionId as ''.
 */
const NATIVE: Record<string, (value: unknown) => boolean> = {
  // bdl-3 and bdl-4 (`entry.all(request.exists() = (%resource.type = 'batch' or ...))`) cost 15-20 µs per
  // entry through FHIRPath, before any bound applies; %resource is the Bundle itself, as only the root's
  // own invariants are evaluated.
  'bdl-3': (value) => everyEntry(value, 'request', ['batch', 'transaction', 'history']),
  'bdl-4': (value) => everyEntry(value, 'response', ['batch-response', 'transaction-response', 'history']),
  'bdl-7': (value) => {
    const bundle = value as Json;
    if (bundle.type === 'history' || !Array.isArray(bundle.entry)) return true;
    const seen = new Set<string>();
    for (const entry of bundle.entry as Json[]) {
      const fullUrl = entry?.fullUrl;
      if (typeof fullUrl !== 'string') continue;
      const meta = (entry.resource as Json | undefined)?.meta as Json | undefined;
      const key = `${fullUrl}\u0000${typeof meta?.versionId === 'string' ? meta.versionId : ''}`;
      if (seen.has(key)) return false;
      seen.add(key);
    }
    return true;
  },
};

/** Whether each entry has `key` exactly when the Bundle's type is one of `types`. */
function everyEntry(value: unknown, key: string, types: readonly string[]): boolean {
  const bundle = value as Json;
  if (!Array.isArray(bundle.entry)) return true;
  const wanted = typeof bundle.type === 'string' && types.includes(bundle.type);
  for (const entry of bundle.entry as unknown[]) {
    const has = typeof entry === 'object' && entry !== null && (entry as Json)[key] !== undefined && (entry as Json)[key] !== null;
    if (has !== wanted) return false;
  }
  return true;
}

/** What an invariant sees besides its own value: the resource it is in and the one being validated. */
export interface InvariantScope {
  /** The nearest enclosing resource, typed (FHIRPath `%resource`). */
  readonly resource: () => TypedValue;
  /** The resource being validated (FHIRPath `%rootResource`). */
  readonly rootResource: TypedValue;
}

/**
 * Evaluates invariants on one value and reports the first that fails (as @medplum/core does).
 * @param ids - Indexes into constraints.json.
 * @param typed - The value with its FHIR type.
 * @param path - Its location.
 * @param scope - `%resource` and `%rootResource`.
 * @returns At most one issue.
 */
export function checkInvariants(ids: readonly number[], typed: TypedValue, path: string, scope: InvariantScope): OperationOutcomeIssue | undefined {
  const rows = constraintRows();
  for (const id of ids) {
    const row = rows[id];
    if (!row) continue;
    const [key, expression, human] = row;
    const native = NATIVE[key];
    let holds: boolean;
    if (native) {
      holds = native(typed.value);
    } else {
      let atom = atoms.get(id);
      if (!atom) {
        atom = parseFhirPath(expression);
        atoms.set(id, atom);
      }
      try {
        const variables: Record<string, TypedValue> = { '%context': typed, '%ucum': UCUM_VALUE, '%resource': scope.resource(), '%rootResource': scope.rootResource };
        const result = evalFhirPathTyped(atom, [typed], variables);
        holds = result.length === 1 && result[0]?.value === true;
      } catch (err) {
        return { severity: 'error', code: 'invariant', details: { text: `Constraint ${key} could not be evaluated: ${(err as Error).message}` }, expression: [path] };
      }
    }
    if (!holds) {
      return { severity: 'error', code: 'invariant', details: { text: `Constraint ${key} not met: ${human}` }, expression: [path] };
    }
  }
  return undefined;
}
