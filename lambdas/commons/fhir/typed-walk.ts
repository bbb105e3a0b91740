import { capitalize, tryGetDataType } from '@medplum/core';
import type { InternalTypeSchema } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/** One value met while walking a resource, with its FHIR type and a FHIRPath-like location. */
export interface WalkedValue {
  /** The JSON value (a primitive, an object, or an array for repeating elements). */
  readonly value: unknown;
  /** FHIR type code, e.g. 'Period', 'xhtml', 'integer', or the resource type for resources. */
  readonly type: string;
  /** Location such as `Bundle.entry[0].resource.period`. */
  readonly path: string;
  /** Property name in the parent object. */
  readonly key: string;
  /** The nearest enclosing resource. */
  readonly resource: Resource;
}

/** Callbacks of {@link walkResource}; every one is optional. */
export interface WalkVisitor {
  /** Called for each resource, the root included, before its properties. */
  resource?(resource: Resource, path: string): void;
  /** Called for each property value (arrays once as a whole, then per item). */
  value?(v: WalkedValue): void;
}

/** FHIR primitive type codes: their JSON values are strings, numbers or booleans, never objects. */
export const PRIMITIVES: ReadonlySet<string> = new Set([
  'base64Binary', 'boolean', 'canonical', 'code', 'date', 'dateTime', 'decimal', 'id', 'instant', 'integer',
  'markdown', 'oid', 'positiveInt', 'string', 'time', 'unsignedInt', 'uri', 'url', 'uuid', 'xhtml',
  'http://hl7.org/fhirpath/System.String',
]);

const keyTypeCache = new WeakMap<InternalTypeSchema, Map<string, string>>();

/**
 * Maps each JSON property name of a type to its FHIR type code, expanding choice elements
 * (`value[x]` becomes valueQuantity, valueString, ...).
 * @param schema - The type schema.
 * @returns Property name to type code.
 */
export function keyTypes(schema: InternalTypeSchema): Map<string, string> {
  let map = keyTypeCache.get(schema);
  if (!map) {
    map = new Map();
    for (const [name, element] of Object.entries(schema.elements)) {
      if (name.endsWith('[x]')) {
        const base = name.slice(0, -3);
        for (const t of element.type) {
          map.set(base + capitalize(t.code), t.code);
        }
      } else {
        map.set(name, element.type[0]?.code ?? 'Element');
      }
    }
    keyTypeCache.set(schema, map);
  }
  return map;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Walks a resource guided by the indexed base type schemas, so that checks can act on FHIR types
 * (every Period, every xhtml) rather than on property names. Properties unknown to the schema are
 * skipped: medplum's validator already reports them.
 * @param root - The resource.
 * @param visitor - The callbacks.
 */
export function walkResource(root: Resource, visitor: WalkVisitor): void {
  walkResourceAt(root, root.resourceType, visitor);
}

function walkResourceAt(resource: Resource, path: string, visitor: WalkVisitor): void {
  visitor.resource?.(resource, path);
  const schema = tryGetDataType(resource.resourceType);
  if (schema) {
    walkObject(resource as unknown as Record<string, unknown>, schema, path, resource, visitor);
  }
}

function walkObject(
  obj: Record<string, unknown>,
  schema: InternalTypeSchema,
  path: string,
  resource: Resource,
  visitor: WalkVisitor
): void {
  const types = keyTypes(schema);
  for (const key of Object.keys(obj)) {
    if (key === 'resourceType') {
      continue;
    }
    const isExtensionPart = key.startsWith('_');
    const type = isExtensionPart ? (types.has(key.slice(1)) ? 'Element' : undefined) : types.get(key);
    if (!type) {
      continue;
    }
    const value = obj[key];
    const childPath = `${path}.${key}`;
    visitor.value?.({ value, type, path: childPath, key, resource });
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const itemPath = `${childPath}[${i}]`;
        visitor.value?.({ value: value[i], type, path: itemPath, key, resource });
        walkChild(value[i], type, itemPath, resource, visitor);
      }
    } else {
      walkChild(value, type, childPath, resource, visitor);
    }
  }
}

function walkChild(value: unknown, type: string, path: string, resource: Resource, visitor: WalkVisitor): void {
  if (!isObject(value) || PRIMITIVES.has(type)) {
    return;
  }
  if (typeof value.resourceType === 'string') {
    walkResourceAt(value as unknown as Resource, path, visitor);
    return;
  }
  const schema = tryGetDataType(type);
  if (schema) {
    walkObject(value, schema, path, resource, visitor);
  }
}

/**
 * Collects the resource types present anywhere in a value (root, contained, Bundle entries,
 * Parameters), so that their definitions can be loaded before validation.
 * @param value - A parsed resource.
 * @param out - Set to add to.
 * @returns The same set.
 */
export function collectResourceTypes(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) {
      if (typeof item === 'object' && item !== null) {
        collectResourceTypes(item, out);
      }
    }
  } else if (isObject(value)) {
    if (typeof value.resourceType === 'string') {
      out.add(value.resourceType);
    }
    for (const key in value) {
      const v = value[key];
      // Narrative and other strings hold no resources; skip the type test for them.
      if (typeof v === 'object' && v !== null) {
        collectResourceTypes(v, out);
      }
    }
  }
  return out;
}
