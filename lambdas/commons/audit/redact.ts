/**
 * What of a request may enter the audit trail. The trail is read by the study's auditors, who may
 * see pseudonyms and study ids but never the hospital's identifiers or free text; a query is written
 * by the client, and nothing stops a client from searching `Patient?identifier=<MRN>` or
 * `?name=...`. So the query is kept parameter by parameter from an allow-list of parameters whose
 * values are codes, dates, numbers, study references or result controls; any other parameter keeps
 * its name (the auditor sees that it was used) and loses its value. A token's system is kept
 * (`identifier=urn:mrn|[redacted]`): it names the issuer, not the person. The value is dropped, not
 * hashed: a plain hash of an MRN is reversed by trying every MRN, and a keyed hash would need the
 * source key, which only ingest may read.
 */

/** What replaces a value that may not enter the trail. */
export const REDACTED = '[redacted]';

/** Parameters whose values are kept: codes, dates, numbers, study references, result controls. */
const KEPT: ReadonlySet<string> = new Set([
  '_id',
  '_count',
  '_sort',
  '_since',
  '_until',
  '_type',
  '_lastUpdated',
  '_profile',
  '_summary',
  '_elements',
  '_include',
  '_revinclude',
  '_format',
  '_total',
  '_outputFormat',
  '_cursor',
  '_page',
  'patient',
  'subject',
  'target',
  'focus',
  'based-on',
  'code',
  'category',
  'status',
  'intent',
  'date',
  'onset-date',
  'authored',
  'effective-time',
  'value-quantity',
  'combo-code',
  'component-code',
  'topic',
  'eventsSinceNumber',
  'eventsUntilNumber',
  'content',
]);

/** Token parameters whose system may be kept while the value goes. */
const SYSTEM_ONLY: ReadonlySet<string> = new Set(['identifier']);

/** Shapes of the ids the layer gives out: keyed hashes (32 hex) and pseudonyms (`S-` + 12 base32). */
const STUDY_ID = /^(?:[0-9a-f]{32}|S-[A-Z2-7]{12})$/;

/**
 * The query string with values outside the allow-list redacted, in the order the client sent it.
 * @param raw - The raw query string (without `?`), as received.
 * @returns The redacted query string.
 */
export function redactQuery(raw: string): string {
  const out = new URLSearchParams();
  for (const [name, value] of new URLSearchParams(raw)) {
    const base = name.split(':')[0] ?? name;
    if (KEPT.has(base) && !name.includes(':text')) {
      out.append(name, value);
    } else if (SYSTEM_ONLY.has(base) && value.includes('|')) {
      out.append(name, `${value.slice(0, value.indexOf('|'))}|${REDACTED}`);
    } else {
      out.append(name, REDACTED);
    }
  }
  return out.toString();
}

/**
 * The path with each id segment kept only if the access succeeded (the store held it, so it is a
 * study id) or the segment has the shape of one. A client that puts a hospital id in a path gets a
 * 404, and that id stays out of the trail.
 * @param path - Path below the FHIR base.
 * @param succeeded - Whether the answer was a success (2xx, 304).
 * @returns The path to record.
 */
export function redactPath(path: string, succeeded: boolean): string {
  if (succeeded) return path;
  return path
    .split('/')
    .map((segment, i) => (i >= 2 && !segment.startsWith('$') && !segment.startsWith('_') && !STUDY_ID.test(segment) && !/^\d{1,12}$/.test(segment) ? REDACTED : segment))
    .join('/');
}

/**
 * Whether an id may enter the trail as a reference: a study id, or one the answer confirmed.
 * @param id - The id from the path.
 * @param succeeded - Whether the answer was a success.
 * @returns True to record it.
 */
export function recordableId(id: string, succeeded: boolean): boolean {
  return succeeded || STUDY_ID.test(id);
}
