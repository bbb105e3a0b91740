/**
 * What an API request was, in the terms of FHIR's RESTful interactions and BALP's actions, read from
 * its method and path alone: the edge classifies every route the same way, including routes added
 * later (an operation, a Subscription create, a Bulk Data kick-off) without their handler knowing.
 */

/** FHIR R4 restful-interaction codes (http://hl7.org/fhir/restful-interaction). */
export type RestInteraction =
  | 'read'
  | 'vread'
  | 'update'
  | 'patch'
  | 'delete'
  | 'history-instance'
  | 'history-type'
  | 'history-system'
  | 'create'
  | 'search-type'
  | 'search-system'
  | 'batch'
  | 'transaction'
  | 'operation'
  | 'capabilities';

/** AuditEvent.action (FHIR R4 audit-event-action): create, read, update, delete, execute. */
export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';

/** A classified request. */
export interface Classified {
  readonly interaction: RestInteraction;
  readonly action: AuditAction;
  /** The resource type the path names, if any. */
  readonly resourceType?: string;
  /** The instance the path names, if any. */
  readonly id?: string;
  readonly versionId?: string;
  /** `$name` of an operation. */
  readonly operation?: string;
}

const TYPE = /^[A-Z][A-Za-z]+$/;

/** Operations that only return data: a read in BALP's terms, not an execute. */
const READ_OPERATIONS: ReadonlySet<string> = new Set(['$everything', '$hospital-identity', '$status', '$events']);

/**
 * Classifies a request.
 * @param method - HTTP method.
 * @param path - Path below the FHIR base, starting with `/`.
 * @param responseBundleType - `Bundle.type` of the answer when the edge saw one (tells a batch from a transaction).
 * @returns The interaction, the action and what the path names.
 */
export function classify(method: string, path: string, responseBundleType?: string): Classified {
  const parts = path.split('/').filter((p) => p.length > 0);
  const m = method.toUpperCase();
  const last = parts[parts.length - 1];
  if (last?.startsWith('$')) {
    const operation = last;
    const [type, id] = TYPE.test(parts[0] ?? '') ? [parts[0], parts.length === 3 ? parts[1] : undefined] : [undefined, undefined];
    const action: AuditAction = m === 'GET' && READ_OPERATIONS.has(operation) ? 'R' : 'E';
    return { interaction: 'operation', action, operation, ...(type ? { resourceType: type } : {}), ...(id ? { id } : {}) };
  }
  if (parts.length === 0) {
    if (m === 'POST') {
      return responseBundleType === 'transaction-response' ? { interaction: 'transaction', action: 'E' } : { interaction: 'batch', action: 'E' };
    }
    return { interaction: 'search-system', action: 'E' };
  }
  if (parts[0] === 'metadata') return { interaction: 'capabilities', action: 'R' };
  if (parts[0] === '_history') return { interaction: 'history-system', action: 'R' };
  const resourceType = parts[0] as string;
  if (parts.length === 1) {
    return m === 'POST' ? { interaction: 'create', action: 'C', resourceType } : { interaction: 'search-type', action: 'E', resourceType };
  }
  if (parts[1] === '_search') return { interaction: 'search-type', action: 'E', resourceType };
  if (parts[1] === '_history') return { interaction: 'history-type', action: 'R', resourceType };
  const id = parts[1] as string;
  if (parts[2] === '_history') {
    return parts[3] !== undefined
      ? { interaction: 'vread', action: 'R', resourceType, id, versionId: parts[3] }
      : { interaction: 'history-instance', action: 'R', resourceType, id };
  }
  switch (m) {
    case 'PUT':
      return { interaction: 'update', action: 'U', resourceType, id };
    case 'PATCH':
      return { interaction: 'patch', action: 'U', resourceType, id };
    case 'DELETE':
      return { interaction: 'delete', action: 'D', resourceType, id };
    default:
      return { interaction: 'read', action: 'R', resourceType, id };
  }
}
