import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { FHIR_PREFIX } from '../http/request.js';
import type { AccessRecord } from './access-record.js';
import { classify } from './classify.js';
import { recordableId, redactPath, redactQuery } from './redact.js';

/** Paths every client reads before it has a token: discovery, not data (not audited). */
const PUBLIC_PATHS: ReadonlySet<string> = new Set([`${FHIR_PREFIX}/metadata`, `${FHIR_PREFIX}/.well-known/smart-configuration`]);

/** At most this many patients and written resources per record (a bundle holds at most 1,000 entries). */
const MAX_REFS = 1000;

/** How much of an answer the edge scans for patient references: a search page of 1,000 entries fits. */
const MAX_SCAN_CHARS = 8 * 1024 * 1024;

const PATIENT_REF = /"reference":"Patient\/([A-Za-z0-9\-.]{1,64})"/g;
const PATIENT_SELF = /"resourceType":"Patient","id":"([A-Za-z0-9\-.]{1,64})"/g;
const PATIENT_URL = /"fullUrl":"[^"]*\/Patient\/([A-Za-z0-9\-.]{1,64})"/g;
const LOCATION = /"location":"([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})\/_history\/([A-Za-z0-9\-.]{1,64})"/g;
const BUNDLE_TYPE = /^\{"resourceType":"Bundle",(?:"id":"[^"]*",)?"type":"([a-z-]+)"/;

/** Interactions whose answer is study data the edge may scan for the patients it belongs to. */
const SCANNED = new Set(['read', 'vread', 'history-instance', 'history-type', 'history-system', 'search-type', 'search-system']);

/**
 * Whether a request is audited: every FHIR route but the public discovery documents.
 * @param rawPath - The request's path from the host (`/fhir/...`).
 * @returns True to audit.
 */
export function isAudited(rawPath: string): boolean {
  return rawPath.startsWith(FHIR_PREFIX) && !PUBLIC_PATHS.has(rawPath);
}

/**
 * The access record of one request and its answer, as the HTTP edge sees them (an API Gateway v2
 * event and the structured result, which the local server builds too). Cheap on purpose: regular
 * expressions over the answer's text, no parse of it.
 * @param event - The request.
 * @param result - The answer (or only its status, for a refusal before any handler).
 * @param now - The clock.
 * @returns The record.
 */
export function captureAccess(
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
  result: Pick<APIGatewayProxyStructuredResultV2, 'statusCode' | 'body'>,
  now: Date,
): AccessRecord {
  const rawPath = event.rawPath ?? '/';
  const path = rawPath.startsWith(FHIR_PREFIX) ? rawPath.slice(FHIR_PREFIX.length) || '/' : rawPath;
  const status = result.statusCode ?? 200;
  const succeeded = (status >= 200 && status < 300) || status === 304;
  const body = typeof result.body === 'string' && succeeded ? result.body.slice(0, MAX_SCAN_CHARS) : '';
  const bundleType = BUNDLE_TYPE.exec(body)?.[1];
  const method = (event.requestContext?.http?.method ?? 'GET').slice(0, 16);
  const what = classify(method, path, bundleType);
  const claims = (event.requestContext?.authorizer?.jwt?.claims ?? {}) as Record<string, unknown>;
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v.slice(0, 256) : undefined);

  const patients = new Set<string>();
  if (what.resourceType === 'Patient' && what.id && recordableId(what.id, succeeded)) patients.add(what.id);
  for (const name of ['patient', 'subject']) {
    for (const value of new URLSearchParams(queryOf(event, what.interaction)).getAll(name)) {
      const id = value.replace(/^Patient\//, '');
      if (/^[A-Za-z0-9\-.]{1,64}$/.test(id) && recordableId(id, succeeded)) patients.add(id);
    }
  }
  const written: string[] = [];
  if (succeeded && (what.action === 'C' || what.action === 'U' || what.interaction === 'batch' || what.interaction === 'transaction')) {
    for (const m of body.matchAll(LOCATION)) {
      if (written.length >= MAX_REFS) break;
      written.push(`${m[1]}/${m[2]}/_history/${m[3]}`);
      if (m[1] === 'Patient' && m[2]) patients.add(m[2]);
    }
  }
  if (succeeded && SCANNED.has(what.interaction)) {
    for (const pattern of [PATIENT_REF, PATIENT_SELF, PATIENT_URL]) {
      for (const m of body.matchAll(pattern)) {
        if (patients.size >= MAX_REFS) break;
        if (m[1]) patients.add(m[1]);
      }
    }
  }
  const clientId = text(claims.client_id) ?? text(claims.azp) ?? text(claims.cid);
  const subject = text(claims.sub);
  const issuer = text(claims.iss);
  const role = text(claims.role);
  const tokenId = text(claims.jti);
  const sourceIp = text(event.requestContext?.http?.sourceIp)?.slice(0, 64);
  const host = event.requestContext?.domainName ?? 'localhost';
  const proto = event.headers?.['x-forwarded-proto'] === 'http' ? 'http' : 'https';
  return {
    requestId: (event.requestContext?.requestId ?? `${now.getTime()}`).slice(0, 128),
    recorded: now.toISOString(),
    method,
    // Cut to the record's bounds (access-record.ts), so that the audit function never refuses one.
    path: redactPath(path, succeeded).slice(0, 2048),
    query: redactQuery(queryOf(event, what.interaction)).slice(0, 8192),
    status,
    ...(bundleType ? { bundleType } : {}),
    ...(clientId ? { clientId } : {}),
    ...(subject ? { subject } : {}),
    ...(issuer ? { issuer } : {}),
    ...(role ? { role } : {}),
    ...(tokenId ? { tokenId } : {}),
    ...(sourceIp ? { sourceIp } : {}),
    baseUrl: `${proto}://${host}${FHIR_PREFIX}`.slice(0, 512),
    written,
    patients: [...patients].slice(0, MAX_REFS),
  };
}

/** The URL's query, and for `POST [type]/_search` the form body's parameters after it (FHIR R4 search.html#Introduction). */
function queryOf(event: APIGatewayProxyEventV2WithJWTAuthorizer, interaction: string): string {
  const url = event.rawQueryString ?? '';
  const type = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
  if (interaction !== 'search-type' || event.body === undefined || !/application\/x-www-form-urlencoded/i.test(type)) return url;
  const form = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  return [url, form].filter((q) => q.length > 0).join('&');
}
