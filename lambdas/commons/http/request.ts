import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { limits } from '../limits.js';
import type { Deadline } from './deadline.js';
import { httpStatus } from './outcomes.js';

/** A request as the FHIR cores see it: no Lambda or Node types. */
export interface HttpRequest {
  readonly method: string;
  /** Path below the FHIR base, starting with `/` (e.g. `/Observation/123`); `/` for the base itself. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body?: Buffer;
  /** Token claims, verified by the API's JWT authorizer (or its local stand-in). */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Absolute base URL of the FHIR API as the client called it (for `Bundle.link` and locations). */
  readonly baseUrl: string;
  /** Size of the body as the function received it (JSON-escaped text or base64): what Lambda's 6 MB limit counts. */
  readonly deliveredBodyBytes?: number;
  /** When the answer must be written; absent: no deadline (unit tests). */
  readonly deadline?: Deadline;
  /** No route of the API matched (API Gateway's `$default` route, or a path outside /fhir). */
  readonly unrouted?: boolean;
}

/**
 * The body's size as it travels inside the Lambda event: base64 text, or text that JSON escapes
 * (quotes, backslashes, control characters) inside the event's own JSON. Lambda's 6 MB invocation
 * limit counts this, not the raw body, so a limit on the raw body could never fire in AWS.
 * @param event - The event.
 * @returns Bytes.
 */
export function deliveredBodyBytes(event: Pick<APIGatewayProxyEventV2WithJWTAuthorizer, 'body' | 'isBase64Encoded'>): number {
  if (event.body === undefined) return 0;
  return event.isBase64Encoded ? event.body.length : Buffer.byteLength(JSON.stringify(event.body), 'utf8') - 2;
}

/** A response of the FHIR cores. */
export interface HttpResponse {
  readonly status: number;
  readonly body: Resource;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The prefix of every FHIR route on the API. */
export const FHIR_PREFIX = '/fhir';

/**
 * Reads an API Gateway HTTP API (payload v2) event.
 * @param event - The event.
 * @param publicBaseUrl - Configured public base URL, else derived from the Host header.
 * @param deadline - When the answer must be written.
 * @returns The request.
 */
export function fromApiGateway(event: APIGatewayProxyEventV2WithJWTAuthorizer, publicBaseUrl?: string, deadline?: Deadline): HttpRequest {
  const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const rawPath = event.rawPath ?? '/';
  const path = rawPath.startsWith(FHIR_PREFIX) ? rawPath.slice(FHIR_PREFIX.length) || '/' : rawPath;
  // No prototype: a parameter named `constructor` or `toString` must not find an inherited member.
  const query: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [key, value] of new URLSearchParams(event.rawQueryString ?? '')) {
    const prior = query[key];
    query[key] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
  }
  const body = event.body === undefined ? undefined : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  // The domain API Gateway was called on, never a client's Host or X-Forwarded-Host: `next` links
  // built from those would send the client's token wherever the header pointed.
  const host = event.requestContext?.domainName ?? 'localhost';
  const proto = headers['x-forwarded-proto'] === 'http' ? 'http' : 'https';
  return {
    method: event.requestContext?.http?.method ?? 'GET',
    path,
    query,
    headers,
    ...(body ? { body, deliveredBodyBytes: deliveredBodyBytes(event) } : {}),
    ...(deadline ? { deadline } : {}),
    ...(event.routeKey === '$default' || !rawPath.startsWith(FHIR_PREFIX) ? { unrouted: true } : {}),
    claims: event.requestContext?.authorizer?.jwt?.claims ?? {},
    baseUrl: publicBaseUrl ?? `${proto}://${host}${FHIR_PREFIX}`,
  };
}

/**
 * Writes a response for API Gateway.
 * @param response - The core's response.
 * @returns The structured result.
 */
export function toApiGateway(response: HttpResponse): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: response.status,
    // PHI must stay out of shared caches, and a browser must not sniff FHIR JSON into something it runs.
    headers: { 'content-type': 'application/fhir+json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...response.headers },
    // 304 Not Modified carries no body (RFC 9110 15.4.5): the client keeps the copy it has.
    body: response.status === 304 ? '' : JSON.stringify(response.body),
  };
}

/**
 * A response carrying an OperationOutcome at its own status.
 * @param outcome - The outcome.
 * @returns The response.
 */
export function outcomeResponse(outcome: OperationOutcome): HttpResponse {
  const status = httpStatus(outcome);
  // A 503 is an invitation to retry: say when.
  return status === 503 ? { status, body: outcome, headers: { 'retry-after': String(limits().RETRY_AFTER_SECONDS) } } : { status, body: outcome };
}
