import { Logger } from '@aws-lambda-powertools/logger';
import { parseArgs } from 'node:util';
import { loadConformance } from '../lambdas/commons/conformance/index.js';
import { loadConfig } from '../lambdas/commons/config.js';
import { unitAliases } from '../lambdas/commons/study-context.js';
import { StudyCodes } from '../lambdas/ingest/core/codes.js';
import { readBulkExport, sweepPopulation, type SweepSummary } from '../lambdas/screen/bulk-sweep.js';
import { loadEligibilityCriteria, type OverallState } from '../lambdas/screen/core/index.js';
import { rescreenPatient } from '../lambdas/screen/rescreen.js';
import { startLocal } from '../local/app.js';
import { resolveDataDir, signLocalToken } from '../local/keys.js';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Imports a folder of NDJSON files into the local store (`POST /fhir/$import`, IMPORT_DIR = the folder)
 * with the screen consumer behind, and tallies the last screening state of each patient.
 * @param dir - The export folder (`{Type}.*.ndjson` files).
 * @returns The tally.
 */
async function importAndScreen(dir: string): Promise<SweepSummary> {
  const states = new Map<string, OverallState>();
  const dataDir = resolveDataDir();
  const app = await startLocal({
    dataDir,
    port: 0,
    relayIntervalMs: 0,
    env: { ...process.env, IMPORT_DIR: dir },
    logger: new Logger({ serviceName: 'screen', logLevel: 'WARN' }),
    consumers: [
      async (event) => {
        states.set(event.patient, await rescreenPatient(event.patient, app.runtime.screen()));
        if (states.size % 100 === 0) progress(states.size, states.size);
      },
    ],
  });
  try {
    const token = await signLocalToken(dataDir, 'system/*.cruds');
    const files = readdirSync(dir).filter((f) => /^[A-Z][A-Za-z]+\..*ndjson$/.test(f)).sort((a, b) => (a.startsWith('Patient.') ? -1 : b.startsWith('Patient.') ? 1 : a.localeCompare(b)));
    const manifest = { inputFormat: 'application/fhir+ndjson', input: files.map((f) => ({ type: f.split('.')[0], url: pathToFileURL(join(dir, f)).href })) };
    const res = await fetch(`${app.baseUrl}/$import`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify(manifest) });
    if (res.status !== 202) throw new Error(`$import answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    await app.bulkIdle();
    await app.drainOutbox();
    const status = await fetch(res.headers.get('content-location') ?? '', { headers: { authorization: `Bearer ${token}` } });
    const body = (await status.json()) as { extension?: { inputs?: { url: string; read: number; accepted: number; failed: number }[] } };
    const failed = (body.extension?.inputs ?? []).reduce((n, i) => n + i.failed, 0);
    const summary: SweepSummary = { patients: states.size, byState: { eligible: 0, candidate: 0, ineligible: 0 }, unmappable: failed };
    for (const state of states.values()) summary.byState[state]++;
    return summary;
  } finally {
    await app.close();
  }
}

// `npm run screen`: the first population screen.
//   npm run screen                            every patient in the local store (DATA_DIR; stop `npm start` first)
//   npm run screen -- --ndjson DIR            a FHIR Bulk Data export imported into the local store through
//                                             POST /fhir/$import (the ingest core, chunk by chunk), each
//                                             patient screened by the screen consumer as it lands
//   npm run screen -- --ndjson DIR --dry-run  the same export screened in memory, nothing stored
const { values } = parseArgs({ options: { ndjson: { type: 'string' }, 'dry-run': { type: 'boolean' } } });
const progress = (done: number, total: number): void => {
  process.stderr.write(`\rscreened ${done}/${total}`);
};
const started = performance.now();
let summary: SweepSummary;

if (values.ndjson && !values['dry-run']) {
  summary = await importAndScreen(resolve(values.ndjson));
} else if (values.ndjson) {
  const config = loadConfig();
  const conformance = loadConformance({ base: config.CANONICAL_BASE });
  const patients = await readBulkExport(values.ndjson);
  summary = sweepPopulation(patients, {
    conformance,
    codes: new StudyCodes(conformance),
    unitAliases: unitAliases(conformance),
    criteria: loadEligibilityCriteria(),
    sourceSystem: config.SOURCE_SYSTEM,
    asOf: new Date(),
  }, progress);
} else {
  const app = await startLocal({ dataDir: resolveDataDir(), port: 0, relayIntervalMs: 0, consumers: [], logger: new Logger({ serviceName: 'screen', logLevel: 'WARN' }) });
  const deps = app.runtime.screen();
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.search({ resourceType: 'Patient', count: 1000, ...(cursor ? { cursor } : {}) });
    ids.push(...page.resources.map((p) => p.id));
    cursor = page.next;
  } while (cursor);
  summary = { patients: 0, byState: { eligible: 0, candidate: 0, ineligible: 0 }, unmappable: 0 };
  for (const id of ids) {
    const state: OverallState = await rescreenPatient(id, deps);
    summary.patients++;
    summary.byState[state]++;
    if (summary.patients % 100 === 0) progress(summary.patients, ids.length);
  }
  progress(summary.patients, ids.length);
  await app.close();
}

const seconds = (performance.now() - started) / 1000;
process.stderr.write('\n');
console.log(`Screened ${summary.patients} patients in ${seconds.toFixed(1)} s (${Math.round(summary.patients / seconds)} patients/s)`);
for (const [state, count] of Object.entries(summary.byState)) {
  console.log(`  ${state.padEnd(11)} ${count}`);
}
if (summary.unmappable > 0) console.log(`  (${summary.unmappable} records could not be mapped and were left out)`);
