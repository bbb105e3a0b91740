import { badRequest, forbidden, OperationOutcomeError } from '@medplum/core';
import type { ResourceType } from '@medplum/fhirtypes';
import { z } from 'zod';
import { can } from '../../commons/auth/index.js';
import { STORE_TYPES } from '../../commons/study-types.js';
import { toStoreQuery } from '../../serve/core/search-query.js';
import { isExportGroup } from './groups.js';

/**
 * The kick-off request of a Bulk Data export (FHIR Bulk Data Access IG v2, "Bulk Data Kick-off
 * Request"), parsed and checked against what this server supports and what the token may read.
 */

/** `_outputFormat` values: the IG's NDJSON names, and the analysis dataset (CSV + data dictionary). */
export const NDJSON_FORMATS: ReadonlySet<string> = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
/** The `_outputFormat` that asks for the statisticians' analysis dataset instead of NDJSON. */
export const CSV_FORMAT = 'text/csv';

/** Types in a patient's compartment as the store indexes it (subject, patient, individual, for). */
export const PATIENT_EXPORT_TYPES: readonly ResourceType[] = STORE_TYPES.filter((t) => t !== 'Provenance' && t !== 'AuditEvent');

/** The export's parameters as the job keeps them. */
export const ExportParamsSchema = z.object({
  level: z.enum(['system', 'patient', 'group']),
  group: z.string().optional(),
  types: z.array(z.string()),
  since: z.string().optional(),
  /** Per type, the one `_typeFilter` query (`code=...&date=ge...`). */
  typeFilters: z.record(z.string(), z.string()),
  format: z.enum(['ndjson', 'csv']),
});
export type ExportParams = z.infer<typeof ExportParamsSchema>;

/** The kick-off as the cores see it. */
export interface KickOff {
  /** Path below the FHIR base. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  /** Scopes of the verified token. */
  readonly scopes: readonly string[];
}

/** `/$export`, `/Patient/$export`, `/Group/{id}/$export`. */
export const EXPORT_ROUTE = /^\/(?:(Patient)\/|Group\/([A-Za-z0-9\-.]{1,64})\/)?\$export$/;

/** Parameters of the IG this server does not support: refused rather than ignored (the IG lets a server refuse them). */
const UNSUPPORTED = ['patient', 'includeAssociatedData', '_elements', 'organizeOutputBy', 'allowPartialManifests'];
const KNOWN = new Set(['_type', '_since', '_typeFilter', '_outputFormat', ...UNSUPPORTED]);

/**
 * Parses and checks a kick-off: the level from the path, `_type` (each type one the token may read
 * with a `system/` scope, else 403), `_since` (a FHIR instant), `_typeFilter` (one per type, the
 * search parameters the store supports), `_outputFormat`.
 * @param kick - Path, query and scopes.
 * @returns The parameters.
 * @throws OperationOutcomeError 400 for what is not supported, 403 for a type the token cannot read, 404 for an unknown Group.
 */
export function parseKickOff(kick: KickOff): ExportParams {
  const match = EXPORT_ROUTE.exec(kick.path);
  if (!match) throw new OperationOutcomeError(badRequest('Not an export route'));
  const level = match[1] ? 'patient' : match[2] ? 'group' : 'system';
  const group = match[2];
  if (group !== undefined && !isExportGroup(group)) {
    throw new OperationOutcomeError({ resourceType: 'OperationOutcome', id: 'not-found', issue: [{ severity: 'error', code: 'not-found', details: { text: `Group ${group} is not exportable` } }] });
  }
  for (const name of Object.keys(kick.query)) {
    if (!KNOWN.has(name)) throw new OperationOutcomeError(badRequest(`Parameter '${name.slice(0, 40)}' is not supported by $export`, name.slice(0, 40)));
  }
  for (const name of UNSUPPORTED) {
    if (kick.query[name] !== undefined) throw new OperationOutcomeError(badRequest(`Parameter '${name}' is not supported by this server's $export`, name));
  }
  const list = (name: string): string[] => {
    const v = kick.query[name];
    return (v === undefined ? [] : Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  };
  const format = outputFormat(list('_outputFormat'));
  const offered: readonly string[] = level === 'system' ? STORE_TYPES : PATIENT_EXPORT_TYPES;
  const systemScopes = kick.scopes.filter((s) => s.startsWith('system/'));
  const asked = list('_type');
  for (const type of asked) {
    if (!offered.includes(type)) throw new OperationOutcomeError(badRequest(`_type ${type.slice(0, 40)} is not exported at this level`, '_type'));
    if (!can(systemScopes, type, 'r')) throw new OperationOutcomeError(forbiddenText(`Granted scopes do not allow reading ${type}`));
  }
  // No `_type`: every offered type the token may read (IG: the server SHOULD export only what the client may access).
  const types = asked.length > 0 ? [...new Set(asked)] : offered.filter((t) => can(systemScopes, t, 'r'));
  if (types.length === 0) throw new OperationOutcomeError(forbiddenText('A system/ scope reading at least one resource type is required'));
  if (format === 'csv' && level === 'system') throw new OperationOutcomeError(badRequest(`_outputFormat=${CSV_FORMAT} (the analysis dataset) needs a Patient or Group export`, '_outputFormat'));
  const sinceValues = list('_since');
  if (sinceValues.length > 1) throw new OperationOutcomeError(badRequest('One _since only', '_since'));
  const since = sinceValues[0];
  if (since !== undefined && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(since)) {
    throw new OperationOutcomeError(badRequest('_since must be a FHIR instant (e.g. 2026-01-01T00:00:00Z)', '_since'));
  }
  if (since !== undefined && Number.isNaN(Date.parse(since))) throw new OperationOutcomeError(badRequest('_since is not a valid instant', '_since'));
  const typeFilters = parseTypeFilters(kick.query._typeFilter, types);
  return { level, ...(group ? { group } : {}), types, ...(since ? { since: new Date(since).toISOString() } : {}), typeFilters, format };
}

function outputFormat(values: readonly string[]): ExportParams['format'] {
  if (values.length > 1) throw new OperationOutcomeError(badRequest('One _outputFormat only', '_outputFormat'));
  const v = values[0];
  if (v === undefined || NDJSON_FORMATS.has(v)) return 'ndjson';
  if (v === CSV_FORMAT) return 'csv';
  throw new OperationOutcomeError(badRequest(`_outputFormat ${v.slice(0, 40)} is not supported: application/fhir+ndjson or ${CSV_FORMAT}`, '_outputFormat'));
}

/** Search-result parameters make no sense inside a filter; `_lastUpdated` would fight `_since`. */
const FILTER_REFUSED = new Set(['_count', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total', '_cursor', '_lastUpdated', '_format']);

/**
 * `_typeFilter`: `Type?query`, comma-separated or repeated. Each query is checked now with the same
 * parser as search (unsupported parameters 400), so a job never fails later on a filter. Several
 * filters of one type would be ORed (IG): not supported here, refused.
 */
function parseTypeFilters(raw: string | string[] | undefined, types: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  // Commas separate filters, but a comma inside a query is an OR of values: split only before `Type?`.
  const items = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).flatMap((s) => s.split(/,(?=[A-Z][A-Za-z]+\?)/));
  for (const item of items) {
    const m = /^([A-Z][A-Za-z]+)\?(.+)$/.exec(item.trim());
    if (!m) throw new OperationOutcomeError(badRequest('_typeFilter must be Type?search-parameters', '_typeFilter'));
    const [, type, search] = m as unknown as [string, string, string];
    if (!types.includes(type)) throw new OperationOutcomeError(badRequest(`_typeFilter names ${type}, which is not exported`, '_typeFilter'));
    if (out[type] !== undefined) throw new OperationOutcomeError(badRequest(`Several _typeFilter for ${type} (an OR) are not supported: give one`, '_typeFilter'));
    const params = new URLSearchParams(search);
    for (const name of params.keys()) {
      if (FILTER_REFUSED.has(name.split(':')[0] ?? name)) throw new OperationOutcomeError(badRequest(`_typeFilter parameter ${name.slice(0, 40)} is not supported`, '_typeFilter'));
    }
    filterQuery(type, search); // throws 400 on what the store cannot search
    out[type] = search;
  }
  return out;
}

/**
 * The store query of a `_typeFilter` (without paging).
 * @param type - The resource type.
 * @param search - The filter's query string.
 * @returns The query.
 */
export function filterQuery(type: string, search: string | undefined): ReturnType<typeof toStoreQuery> {
  const query: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [k, v] of new URLSearchParams(search ?? '')) {
    const prior = query[k];
    query[k] = prior === undefined ? v : [...(Array.isArray(prior) ? prior : [prior]), v];
  }
  return toStoreQuery(type as ResourceType, query);
}

function forbiddenText(text: string): ReturnType<typeof badRequest> {
  return { ...forbidden, issue: [{ severity: 'error', code: 'forbidden', details: { text } }] };
}
