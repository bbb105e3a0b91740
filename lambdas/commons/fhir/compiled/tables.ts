import { join } from 'node:path';

/*
 * The shape of what scripts/build-validators.ts generates under fhir-profiles/generated/validators/ and
 * the compiled walk reads: shared by the generator (build time) and the loader (run time).
 */

/** Where the compiled validators are, relative to the conformance directory (fhir-profiles/). */
export const VALIDATORS_DIR = join('generated', 'validators');

/** The module holding every datatype (and the datatypes' backbone elements). */
export const DATATYPES_MODULE = 'datatypes';

/** The numbered R4 invariants the tables point at. */
export const CONSTRAINTS_FILE = 'constraints.json';

/**
 * Invariants that @medplum/core's validator skips, skipped here too so that the verdicts stay today's:
 * ele-1 (the walk's own non-empty checks say it per value), dom-3 (check-contained.ts says it without
 * `descendants()`), org-1 (backwards compatibility), sdf-19.
 */
export const SKIPPED_CONSTRAINTS: ReadonlySet<string> = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);

/** One R4 invariant of severity error: key, FHIRPath expression, human description. */
export type ConstraintRow = [key: string, expression: string, human: string];

/**
 * What a JSON key of a type holds: the schema definition of its values (`*` for a resource, null for a
 * primitive), its FHIR type code (as FHIRPath and the project's checks name it), and the invariants to
 * evaluate on each value present (indexes into constraints.json).
 */
export type KeyInfo = [child: string | null, type: string, constraints: number[]];

/** The walk's table for one schema definition (a resource, a datatype or a backbone element). */
export interface TypeTable {
  /** Every JSON key the definition allows, `_` partners and expanded choices included. */
  readonly keys: Record<string, KeyInfo>;
  /** Elements of minimum cardinality 1 or more, each with the JSON keys that may carry it. */
  readonly required: [element: string, keys: string[]][];
  /** A resource's own invariants (dom-2, obs-6, bdl-7...), evaluated on the resource being validated. */
  readonly root?: number[];
}
