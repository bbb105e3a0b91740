/*
 * `npm run bench`: runs each figure in its own Node process (so each reports its own peak RSS and
 * none warms up another), prints the table, and writes it with the raw samples and notes to
 * bench-results/latest.json. Options: `--only=<figure>[,<figure>]` (ingest-core, end-to-end,
 * screen-derive-predict, cold-start, store, subject-step, validation) and `--profile` (adds a V8 CPU profile per figure under
 * bench-results/profiles/ and prints its hottest functions).
 */
import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { summariseCpuProfile } from './lib/cpu-profile.js';
import { REPO_ROOT } from './lib/context.js';
import { row, type FigureOutput, type FigureRow } from './lib/figure.js';
import { round } from './lib/stats.js';

const run = promisify(execFile);
const FIGURES = ['ingest-core', 'end-to-end', 'screen-derive-predict', 'cold-start', 'store', 'subject-step', 'validation'] as const;
const out = (text: string): boolean => process.stdout.write(`${text}\n`);

async function runChild(name: string, profileDir?: string): Promise<FigureOutput> {
  const resultFile = join(REPO_ROOT, 'bench-results', `${name}.json`);
  rmSync(resultFile, { force: true });
  const args = ['--import', 'tsx', '--expose-gc', '--no-warnings', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), join(REPO_ROOT, 'bench', 'figures', `${name}.ts`)];
  try {
    await run(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, BENCH_OUT: resultFile }, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`figure ${name} failed: ${e.stderr?.slice(-2000) ?? e.message}`);
  }
  return JSON.parse(readFileSync(resultFile, 'utf8')) as FigureOutput;
}

function format(value: number, unit: string): string {
  if (unit === 'bytes') return `${(value / 1024 / 1024).toFixed(2)} MiB`;
  return `${round(value, 3)} ${unit}`;
}

function table(rows: readonly FigureRow[]): string {
  const header = ['figure', 'median', 'unit', 'baseline(s)', 'ratio', 'target', 'met'];
  const lines = rows.map((r) => [
    r.figure,
    r.unit === 'bytes' ? (r.median / 1024 / 1024).toFixed(2) : String(round(r.median, 3)),
    r.unit === 'bytes' ? 'MiB' : r.unit,
    r.baselines.map((b) => `${b.name} ${format(b.median, r.unit)}`).join('; '),
    r.ratios.map((x) => `${round(x.value, 3)}×`).join('; '),
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}

async function main(): Promise<void> {
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
  const profile = process.argv.includes('--profile');
  const figures = FIGURES.filter((f) => !only || only.includes(f));
  const resultsDir = join(REPO_ROOT, 'bench-results');
  mkdirSync(resultsDir, { recursive: true });
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  };
  out(`bench on ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}`);
  const started = performance.now();
  const outputs: FigureOutput[] = [];
  const profiles: Record<string, unknown> = {};
  for (const name of figures) {
    out(`… ${name}`);
    const profileDir = profile ? join(resultsDir, 'profiles', name) : undefined;
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    const output = await runChild(name, profileDir);
    outputs.push(output);
    out(`  done in ${(output.wallMs / 1000).toFixed(1)} s, peak RSS ${output.maxRssMiB.toFixed(0)} MiB`);
    if (profileDir) {
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        const summary = summariseCpuProfile(join(profileDir, file), REPO_ROOT, 20);
        profiles[name] = summary;
        out(`  profile ${join('bench-results', 'profiles', name, file)}: ${summary.totalMs.toFixed(0)} ms on CPU; by area:`);
        for (const l of summary.byArea.slice(0, 8)) out(`    ${l.selfMs.toFixed(0).padStart(7)} ms  ${l.name}`);
        out('  hottest (inclusive):');
        for (const l of summary.byTotal.slice(0, 12)) out(`    ${l.totalMs.toFixed(0).padStart(7)} ms  ${l.name}`);
      }
    }
  }
  const memoryRows = outputs.map((o) =>
    row({ group: '5 memory', figure: `peak RSS of the ${o.name} process`, unit: 'MiB', samples: [o.maxRssMiB], baselines: [] }, false),
  );
  const rows = [...outputs.flatMap((o) => o.rows), ...memoryRows];
  const summary = {
    met: rows.filter((r) => r.met === true).length,
    missed: rows.filter((r) => r.met === false).map((r) => r.figure),
  };
  out('');
  out(table(rows));
  out('');
  out('notes:');
  for (const o of outputs) for (const n of o.notes) out(`- ${n}`);
  out('');
  out(`targets met: ${summary.met}; missed: ${summary.missed.length}${summary.missed.length ? ` (${summary.missed.join('; ')})` : ''}`);
  const totalSeconds = (performance.now() - started) / 1000;
  out(`total ${totalSeconds.toFixed(0)} s`);
  writeFileSync(
    join(resultsDir, 'latest.json'),
    JSON.stringify({ machine, totalSeconds, rows, notes: outputs.flatMap((o) => o.notes), figures: outputs, summary, ...(profile ? { profiles } : {}) }, null, 2),
  );
}

await main();
