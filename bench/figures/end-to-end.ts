/*
 * Figure 2: end to end through the local HTTP API on dynalite (startLocal, persist:false): bundles/s and
 * latency of 50-entry transaction bundles POSTed by a few concurrent clients, with the consumers as
 * wired (derive and screen run in-process inside each ingest's publish) and with `consumers: []`.
 * Each run is a fresh app (fresh in-memory dynalite), so every run writes the same data.
 */
import type { Bundle } from '@medplum/fhirtypes';
import { subscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocal } from '../../local/app.js';
import { signLocalToken } from '../../local/keys.js';
import { quietLogger } from '../lib/context.js';
import { row, runFigure, type FigureRow } from '../lib/figure.js';
import { visitBundle } from '../lib/generate.js';
import { median, quantile } from '../lib/stats.js';

/*
 * Defaults keep the whole bench within about five minutes on two cores: one run of 40 bundles per
 * setting (the app, dynalite and the clients share one Node thread, and a 50-entry bundle costs
 * 0.3–1 s of it). BENCH_E2E_BUNDLES=100 BENCH_E2E_RUNS=3 gives the full size (about 15 minutes).
 */
const BUNDLES = Number(process.env.BENCH_E2E_BUNDLES ?? 40);
const PATIENTS = 10;
const CLIENTS = 4;
const ENTRIES = 50;
const RUNS = Number(process.env.BENCH_E2E_RUNS ?? 1);

/** DynamoDB calls by operation (x-amz-target), counted from Node's HTTP client diagnostics channel. */
const dynamoCalls = new Map<string, number>();
let dynamoErrors = 0;
subscribe('http.client.response.finish', (message) => {
  const { request, response } = message as { request: ClientRequest; response: { statusCode?: number } };
  if (request.getHeader('x-amz-target') && (response.statusCode ?? 200) >= 400) dynamoErrors++;
});
subscribe('http.client.request.start', (message) => {
  const target = (message as { request: ClientRequest }).request.getHeader('x-amz-target');
  if (typeof target === 'string') {
    const op = target.replace(/^DynamoDB_\d+\./, '');
    dynamoCalls.set(op, (dynamoCalls.get(op) ?? 0) + 1);
  }
});
const P99_TARGET_MS = 500;

interface RunResult {
  readonly bundlesPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
  /** DynamoDB calls per bundle, by operation. */
  readonly callsPerBundle: Record<string, number>;
  /** DynamoDB answers ≥ 400 (conditional-check failures: version races, lock waits) per bundle. */
  readonly errorsPerBundle: number;
  /** Process CPU time ÷ wall time during the run: below 1 the process waited rather than worked. */
  readonly cpuShare: number;
  readonly cpuMsPerBundle: number;
}

async function oneRun(consumersOn: boolean, bodies: readonly string[]): Promise<RunResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  const app = await startLocal({
    dataDir,
    port: 0,
    persist: false,
    relayIntervalMs: 0,
    logger: quietLogger(),
    ...(consumersOn ? {} : { consumers: [] }),
  });
  try {
    const token = await signLocalToken(dataDir, 'system/*.cruds');
    const post = async (body: string): Promise<{ ms: number; ok: boolean }> => {
      const start = performance.now();
      const res = await fetch(`${app.baseUrl}`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${token}` },
        body,
      });
      const answer = (await res.json()) as Bundle;
      const ok = res.status === 200 && (answer.entry ?? []).every((e) => /^20[01]/.test(e.response?.status ?? ''));
      return { ms: performance.now() - start, ok };
    };
    // One warm-up request (first validation of each type, first SDK connection), outside the timing.
    await post(JSON.stringify(visitBundle(999, 0, ENTRIES)));
    const latencies: number[] = [];
    let failures = 0;
    let next = 0;
    dynamoCalls.clear();
    dynamoErrors = 0;
    const cpu = process.cpuUsage();
    const start = performance.now();
    // A few clients, each posting its next bundle as soon as its previous one is answered. Bundles of one
    // patient go in visit order (bundle i is patient i % PATIENTS), so clients mostly touch different patients.
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        for (let i = next++; i < bodies.length; i = next++) {
          const { ms, ok } = await post(bodies[i] as string);
          latencies.push(ms);
          failures += ok ? 0 : 1;
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    const cpuSeconds = (used.user + used.system) / 1e6;
    const callsPerBundle = Object.fromEntries([...dynamoCalls].sort((a, b) => b[1] - a[1]).map(([op, n]) => [op, Math.round((10 * n) / bodies.length) / 10]));
    return {
      bundlesPerSecond: bodies.length / seconds,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      failures,
      callsPerBundle,
      errorsPerBundle: dynamoErrors / bodies.length,
      cpuShare: cpuSeconds / seconds,
      cpuMsPerBundle: (1000 * cpuSeconds) / bodies.length,
    };
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<{ rows: FigureRow[]; notes: string[] }> {
  const bodies = Array.from({ length: BUNDLES }, (_, i) => JSON.stringify(visitBundle(i % PATIENTS, Math.floor(i / PATIENTS), ENTRIES)));
  const rows: FigureRow[] = [];
  const notes: string[] = [];
  const results = new Map<boolean, RunResult[]>([
    [true, []],
    [false, []],
  ]);
  for (let r = 0; r < RUNS; r++) {
    for (const consumersOn of [false, true]) {
      results.get(consumersOn)?.push(await oneRun(consumersOn, bodies));
    }
  }
  for (const consumersOn of [true, false]) {
    const runs = results.get(consumersOn) ?? [];
    const label = consumersOn ? 'consumers as wired (derive + screen in-process)' : 'consumers off (ingest path alone)';
    const failures = runs.reduce((n, r) => n + r.failures, 0);
    const group = '2 end to end';
    const what = `${BUNDLES} × ${ENTRIES}-entry bundles, ${CLIENTS} clients, ${label}`;
    rows.push(
      row({ group, figure: `HTTP ingest throughput, ${what}`, unit: 'bundles/s', samples: runs.map((r) => r.bundlesPerSecond), baselines: [] }, true),
      row({ group, figure: `HTTP ingest p50 latency, ${label}`, unit: 'ms', samples: runs.map((r) => r.p50), baselines: [] }, false),
      row(
        {
          group,
          figure: `HTTP ingest p99 latency, ${label}`,
          unit: 'ms',
          samples: runs.map((r) => r.p99),
          baselines: [],
          target: `≤ ${P99_TARGET_MS} ms`,
          meets: (m) => m <= P99_TARGET_MS,
        },
        false,
      ),
    );
    notes.push(
      `end to end, ${label}: ${failures} of ${RUNS * BUNDLES} requests not answered 200 with every entry 200/201; ` +
        `resources/s ≈ ${Math.round(median(runs.map((r) => r.bundlesPerSecond)) * ENTRIES)}; DynamoDB calls per bundle (first run) ${JSON.stringify(runs[0]?.callsPerBundle ?? {})}, ` +
        `DynamoDB 4xx answers per bundle ${(runs[0]?.errorsPerBundle ?? 0).toFixed(1)}, process CPU ${Math.round(runs[0]?.cpuMsPerBundle ?? 0)} ms per bundle, ` +
        `CPU busy ${Math.round(100 * (runs[0]?.cpuShare ?? 0))}% of wall time (one thread runs app, dynalite and clients)`,
    );
  }
  return { rows, notes };
}

await runFigure('end-to-end', main);
