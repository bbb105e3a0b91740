import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONSTRAINTS_FILE, DATATYPES_MODULE, VALIDATORS_DIR, type ConstraintRow, type TypeTable } from './tables.js';

/*
 * Loads the compiled validators of fhir-profiles/generated/validators/ on first use of a type: the
 * datatypes module once, a resource type's module when a resource of that type is first met. They are
 * CommonJS files read with require(), so that loading stays synchronous inside the validation walk and
 * works the same from the source tree, the tests and a bundled Lambda in an empty folder (which finds
 * them under FHIR_PROFILES_DIR, like the per-type definitions).
 */

/** An ajv standalone validator: true when valid, else its first error in `errors`. */
export interface CompiledValidator {
  (data: unknown): boolean;
  errors?: { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }[] | null;
}

/** One loaded module: a validator and a table per definition it holds. */
export interface ValidatorModule {
  readonly validators: Readonly<Record<string, CompiledValidator>>;
  readonly tables: Readonly<Record<string, TypeTable>>;
}

/** fhir-profiles/ of this repository, relative to this module; a bundled Lambda sets FHIR_PROFILES_DIR. */
const DEFAULT_PROFILES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'fhir-profiles');

function validatorsDir(): string {
  return join(process.env.FHIR_PROFILES_DIR ?? DEFAULT_PROFILES_DIR, VALIDATORS_DIR);
}

const requireHere = createRequire(import.meta.url);
const modules = new Map<string, ValidatorModule | undefined>();
let constraints: readonly ConstraintRow[] | undefined;

/** Timings of the loading done so far, for cold-start reports. */
export const compiledLoadStats = { modules: 0, ms: 0 };

function load(name: string): ValidatorModule | undefined {
  if (modules.has(name)) return modules.get(name);
  const start = performance.now();
  const file = join(validatorsDir(), `${name}.cjs`);
  let loaded: ValidatorModule | undefined;
  // Only names of the generated files are ever loaded (see moduleFor): never a path built from input alone.
  if (existsSync(file)) {
    const exports = requireHere(file) as Record<string, CompiledValidator> & { tables: Record<string, TypeTable> };
    const { tables, ...validators } = exports;
    loaded = { validators, tables };
    compiledLoadStats.modules++;
  }
  modules.set(name, loaded);
  compiledLoadStats.ms += performance.now() - start;
  return loaded;
}

/**
 * The module that holds a schema definition: a resource type's (`Observation`, `Observation_Component`)
 * or the datatypes' (`Period`, `Timing_Repeat`).
 * @param definition - A definition name from a table, or a resource type met in the input.
 * @param resourceTypes - The R4 resource type names.
 * @returns The module, or undefined for an unknown type.
 */
export function moduleFor(definition: string, resourceTypes: ReadonlySet<string>): ValidatorModule | undefined {
  if (byDefinition.has(definition)) return byDefinition.get(definition);
  const found = findModule(definition, resourceTypes);
  byDefinition.set(definition, found);
  return found;
}

const byDefinition = new Map<string, ValidatorModule | undefined>();

function findModule(definition: string, resourceTypes: ReadonlySet<string>): ValidatorModule | undefined {
  const owner = definition.split('_')[0] ?? definition;
  if (resourceTypes.has(owner)) {
    const module = load(owner);
    if (module?.tables[definition]) return module;
  }
  const datatypes = load(DATATYPES_MODULE);
  return datatypes?.tables[definition] ? datatypes : undefined;
}

/**
 * The numbered R4 invariants the tables point at, read once.
 * @returns The rows.
 */
export function constraintRows(): readonly ConstraintRow[] {
  constraints ??= JSON.parse(readFileSync(join(validatorsDir(), CONSTRAINTS_FILE), 'utf8')) as ConstraintRow[];
  return constraints;
}
