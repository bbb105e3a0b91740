import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';

/** Outcome ids whose HTTP status @medplum/core's `getStatus` does not know. */
const EXTRA_STATUS: Record<string, number> = {
  'payload-too-large': 413,
  'too-many-entries': 413,
  'too-costly-request': 413,
  'too-costly-resource': 422,
  'uri-too-long': 414,
  deadline: 503,
  'method-not-allowed': 405,
  'unsupported-media-type': 415,
  'not-acceptable': 406,
  'precondition-failed': 412,
  unavailable: 503,
  'server-error': 500,
  'invalid-query': 400,
  'invalid-resource': 400,
  conflict: 409,
};

/**
 * The HTTP status of an outcome: @medplum/core's mapping, plus the statuses it lacks.
 * @param outcome - The OperationOutcome.
 * @returns The status code.
 */
export function httpStatus(outcome: OperationOutcome): number {
  return (outcome.id && EXTRA_STATUS[outcome.id]) || getStatus(outcome);
}

function fixed(id: string, code: NonNullable<OperationOutcome['issue']>[number]['code'], text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', id, issue: [{ severity: 'error', code, details: { text } }] };
}

/**
 * 413: the request body is larger than the layer accepts.
 * @param limit - The limit in bytes.
 * @returns The outcome.
 */
export function payloadTooLarge(limit: number): OperationOutcome {
  return fixed('payload-too-large', 'too-costly', `Request body exceeds ${limit} bytes as delivered to the function`);
}

/**
 * 405: the route exists but not with this method.
 * @param method - The HTTP method.
 * @param path - The route.
 * @returns The outcome.
 */
export function methodNotAllowed(method: string, path: string): OperationOutcome {
  return fixed('method-not-allowed', 'not-supported', `${method} is not supported on ${path}`);
}

/**
 * 415: a body that is not FHIR JSON.
 * @param contentType - The Content-Type sent.
 * @returns The outcome.
 */
export function unsupportedMediaType(contentType: string): OperationOutcome {
  return fixed('unsupported-media-type', 'not-supported', `Content-Type '${contentType}' is not supported; send application/fhir+json`);
}

/**
 * 406: the client accepts no format the layer writes (JSON only: no XML, no Turtle).
 * @param asked - What the client asked for (Accept or `_format`).
 * @returns The outcome.
 */
export function notAcceptable(asked: string): OperationOutcome {
  return fixed('not-acceptable', 'not-supported', `Format '${asked.slice(0, 80)}' is not available; this server writes application/fhir+json only`);
}

/**
 * 412: a conditional request whose condition matched more than one resource.
 * @param text - What matched.
 * @returns The outcome.
 */
export function preconditionFailed(text: string): OperationOutcome {
  return fixed('precondition-failed', 'multiple-matches', text);
}

/** 503: a dependency (the store) failed or throttled; the request may be retried. */
export const unavailable: OperationOutcome = fixed('unavailable', 'transient', 'The service is temporarily unavailable; retry the request');

/** 503: the request ran out of time before its commit point; nothing of it was stored. */
export const deadlineExceeded: OperationOutcome = fixed(
  'deadline',
  'timeout',
  'The request could not finish in time and nothing of it was stored; retry it, or send it in smaller parts',
);

/**
 * 414: a query string longer than the layer reads.
 * @param limit - The limit in characters.
 * @returns The outcome.
 */
export function uriTooLong(limit: number): OperationOutcome {
  return fixed('uri-too-long', 'too-costly', `The query string exceeds ${limit} characters (MAX_QUERY_CHARS)`);
}

/**
 * 404 for a path no route serves (API Gateway's `$default` route, and unknown paths below /fhir).
 * @returns The outcome.
 */
export function noRoute(): OperationOutcome {
  return fixed('not-found', 'not-found', 'No route serves this path');
}

/** 500 with no detail: what went wrong stays in the (PHI-free) log, not in the answer. */
export const serverFailure: OperationOutcome = fixed('server-error', 'exception', 'Internal error');

/** The store's own errors (lambdas/commons/store/errors.ts), by name: their messages name no patient data. */
const STORE_ERRORS: Record<string, ((message: string) => OperationOutcome) | undefined> = {
  InvalidQueryError: (message) => fixed('invalid-query', 'invalid', message),
  InvalidResourceError: (message) => fixed('invalid-resource', 'invalid', message),
  ResourceTooLargeError: (message) => fixed('payload-too-large', 'too-costly', message),
  StoreConflictError: () => ({ ...fixed('conflict', 'conflict', 'Another request is writing the same records; retry'), id: 'conflict' }),
  StoreThrottledError: () => unavailable,
  DeadlineExceededError: () => deadlineExceeded,
};

/** Store and network failures that a retry may cure. */
const TRANSIENT = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
  'ECONNREFUSED',
  'ECONNRESET',
  'TimeoutError',
]);

/**
 * Turns anything thrown into an outcome: an OperationOutcomeError keeps its own; a transient
 * dependency failure is 503; anything else is an opaque 500.
 * @param err - What was thrown.
 * @returns The outcome to answer with.
 */
export function outcomeOf(err: unknown): OperationOutcome {
  if (err instanceof OperationOutcomeError) {
    return err.outcome;
  }
  const name = (err as { name?: string; code?: string } | undefined)?.name ?? '';
  const storeOutcome = STORE_ERRORS[name];
  if (storeOutcome) {
    return storeOutcome((err as Error).message);
  }
  const code = (err as { code?: string } | undefined)?.code ?? '';
  return TRANSIENT.has(name) || TRANSIENT.has(code) ? unavailable : serverFailure;
}

/**
 * What a log line may say about an unexpected error: its name and where it was thrown, never its
 * message (a store or parser message can quote the values it choked on).
 * @param err - What was thrown.
 * @returns Log fields.
 */
export function errorLogFields(err: unknown): { error: string; at?: string } {
  const e = err as { name?: string; stack?: string } | undefined;
  const at = e?.stack?.split('\n').find((line) => line.trimStart().startsWith('at '))?.trim();
  return { error: e?.name ?? typeof err, ...(at ? { at } : {}) };
}
