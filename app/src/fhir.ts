import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';

/** A refused or failed FHIR call, with the server's own words (its OperationOutcome) for the reader. */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'FhirError';
  }
}

/** Where the app talks to the layer and with which bearer token (held by fhirclient's session). */
export interface FhirSession {
  /** The FHIR base, `{origin}/fhir`, without a trailing slash. */
  readonly serverUrl: string;
  readonly accessToken: string;
  /** The scopes the authorization server granted (SMART v2 `user/` scopes and named scopes). */
  readonly scopes: readonly string[];
}

/**
 * The text a person should read for a failed call: every issue's `details.text` and `diagnostics` of the
 * OperationOutcome (FHIR R4 §3.1.0.5: errors are OperationOutcomes), else the HTTP status.
 * @param status - HTTP status.
 * @param body - Parsed body, if any.
 * @returns A sentence.
 */
export function outcomeText(status: number, body: unknown): string {
  const outcome = body as OperationOutcome | undefined;
  const texts =
    outcome?.resourceType === 'OperationOutcome'
      ? (outcome.issue ?? []).map((i) => [i.details?.text, i.diagnostics].filter((t): t is string => !!t).join(': ')).filter((t) => t.length > 0)
      : [];
  // Issues are sentences of their own (`Forbidden`, then why): one per sentence.
  return texts.length > 0 ? texts.map((t) => (/[.!?]$/.test(t) ? t : `${t}.`)).join(' ') : `The server answered ${status}.`;
}

/**
 * One request to the layer's FHIR API with the session's bearer token.
 * @param session - Server and token.
 * @param path - Path under the FHIR base (`Observation?code=...`) or an absolute URL on the same base (a `next` link).
 * @param init - Method and body.
 * @returns The parsed resource.
 * @throws FhirError for any non-2xx answer, with the OperationOutcome's text.
 */
export async function fhirRequest<T = Resource>(session: FhirSession, path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const url = path.startsWith(session.serverUrl) ? path : `${session.serverUrl}/${path.replace(/^\//, '')}`;
  if (!url.startsWith(`${session.serverUrl}/`)) {
    // A next link pointing anywhere else would carry the token off the layer.
    throw new FhirError(0, 'A link pointed outside the study API; it was not followed.');
  }
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      accept: 'application/fhir+json',
      authorization: `Bearer ${session.accessToken}`,
      ...(init.body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    throw new FhirError(res.status, outcomeText(res.status, body));
  }
  return body as T;
}

/**
 * Every resource a search finds, following the Bundle's `next` links (FHIR R4 §3.1.1.5 paging).
 * @param session - Server and token.
 * @param query - Search path, e.g. `Observation?patient=S-X&_count=1000`.
 * @param maxPages - Stop after this many pages (a bound on what one screen loads).
 * @returns The matched resources (search mode `match`), in page order.
 */
export async function searchAll<T extends Resource>(session: FhirSession, query: string, maxPages = 20): Promise<T[]> {
  const out: T[] = [];
  let next: string | undefined = query;
  for (let page = 0; next && page < maxPages; page++) {
    const bundle: Bundle = await fhirRequest<Bundle>(session, next);
    for (const entry of bundle.entry ?? []) {
      if (entry.resource && entry.search?.mode !== 'include' && entry.search?.mode !== 'outcome') {
        out.push(entry.resource as T);
      }
    }
    next = bundle.link?.find((l) => l.relation === 'next')?.url;
  }
  return out;
}

/**
 * Whether the granted scopes allow an interaction on a type (SMART v2 `user/<Type|*>.<cruds>`, v1 `.read`).
 * The layer decides; the app asks only so as not to offer what would be refused.
 * @param scopes - Granted scopes.
 * @param type - Resource type.
 * @param letter - Interaction letter.
 * @returns True when some scope grants it.
 */
export function granted(scopes: readonly string[], type: string, letter: 'c' | 'r' | 'u' | 'd' | 's'): boolean {
  return scopes.some((scope) => {
    const m = /^(?:user|system)\/([A-Za-z*]+)\.([a-z*]+)$/.exec(scope);
    if (!m || (m[1] !== type && m[1] !== '*')) return false;
    const rights = m[2] === 'read' ? 'rs' : m[2] === 'write' ? 'cud' : m[2] === '*' ? 'cruds' : (m[2] ?? '');
    return rights.includes(letter);
  });
}
