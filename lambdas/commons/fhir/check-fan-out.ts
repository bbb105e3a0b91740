import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Limits } from '../limits.js';

/** The limits this check applies. */
export type FanOutLimits = Pick<
  Limits,
  'MAX_ARRAY_ITEMS' | 'MAX_CODINGS_PER_RESOURCE' | 'MAX_IDENTIFIERS_PER_RESOURCE' | 'MAX_COMPONENTS_PER_RESOURCE' | 'MAX_INDEX_FANOUT_PER_REQUEST'
>;

/** Repeating elements whose items each become store index items or repeat costly work. */
const COUNTED = { coding: 'MAX_CODINGS_PER_RESOURCE', identifier: 'MAX_IDENTIFIERS_PER_RESOURCE', component: 'MAX_COMPONENTS_PER_RESOURCE' } as const;

interface Counts {
  coding: number;
  identifier: number;
  component: number;
}

interface Frame {
  readonly value: unknown;
  readonly path: string;
  readonly counts: Counts;
  readonly resourcePath: string;
}

/**
 * 422 for one resource over a per-resource limit; the outcome names the limit, never the values.
 * @param limit - The limit's configuration name.
 * @param max - Its value.
 * @param found - What the resource holds.
 * @param where - The resource's or element's location.
 * @returns The outcome.
 */
export function resourceTooCostly(limit: keyof Limits, max: number, found: string, where: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    id: 'too-costly-resource',
    issue: [{ severity: 'error', code: 'too-costly', details: { text: `${found} exceeds ${limit} (${max})` }, expression: [where] }],
  };
}

/**
 * 413 for a request over a per-request limit.
 * @param limit - The limit's configuration name.
 * @param max - Its value.
 * @param found - What the request holds.
 * @returns The outcome.
 */
export function requestTooCostly(limit: keyof Limits, max: number, found: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    id: 'too-costly-request',
    issue: [{ severity: 'error', code: 'too-costly', details: { text: `${found} exceeds ${limit} (${max})` } }],
  };
}

/**
 * Refuses a parsed body whose repeated elements would cost far more than its size suggests: any
 * repeating element longer than MAX_ARRAY_ITEMS (Bundle.entry excepted: MAX_ENTRIES bounds it), a
 * resource with more codings, identifiers or components than its limit, or a request whose codings
 * and identifiers together (the index items its commit writes) exceed MAX_INDEX_FANOUT_PER_REQUEST.
 * An Observation with 100,000 codings once wrote 200,000 index items and answered 500 while it kept
 * committing. Schema-free and iterative: one pass over the parsed JSON, before validation.
 * @param root - The parsed body.
 * @param limits - The limits.
 * @throws OperationOutcomeError: 422 (`too-costly-resource`) or 413 (`too-costly-request`).
 */
export function checkFanOut(root: unknown, limits: FanOutLimits): void {
  let requestTotal = 0;
  const fresh = (): Counts => ({ coding: 0, identifier: 0, component: 0 });
  const stack: Frame[] = [{ value: root, path: '', counts: fresh(), resourcePath: '' }];
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    const { value } = frame;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    const obj = value as Record<string, unknown>;
    const isResource = typeof obj.resourceType === 'string';
    const path = frame.path || (isResource ? (obj.resourceType as string) : '$');
    const counts = isResource ? fresh() : frame.counts;
    const resourcePath = isResource ? path : frame.resourcePath;
    for (const key of Object.keys(obj)) {
      const child = obj[key];
      if (typeof child !== 'object' || child === null) continue;
      const childPath = `${path}.${key}`;
      if (Array.isArray(child)) {
        if (child.length > limits.MAX_ARRAY_ITEMS && !(key === 'entry' && obj.resourceType === 'Bundle')) {
          throw new OperationOutcomeError(resourceTooCostly('MAX_ARRAY_ITEMS', limits.MAX_ARRAY_ITEMS, `${child.length} items`, childPath));
        }
        if (key in COUNTED) {
          const name = key as keyof Counts;
          counts[name] += child.length;
          const limit = COUNTED[name];
          if (counts[name] > limits[limit]) {
            throw new OperationOutcomeError(resourceTooCostly(limit, limits[limit], `${counts[name]} ${key} items in one resource`, resourcePath || path));
          }
          if (name !== 'component') {
            requestTotal += child.length;
            if (requestTotal > limits.MAX_INDEX_FANOUT_PER_REQUEST) {
              throw new OperationOutcomeError(
                requestTooCostly('MAX_INDEX_FANOUT_PER_REQUEST', limits.MAX_INDEX_FANOUT_PER_REQUEST, `${requestTotal} codings and identifiers`),
              );
            }
          }
        }
        for (let i = child.length - 1; i >= 0; i--) {
          const item: unknown = child[i];
          if (typeof item === 'object' && item !== null) stack.push({ value: item, path: `${childPath}[${i}]`, counts, resourcePath });
        }
      } else {
        stack.push({ value: child, path: childPath, counts, resourcePath });
      }
    }
  }
}
