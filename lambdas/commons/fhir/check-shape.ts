import { tryGetDataType, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { errorIssue } from './issues.js';
import { keyTypes, PRIMITIVES } from './typed-walk.js';

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

interface Frame {
  readonly obj: Record<string, unknown>;
  readonly schema: InternalTypeSchema;
  readonly path: string;
}

/**
 * Finds JSON values of the wrong kind for their FHIR type: a string, number or boolean where a
 * complex type (an object) belongs, an object where a primitive belongs, an array inside an array.
 * Runs before @medplum/core's validator, which walks a string given for a CodeableConcept as an
 * object of one property per character (a 100 kB string made 100,000 issues and took over a minute
 * through the ingest); one issue per misplaced value instead, whatever its length.
 *
 * Iterative (an explicit stack), so input depth never touches the call stack; stops at `maxIssues`.
 * Properties unknown to the schema are left to the validator, which reports each once.
 * @param root - A resource whose types are already indexed.
 * @param maxIssues - Stop after this many issues.
 * @param pruned - When given, each property holding a misplaced value is deleted from `root` (pass a
 *   copy) and its location added here, so that the validator can run on the rest.
 * @returns The issues, at most `maxIssues`.
 */
export function checkShape(root: Resource, maxIssues: number, pruned?: string[]): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const rootSchema = tryGetDataType(root.resourceType);
  if (!rootSchema) return issues;
  const stack: Frame[] = [{ obj: root as unknown as Record<string, unknown>, schema: rootSchema, path: root.resourceType }];
  const visit = (value: unknown, type: string, path: string): void => {
    if (PRIMITIVES.has(type)) {
      if (typeof value === 'object' && value !== null) {
        issues.push(errorIssue('structure', `Expected a primitive ${type}, found ${jsonKind(value)}`, path));
      }
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      // null is the validator's to report (it has its own rule for nulls in arrays).
      if (value !== null) issues.push(errorIssue('structure', `Expected ${type} (a JSON object), found ${jsonKind(value)}`, path));
      return;
    }
    const obj = value as Record<string, unknown>;
    const schema = typeof obj.resourceType === 'string' ? tryGetDataType(obj.resourceType) : tryGetDataType(type);
    if (schema) stack.push({ obj, schema, path });
  };
  while (stack.length > 0 && issues.length < maxIssues) {
    const { obj, schema, path } = stack.pop() as Frame;
    const types = keyTypes(schema);
    for (const key of Object.keys(obj)) {
      if (issues.length >= maxIssues) break;
      if (key === 'resourceType') continue;
      const extension = key.startsWith('_');
      const type = extension ? (types.has(key.slice(1)) ? 'Element' : undefined) : types.get(key);
      if (!type) continue;
      const value = obj[key];
      const childPath = `${path}.${key}`;
      const found = issues.length;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length && issues.length < maxIssues; i++) {
          const item: unknown = value[i];
          if (Array.isArray(item)) {
            issues.push(errorIssue('structure', 'An array inside an array', `${childPath}[${i}]`));
          } else if (!(extension && item === null)) {
            visit(item, type, `${childPath}[${i}]`);
          }
        }
      } else {
        visit(value, type, childPath);
      }
      if (pruned && issues.length > found) {
        delete obj[key];
        pruned.push(childPath);
      }
    }
  }
  return issues;
}
