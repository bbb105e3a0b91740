/*
 * Figure 4: bundle size and cold start of each Lambda (lambdas/<name>/handler.ts). Each handler is
 * bundled with esbuild (platform node, ESM, target node20 — the CDK bundling targets node24 —, minified,
 * @aws-sdk/* external because the Lambda runtime provides it; the CDK stack bundles the SDK instead,
 * whose size is reported beside). Then, several times, a fresh Node process imports the bundle and
 * handles one event; the floor is a bare handler bundled the same way.
 *
 * The external bundles sit under bench-results/ inside the repository, so bare @aws-sdk/* imports
 * resolve from the repo's node_modules, as the runtime's SDK would. A second, SDK-bundled build is then
 * run once from an empty directory outside the repo, as a Lambda runs with nothing but the bundle and
 * fhir-profiles/ (the base R4 definitions prepared per type under generated/r4 included).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ensureTables } from '../../lambdas/commons/store/tables.js';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { startDynalite } from '../../local/dynalite.js';
import { REPO_ROOT } from '../lib/context.js';
import { row, runFigure, type FigureRow } from '../lib/figure.js';
import { median } from '../lib/stats.js';

const run = promisify(execFile);
const RUNS = 5;
const SIZE_TARGET = 1.5 * 1024 * 1024;
const INIT_TARGET_MS = 300;
/** ESM bundles still hold CommonJS dependencies that call `require` (as infra/bundling.ts does). */
const REQUIRE_BANNER = "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);";

interface Invocation {
  readonly importMs: number;
  readonly firstEventMs: number;
  /** The same event handled again in the same process (warm), so that first − second is the cold start's one-time work. */
  readonly secondEventMs: number;
  readonly statusCode?: number;
  readonly error?: string;
  readonly maxRssMiB: number;
  /** From process start to the answer, measured in the child (Node boot included). */
  readonly uptimeMs: number;
}

const CHILD = `
const t0 = performance.now();
let out;
try {
  const mod = await import(process.argv[1]);
  const t1 = performance.now();
  const context = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 30000, callbackWaitsForEmptyEventLoop: false };
  const result = await mod.handler(JSON.parse(process.argv[2]), context);
  const t2 = performance.now();
  // The same event again, warm: what the first event cost beyond it is the cold start's own work.
  await mod.handler(JSON.parse(process.argv[2]), context);
  const t3 = performance.now();
  out = { importMs: t1 - t0, firstEventMs: t2 - t1, secondEventMs: t3 - t2, statusCode: result?.statusCode ?? 200 };
} catch (err) {
  out = { importMs: NaN, firstEventMs: NaN, error: String(err?.message ?? err).slice(0, 300) };
}
out.maxRssMiB = process.resourceUsage().maxRSS / 1024;
out.uptimeMs = process.uptime() * 1000;
process.stdout.write('\\n@@' + JSON.stringify(out));
process.exit(0);
`;

function apiEvent(method: string, path: string, body?: unknown, scope = 'system/*.cruds'): unknown {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: { host: 'api.example.org', 'content-type': 'application/fhir+json' },
    requestContext: {
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      domainName: 'api.example.org',
      requestId: 'bench',
      authorizer: { jwt: { claims: { sub: 'bench', scope }, scopes: [] } },
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    isBase64Encoded: false,
  };
}

async function bundle(entry: string, outfile: string, sdkExternal: boolean): Promise<number> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    mainFields: ['module', 'main'],
    banner: { js: REQUIRE_BANNER },
    external: sdkExternal ? ['@aws-sdk/*'] : [],
    logLevel: 'silent',
  });
  return statSync(outfile).size;
}

async function invoke(file: string, event: unknown, env: Record<string, string>, cwd: string): Promise<Invocation> {
  const { stdout } = await run(process.execPath, ['--no-warnings', '--input-type=module', '-e', CHILD, pathToFileURL(file).href, JSON.stringify(event)], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.split('\n@@').at(-1) ?? '{}';
  return JSON.parse(line) as Invocation;
}

async function main(): Promise<{ rows: FigureRow[]; notes: string[] }> {
  const rows: FigureRow[] = [];
  const notes: string[] = [];
  const names = readdirSync(join(REPO_ROOT, 'lambdas'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && statSafe(join(REPO_ROOT, 'lambdas', d.name, 'handler.ts')))
    .map((d) => d.name)
    .sort();
  const outDir = join(REPO_ROOT, 'bench-results', 'cold-start');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const floorEntry = join(outDir, 'floor-handler.mjs');
  writeFileSync(floorEntry, 'export const handler = async () => ({ statusCode: 200 });\n');

  const dynamo = await startDynalite();
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  const tables = await ensureTables(client, 'bench');
  const baseEnv: Record<string, string> = {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    STUDY_TABLE: tables.study,
    IDENTITY_TABLE: tables.identity,
    FHIR_PROFILES_DIR: join(REPO_ROOT, 'fhir-profiles'),
    // The ingest hashes source identifiers with this key (created on first use), as DATA_DIR/source-key locally.
    SOURCE_KEY_FILE: join(outDir, 'source-key'),
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  };
  const ingestBody = sampleSubjectBundle({ patientId: 'cold-1', day0: '2024-03-04', bundleType: 'batch' });
  const events: Record<string, unknown> = {
    serve: apiEvent('GET', '/fhir/metadata'),
    ingest: apiEvent('POST', '/fhir', ingestBody),
    identity: apiEvent('GET', '/fhir/Patient/00000000-0000-4000-8000-000000000000/$hospital-identity', undefined, 'recruitment/identity.read'),
    relay: {},
    // The consumers take SQS batches of EventBridge envelopes; an unknown subject: load, compute, write.
    'subject-step': sqsEvent(),
    notify: sqsEvent(),
    subscriptions: apiEvent('GET', '/fhir/Subscription'),
    export: apiEvent('GET', '/fhir/bulk-status/00000000-0000-4000-8000-000000000000'),
    review: apiEvent('POST', '/fhir/Task/unknown-task/$settle', { resourceType: 'Parameters', parameter: [{ name: 'decision', valueCode: 'present' }] }, 'system/Task.u system/Observation.c'),
  };

  try {
    const floorFile = join(outDir, 'floor', 'index.mjs');
    const floorBytes = await bundle(floorEntry, floorFile, true);
    const measure = async (file: string, event: unknown, env: Record<string, string>): Promise<Invocation[]> => {
      const out: Invocation[] = [];
      for (let i = 0; i < RUNS; i++) out.push(await invoke(file, event, env, REPO_ROOT));
      return out;
    };
    const floor = await measure(floorFile, {}, baseEnv);
    const floorInit = median(floor.map((r) => r.importMs + r.firstEventMs));
    const floorUptime = median(floor.map((r) => r.uptimeMs));
    const floorRss = median(floor.map((r) => r.maxRssMiB));
    rows.push(
      row({ group: '4 cold start', figure: 'bare handler (floor): bundle', unit: 'bytes', samples: [floorBytes], baselines: [] }, false),
      row({ group: '4 cold start', figure: 'bare handler (floor): import + first event', unit: 'ms', samples: floor.map((r) => r.importMs + r.firstEventMs), baselines: [] }, false),
    );
    const isolatedRoot = mkdtempSync(join(tmpdir(), 'bench-isolated-'));
    for (const name of names) {
      // Each function on its own empty tables: what one committed (ingest) must not change another's run (relay).
      const own = await ensureTables(client, `bench-${name}`);
      const env = { ...baseEnv, STUDY_TABLE: own.study, IDENTITY_TABLE: own.identity, JOBS_TABLE: own.jobs, SUBSCRIPTION_TABLE: own.subscriptions };
      const entry = join(REPO_ROOT, 'lambdas', name, 'handler.ts');
      const file = join(outDir, name, 'index.mjs');
      const bytes = await bundle(entry, file, true);
      const withSdk = await bundle(entry, join(isolatedRoot, name, 'index.mjs'), false);
      const results = await measure(file, events[name] ?? {}, env);
      const failed = results.filter((r) => r.error || (r.statusCode ?? 200) >= 500);
      const measured = failed.length < results.length;
      rows.push(
        row(
          {
            group: '4 cold start',
            figure: `${name}: bundle (minified ESM, @aws-sdk external)`,
            unit: 'bytes',
            samples: [bytes],
            baselines: [
              { name: 'bare handler', median: floorBytes },
              { name: `same with the SDK bundled as the CDK does (${(withSdk / 1024 / 1024).toFixed(2)} MiB)`, median: withSdk },
            ],
            target: '≤ 1.5 MiB',
            meets: (m) => m <= SIZE_TARGET,
          },
          false,
        ),
      );
      // A function whose every run failed has no representative event here (audit: CloudWatch Logs
      // batches; import: an S3 manifest): its time would be a crash's, so no figure, only the note.
      if (measured)
        rows.push(
        row(
          {
            group: '4 cold start',
            figure: `${name}: import + first event (${describe(name)})`,
            unit: 'ms',
            samples: results.map((r) => r.importMs + r.firstEventMs),
            baselines: [{ name: 'bare handler', median: floorInit }],
            target: `≤ ${INIT_TARGET_MS} ms`,
            meets: (m) => m <= INIT_TARGET_MS,
          },
          false,
        ),
      );
      notes.push(
        `cold start ${name}: import ${median(results.map((r) => r.importMs)).toFixed(0)} ms + first event ${median(results.map((r) => r.firstEventMs)).toFixed(0)} ms ` +
          `(the same event warm: ${median(results.map((r) => r.secondEventMs)).toFixed(0)} ms) ` +
          `(status ${results.map((r) => r.statusCode ?? r.error).join(', ')}); spawn-to-answer ${median(results.map((r) => r.uptimeMs)).toFixed(0)} ms vs ${floorUptime.toFixed(0)} ms bare; ` +
          `peak RSS ${median(results.map((r) => r.maxRssMiB)).toFixed(0)} MiB vs ${floorRss.toFixed(0)} MiB bare` +
          (failed.length > 0 ? `; FAILED ${failed.length}/${results.length}: ${failed[0]?.error ?? `status ${failed[0]?.statusCode}`}` : ''),
      );
      // The CDK's choice (SDK bundled), run from inside the repo so only the SDK's packaging differs.
      const sdkFile = join(outDir, `${name}-sdk-bundled`, 'index.mjs');
      await bundle(entry, sdkFile, false);
      const sdkRuns: Invocation[] = [];
      for (let i = 0; i < 3; i++) sdkRuns.push(await invoke(sdkFile, events[name] ?? {}, env, REPO_ROOT));
      notes.push(
        `cold start ${name} with the SDK bundled (as infra/bundling.ts): import ${median(sdkRuns.map((r) => r.importMs)).toFixed(0)} ms + first event ` +
          `${median(sdkRuns.map((r) => r.firstEventMs)).toFixed(0)} ms (median of ${sdkRuns.length})`,
      );
      // Isolated: the SDK-bundled build alone in an empty directory, fhir-profiles/ via FHIR_PROFILES_DIR.
      const isolated = await invoke(join(isolatedRoot, name, 'index.mjs'), events[name] ?? {}, env, join(isolatedRoot, name));
      notes.push(
        `isolated ${name} (SDK bundled, no node_modules beside it): ` +
          (isolated.error ? `breaks at import: ${isolated.error}` : `runs, status ${isolated.statusCode}, import + first event ${(isolated.importMs + isolated.firstEventMs).toFixed(0)} ms`),
      );
    }
    rmSync(isolatedRoot, { recursive: true, force: true });
  } finally {
    client.destroy();
    await dynamo.close();
  }
  return { rows, notes };
}

function sqsEvent(): unknown {
  const detail = { eventId: 'bench-1', patient: 'bench-subject-1', kinds: ['Observation'], occurredAt: '2024-06-10T08:00:00Z' };
  return {
    Records: [
      {
        messageId: 'bench-1',
        receiptHandle: 'bench',
        body: JSON.stringify({ 'detail-type': 'study data changed', source: 'belimumab-sle', detail }),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'bench', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:eu-west-1:000000000000:bench',
        awsRegion: 'eu-west-1',
      },
    ],
  };
}

function describe(name: string): string {
  switch (name) {
    case 'serve':
      return 'GET /fhir/metadata';
    case 'ingest':
      return 'POST /fhir, a 27-entry sample batch, dynalite';
    case 'identity':
      return 'GET $hospital-identity of an unknown pseudonym, dynalite';
    case 'relay':
      return 'scheduled run on empty tables, dynalite';
    case 'subject-step':
      return 'one SQS study event for a subject with no data, dynalite';
    case 'notify':
      return 'one SQS study event, no subscriptions, dynalite';
    case 'subscriptions':
      return 'GET /fhir/Subscription, dynalite';
    case 'export':
      return 'GET bulk-status of an unknown job, dynalite';
    case 'review':
      return 'POST $settle of an unknown Task, dynalite';
    default:
      return 'empty event';
  }
}

function statSafe(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

await runFigure('cold-start', main);
