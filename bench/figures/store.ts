/*
 * Figure 6: the study store's own cost (issue 13), counted with a wrapper on the DynamoDB client's
 * `send`: calls and milliseconds of a subject's 50-entry visit bundle committed as one transaction,
 * of loading that subject's whole record after 8 visits, and of 1,000 entries committed as one
 * transaction and as one batch. The baseline is the store as it was before issue 13
 * (bench/lib/legacy-study-store.ts: a claim per resource, a Query per search hit), run in the same
 * process on the same dynalite, each on its own fresh table.
 */
import { startDynalite } from '../../local/dynalite.js';
import { row, runFigure, type FigureRow } from '../lib/figure.js';
import { runStoreScenario, type Measured, type StoreScenarioResult } from '../lib/store-scenario.js';
import { median } from '../lib/stats.js';

const RUNS = Number(process.env.BENCH_STORE_RUNS ?? 1);

async function main(): Promise<{ rows: FigureRow[]; notes: string[] }> {
  const server = await startDynalite();
  const config = { endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
  const current: StoreScenarioResult[] = [];
  const legacy: StoreScenarioResult[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      // Alternate, so that neither store always runs on the warmer process.
      legacy.push(await runStoreScenario(config, 'legacy', { big: run === 0 }));
      current.push(await runStoreScenario(config, 'current', { big: run === 0 }));
    }
  } finally {
    await server.close();
  }
  // Visits after the first: the Patient exists and is unchanged, as in a study's course.
  const visits = (results: readonly StoreScenarioResult[]): Measured[] => results.flatMap((r) => r.visitCommits.slice(1));
  const loads = (results: readonly StoreScenarioResult[]): Measured[] => results.map((r) => r.load);
  const rows: FigureRow[] = [];
  const add = (figure: string, now: Measured[], before: Measured[], callTarget?: number): void => {
    rows.push(
      row(
        {
          group: '6 store',
          figure: `${figure}: DynamoDB calls`,
          unit: 'calls',
          samples: now.map((m) => m.calls),
          baselines: [{ name: 'per-resource store', median: median(before.map((m) => m.calls)) }],
          ...(callTarget === undefined ? {} : { target: `≤ ${callTarget}`, meets: (m: number) => m <= callTarget }),
        },
        false,
      ),
      row(
        {
          group: '6 store',
          figure: `${figure}: wall time`,
          unit: 'ms',
          samples: now.map((m) => m.ms),
          baselines: [{ name: 'per-resource store', median: median(before.map((m) => m.ms)) }],
        },
        false,
      ),
    );
  };
  add('store: commit of a 50-entry visit bundle (transaction)', visits(current), visits(legacy));
  add('store: load of a subject of 8 visits', loads(current), loads(legacy), 3);
  const big = (results: readonly StoreScenarioResult[], key: 'transaction1000' | 'batch1000'): Measured[] => results.flatMap((r) => (r[key] ? [r[key]] : []));
  add('store: 1,000-entry transaction', big(current, 'transaction1000'), big(legacy, 'transaction1000'), 150);
  add('store: 1,000-entry batch', big(current, 'batch1000'), big(legacy, 'batch1000'), 150);
  const byCommand = (m: Measured | undefined): string => Object.entries(m?.byCommand ?? {}).map(([k, v]) => `${k.replace(/Command$/, '')} ${v}`).join(', ');
  const notes = [
    `store: a 50-entry visit bundle's calls now: ${byCommand(current[0]?.visitCommits[1])}; before: ${byCommand(legacy[0]?.visitCommits[1])}.`,
    `store: loading the subject (${current[0]?.load.resources ?? 0} resources): ${byCommand(current[0]?.load)} now; ${byCommand(legacy[0]?.load)} before.`,
    'store: the calls of a commit are mostly BatchWriteItem of index entries (about 7 per Observation, one per Provenance target); the 1,000-entry figures stay above 150 calls because each index entry is its own item.',
  ];
  return { rows, notes };
}

await runFigure('store', main);
