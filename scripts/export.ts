/**
 * Exports the study through the layer's FHIR Bulk Data API (a client of `GET [base]/Group/{id}/$export`):
 *   DIR/analysis-dataset.csv   one row per subject (pseudonym), R's write.csv layout, with the SRI-4 reasons
 *                              and decisions per visit (D8) and the ITT primary endpoint (D9): the
 *                              export's `_outputFormat=text/csv` output, over the server's active model
 *   DIR/data-dictionary.md     every column: description, unit, values (the manifest's `dataDictionary`)
 *   DIR/ndjson/{Type}.ndjson   the subjects' study resources, one file per type (the NDJSON export's
 *                              parts joined), as stored: pseudonyms and study identifiers only
 *
 *   npm run export -- --out DIR [--group ID] [--base-url URL] [--token T]
 *
 * `--group` is `nct04893161-eligibility` (every screened patient, the default: what this script always
 * exported) or `nct04893161-enrolled` (the enrolled subjects). The token needs `system/*.rs` (a `system/`
 * read scope on each exported type). The CSV reads back with
 * `npm run model:fit -- --data DIR/analysis-dataset.csv --outcome sri4_week48`.
 */
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ITT_COLUMN, primaryEndpointSummary, type AnalysisDataset } from '../lambdas/predict/core/dataset.js';
import { parseCsv } from '../lambdas/predict/stats/csv.js';
import { signLocalToken, resolveDataDir } from '../local/keys.js';
import { consoleIo, isMain, UsageError, type ScriptIo } from './model-fit.js';

/** File names inside the export folder. */
export const EXPORT_FILES = { csv: 'analysis-dataset.csv', dictionary: 'data-dictionary.md', ndjson: 'ndjson' } as const;

/** The Group exported by default: every screened patient, as `npm run export` always did. */
export const DEFAULT_GROUP = 'nct04893161-eligibility';

/** A finished export's manifest (FHIR Bulk Data Access IG v2). */
interface Manifest {
  readonly requiresAccessToken: boolean;
  readonly output: readonly { readonly type: string; readonly url: string; readonly count?: number }[];
  readonly extension?: Readonly<Record<string, unknown>>;
}

/** How the client reaches the layer. */
export interface BulkApi {
  readonly baseUrl: string;
  readonly token: string;
  readonly fetch?: typeof fetch;
  /** Longest wait between status polls (the server's `Retry-After` otherwise). */
  readonly maxPollMs?: number;
}

/**
 * Runs one export job to its manifest: kick-off with `Prefer: respond-async`, status polls honouring
 * `Retry-After`, then the manifest; the job is released (DELETE) by the caller once it has the files.
 * @param api - Base URL, token.
 * @param path - `Group/{id}/$export` and its query.
 * @param onProgress - Called with each `X-Progress`.
 * @returns The manifest and the status URL.
 */
export async function runBulkExport(api: BulkApi, path: string, onProgress: (p: string) => void = () => undefined): Promise<{ manifest: Manifest; status: string }> {
  const doFetch = api.fetch ?? fetch;
  const auth = { authorization: `Bearer ${api.token}` };
  const kick = await doFetch(`${api.baseUrl.replace(/\/+$/, '')}/${path}`, { headers: { ...auth, accept: 'application/fhir+json', prefer: 'respond-async' } });
  if (kick.status !== 202) throw new Error(`$export kick-off: HTTP ${kick.status} ${(await kick.text()).slice(0, 300)}`);
  await kick.body?.cancel();
  const status = kick.headers.get('content-location');
  if (!status) throw new Error('$export kick-off gave no Content-Location');
  for (;;) {
    const res = await doFetch(status, { headers: { ...auth, accept: 'application/json' } });
    if (res.status === 200) return { manifest: (await res.json()) as Manifest, status };
    if (res.status !== 202) throw new Error(`$export status: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    await res.body?.cancel();
    onProgress(res.headers.get('x-progress') ?? '');
    const seconds = Number(res.headers.get('retry-after') ?? '1');
    await new Promise((r) => setTimeout(r, Math.min((Number.isFinite(seconds) ? seconds : 1) * 1000, api.maxPollMs ?? 10_000)));
  }
}

/**
 * Downloads one file of a manifest.
 * @param api - Token and fetch.
 * @param manifest - Whether the token goes along.
 * @param url - The file.
 * @returns Its text.
 */
export async function downloadFile(api: BulkApi, manifest: Pick<Manifest, 'requiresAccessToken'>, url: string): Promise<string> {
  const res = await (api.fetch ?? fetch)(url, { headers: manifest.requiresAccessToken ? { authorization: `Bearer ${api.token}` } : {} });
  if (!res.ok) throw new Error(`download: HTTP ${res.status}`);
  return res.text();
}

async function release(api: BulkApi, status: string): Promise<void> {
  const res = await (api.fetch ?? fetch)(status, { method: 'DELETE', headers: { authorization: `Bearer ${api.token}` } });
  await res.body?.cancel();
}

/**
 * Runs the command.
 * @param argv - Arguments after the script name.
 * @param io - Output.
 * @returns The exit code.
 */
export async function main(argv: readonly string[], io: ScriptIo = consoleIo): Promise<number> {
  const env = io.env ?? process.env;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: { out: { type: 'string' }, group: { type: 'string' }, 'base-url': { type: 'string' }, token: { type: 'string' }, 'max-poll-ms': { type: 'string' } },
      allowPositionals: false,
    });
    if (!values.out) throw new UsageError('--out DIR is required');
    const group = values.group ?? DEFAULT_GROUP;
    const baseUrl = values['base-url'] ?? `http://127.0.0.1:${env.PORT ?? '8080'}/fhir`;
    const token = values.token ?? env.TOKEN ?? (await signLocalToken(resolveDataDir(env), 'system/*.rs'));
    const api: BulkApi = { baseUrl, token, ...(values['max-poll-ms'] ? { maxPollMs: Number(values['max-poll-ms']) } : {}) };
    const path = `Group/${encodeURIComponent(group)}/$export`;

    // The analysis dataset: `_outputFormat=text/csv`.
    const dataset = await runBulkExport(api, `${path}?_outputFormat=${encodeURIComponent('text/csv')}`);
    const csvUrl = dataset.manifest.output[0]?.url;
    const dictionaryUrl = dataset.manifest.extension?.dataDictionary;
    if (!csvUrl || typeof dictionaryUrl !== 'string') throw new Error('The dataset export gave no CSV or data dictionary');
    mkdirSync(values.out, { recursive: true });
    const csv = await downloadFile(api, dataset.manifest, csvUrl);
    writeFileSync(join(values.out, EXPORT_FILES.csv), csv);
    writeFileSync(join(values.out, EXPORT_FILES.dictionary), await downloadFile(api, dataset.manifest, dictionaryUrl));
    await release(api, dataset.status);

    // The resources: NDJSON, one file per type (the server's parts appended in order).
    const ndjson = await runBulkExport(api, path);
    const ndjsonDir = join(values.out, EXPORT_FILES.ndjson);
    rmSync(ndjsonDir, { recursive: true, force: true });
    mkdirSync(ndjsonDir, { recursive: true });
    const types = new Set<string>();
    for (const file of ndjson.manifest.output) {
      appendFileSync(join(ndjsonDir, `${file.type}.ndjson`), await downloadFile(api, ndjson.manifest, file.url));
      types.add(file.type);
    }
    await release(api, ndjson.status);

    const table = readDataset(csv);
    io.out(`Exported ${table.rows.length} subjects from ${baseUrl} (Group ${group}) to ${values.out}:`);
    io.out(`  ${EXPORT_FILES.csv} (${table.columns.length} columns), ${EXPORT_FILES.dictionary}, ${EXPORT_FILES.ndjson}/{${[...types].sort().join(',')}}.ndjson`);
    // D9: both figures of the primary endpoint.
    if (table.columns.some((c) => c.name === ITT_COLUMN)) {
      const endpoint = primaryEndpointSummary(table);
      io.out(
        `  SRI-4 week 48: ${endpoint.responders}/${endpoint.evaluable} responders among evaluable subjects (${endpoint.notEvaluable} not evaluable); ITT ${endpoint.ittResponders}/${endpoint.itt} (not evaluable = non-responder).`,
      );
    }
    return 0;
  } catch (error) {
    io.err(`export: ${(error as Error).message}`);
    return error instanceof UsageError ? 2 : 1;
  }
}

/** The CSV read back as the dataset's cells (numbers, strings, NA as null), for the endpoint summary. */
function readDataset(csv: string): AnalysisDataset {
  const table = parseCsv(csv);
  const cell = (v: string | null): string | number | null => (v === null ? null : /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(v) ? Number(v) : v);
  return {
    columns: table.header.map((name) => ({ name, description: '', unit: '', values: '' })),
    rows: table.rowNames.map((subject, i) => ({ subject, cells: table.header.map((h) => cell(table.columns.get(h)?.[i] ?? null)) })),
  };
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
