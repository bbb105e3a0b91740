/**
 * Exports the analysis dataset from the study store:
 *   DIR/analysis-dataset.csv   one row per subject (pseudonym), R's write.csv layout, with the SRI-4 reasons
 *                              and decisions per visit (D8) and the ITT primary endpoint (D9)
 *   DIR/data-dictionary.md     every column: description, unit, values
 *   DIR/ndjson/{Type}.ndjson   the subjects' study resources, one file per type, study identifiers only
 *
 *   npm run export -- --out DIR [--model NAME[@VERSION]] [--base-url URL] [--token T] [--models-dir DIR]
 *
 * Reads through the FHIR API of a running layer (`npm start`), as model:fit does. The CSV reads back
 * with `npm run model:fit -- --data DIR/analysis-dataset.csv --outcome sri4_week48`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CANONICAL_BASE } from '../lambdas/commons/config.js';
import { readCohort } from '../lambdas/predict/core/cohort.js';
import { analysisDataset, dataDictionary, datasetCsv, primaryEndpointSummary, studyNdjson } from '../lambdas/predict/core/dataset.js';
import { DEFAULT_MODELS_DIR, loadModels } from '../lambdas/predict/core/model-spec.js';
import { chooseModel, cohortSourceFromFlags, consoleIo, isMain, STORE_FLAGS, UsageError, type ScriptIo } from './model-fit.js';

/** File names inside the export folder. */
export const EXPORT_FILES = { csv: 'analysis-dataset.csv', dictionary: 'data-dictionary.md', ndjson: 'ndjson' } as const;

/**
 * Runs the command.
 * @param argv - Arguments after the script name.
 * @param io - Output.
 * @returns The exit code.
 */
export async function main(argv: readonly string[], io: ScriptIo = consoleIo): Promise<number> {
  const env = io.env ?? process.env;
  try {
    const { values } = parseArgs({ args: [...argv], options: { ...STORE_FLAGS, out: { type: 'string' } }, allowPositionals: false });
    if (!values.out) throw new UsageError('--out DIR is required');
    const model = chooseModel(loadModels(values['models-dir'] ?? DEFAULT_MODELS_DIR), values.model);
    const base = env.CANONICAL_BASE ?? DEFAULT_CANONICAL_BASE;
    const { source, baseUrl } = await cohortSourceFromFlags(values, env);
    const cohort = await readCohort(source, model, { base, asOf: (io.now ?? ((): Date => new Date()))() });
    const dataset = analysisDataset(cohort, model, base);
    const ndjsonDir = join(values.out, EXPORT_FILES.ndjson);
    mkdirSync(ndjsonDir, { recursive: true });
    writeFileSync(join(values.out, EXPORT_FILES.csv), datasetCsv(dataset));
    writeFileSync(join(values.out, EXPORT_FILES.dictionary), dataDictionary(dataset, model));
    const files = studyNdjson(cohort, base);
    for (const [type, text] of files) writeFileSync(join(ndjsonDir, `${type}.ndjson`), text);
    io.out(`Exported ${cohort.length} subjects from ${baseUrl} (model ${model.name} ${model.version}) to ${values.out}:`);
    io.out(`  ${EXPORT_FILES.csv} (${dataset.columns.length} columns), ${EXPORT_FILES.dictionary}, ${EXPORT_FILES.ndjson}/{${[...files.keys()].sort().join(',')}}.ndjson`);
    // D9: both figures of the primary endpoint.
    const endpoint = primaryEndpointSummary(dataset);
    io.out(
      `  SRI-4 week 48: ${endpoint.responders}/${endpoint.evaluable} responders among evaluable subjects (${endpoint.notEvaluable} not evaluable); ITT ${endpoint.ittResponders}/${endpoint.itt} (not evaluable = non-responder).`,
    );
    return 0;
  } catch (error) {
    io.err(`export: ${(error as Error).message}`);
    return error instanceof UsageError ? 2 : 1;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
