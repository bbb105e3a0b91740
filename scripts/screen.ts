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
import { resolveDataDir } from '../local/keys.js';

// `npm run screen`: the first population screen.
//   npm run screen                       every patient in the local store (DATA_DIR; stop `npm start` first)
//   npm run screen -- --ndjson DIR       a FHIR Bulk Data export, screened in memory, nothing stored
const { values } = parseArgs({ options: { ndjson: { type: 'string' } } });
const progress = (done: number, total: number): void => {
  process.stderr.write(`\rscreened ${done}/${total}`);
};
const started = performance.now();
let summary: SweepSummary;

if (values.ndjson) {
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
