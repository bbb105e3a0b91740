import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
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
 * @returns The request.
 */
export function fromApiGateway(event: APIGatewayProxyEventV2WithJWTAuthorizer, publicBaseUrl?: string): HttpRequest {
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
  const host = headers['x-forwarded-host'] ?? headers.host ?? event.requestContext?.domainName ?? 'localhost';
  const proto = headers['x-forwarded-proto'] ?? 'https';
  return {
    method: event.requestContext?.http?.method ?? 'GET',
    path,
    query,
    headers,
    ...(body ? { body } : {}),
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
    headers: { 'content-type': 'application/fhir+json; charset=utf-8', ...response.headers },
    body: JSON.stringify(response.body),
  };
}

/**
 * A response carrying an OperationOutcome at its own status.
 * @param outcome - The outcome.
 * @returns The response.
 */
export function outcomeResponse(outcome: OperationOutcome): HttpResponse {
  return { status: httpStatus(outcome), body: outcome };
}
