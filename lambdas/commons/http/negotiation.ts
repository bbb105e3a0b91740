import { OperationOutcomeError } from '@medplum/core';
import { notAcceptable, unsupportedMediaType } from './outcomes.js';

/**
 * Content negotiation (FHIR R4 http.html#mime-type): the layer writes FHIR JSON only. A client that
 * asks for XML (Accept or `_format`) is told so with 406 rather than handed JSON it will not parse.
 */

/** `_format` values that mean JSON (FHIR R4 http.html#parameters: the short forms and the MIME types). */
const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json', 'application/json+fhir', 'text/json']);

/** Media ranges of an Accept header that JSON satisfies. */
const JSON_RANGES = new Set(['*/*', 'application/*', 'application/json', 'application/fhir+json', 'application/json+fhir', 'text/json', 'text/*']);

/**
 * Throws 406 unless the request accepts FHIR JSON.
 * @param query - The query (`_format`).
 * @param accept - The Accept header.
 */
export function requireJsonAccepted(query: Readonly<Record<string, string | string[] | undefined>>, accept: string | undefined): void {
  const format = query._format;
  for (const value of Array.isArray(format) ? format : format === undefined ? [] : [format]) {
    // `_format` overrides Accept (browsers cannot set headers); its MIME form may carry parameters.
    const type = value.split(';')[0]!.trim().toLowerCase();
    if (!JSON_FORMATS.has(type)) throw new OperationOutcomeError(notAcceptable(value));
  }
  if (format !== undefined || accept === undefined || accept.trim() === '') return;
  if (!acceptsJson(accept)) throw new OperationOutcomeError(notAcceptable(accept));
}

/**
 * Whether an Accept header admits JSON: one of its media ranges matches with a non-zero quality.
 * @param accept - The header.
 * @returns True when JSON is acceptable.
 */
export function acceptsJson(accept: string): boolean {
  return accept.split(',').some((range) => {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return JSON_RANGES.has(type ?? '') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/** Content types a search body may have (FHIR R4 search.html#Introduction: POST [type]/_search). */
const FORM = 'application/x-www-form-urlencoded';

/**
 * The parameters of `POST [type]/_search`: a form body, refused with 415 when it is anything else.
 * @param contentType - The Content-Type header.
 * @param body - The body.
 * @returns The form's parameters.
 */
export function formParameters(contentType: string | undefined, body: Buffer | undefined): [string, string][] {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!body || body.length === 0) return [];
  if (type !== FORM) throw new OperationOutcomeError(unsupportedMediaType(contentType ?? 'none'));
  return [...new URLSearchParams(body.toString('utf8'))];
}

/** Content types of a FHIR JSON body (R4 http.html#mime-type, with the DSTU2 form and plain JSON). */
const JSON_BODIES = new Set(['application/fhir+json', 'application/json', 'application/json+fhir', 'text/json']);

/**
 * Throws 415 unless a request body is FHIR JSON: by its Content-Type when it has one, else by a
 * first character that only XML has (a client that sends no Content-Type is taken at its word).
 * @param contentType - The Content-Type header.
 * @param body - The body.
 */
export function requireJsonBody(contentType: string | undefined, body: Buffer): void {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== '' && !JSON_BODIES.has(type)) throw new OperationOutcomeError(unsupportedMediaType(contentType ?? ''));
  const first = body.toString('utf8', 0, Math.min(body.length, 64)).replace(/^\uFEFF/, '').trimStart()[0];
  if (type === '' && first === '<') throw new OperationOutcomeError(unsupportedMediaType('XML (no Content-Type)'));
}
