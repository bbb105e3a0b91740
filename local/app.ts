import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { decodeJwt } from 'jose';
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { LocalAlerts } from '../lambdas/commons/alerts/local.js';
import { verifyBearer } from '../lambdas/commons/auth/index.js';
import { loadConfig, type Config } from '../lambdas/commons/config.js';
import type { EventsPort } from '../lambdas/commons/events/port.js';
import { joinInFlight, relayOutbox, singleFlight } from '../lambdas/commons/events/relay.js';
import { outcomeOf, payloadTooLarge } from '../lambdas/commons/http/outcomes.js';
import { fileKeyProvider } from '../lambdas/commons/privacy/source-key.js';
import { createRuntime, type Runtime } from '../lambdas/commons/runtime.js';
import { DynamoIdentityStore } from '../lambdas/commons/store/dynamo-identity-store.js';
import { DynamoStudyStore } from '../lambdas/commons/store/dynamo-study-store.js';
import type { StudyDataChanged } from '../lambdas/commons/store/port.js';
import { ensureTables, tableNames } from '../lambdas/commons/store/tables.js';
import { createIdentityHandler } from '../lambdas/identity/handler.js';
import { RESOLVE_ROUTE } from '../lambdas/identity/resolve-request.js';
import { createIngestHandler } from '../lambdas/ingest/handler.js';
import { deliverPendingAlerts } from '../lambdas/commons/alerts/pending.js';
import { createReviewHandler } from '../lambdas/review/handler.js';
import { SETTLE_ROUTE } from '../lambdas/review/settle-request.js';
import { createServeHandler } from '../lambdas/serve/handler.js';
import { tickSubscriptions } from '../lambdas/notify/deliver.js';
import { createSubscriptionsHandler } from '../lambdas/subscriptions/handler.js';
import { DynamoSubscriptionLedger } from '../lambdas/subscriptions/ledger/dynamo-ledger.js';
import { SUBSCRIPTION_ROUTE } from '../lambdas/subscriptions/subscription-request.js';
import { ensureAlertSubscription } from '../lambdas/commons/alerts/subscriber.js';
import { httpAuditEdge } from '../lambdas/commons/audit/http-edge.js';
import { LocalAuditQueue } from '../lambdas/commons/audit/local-queue.js';
import { DynamoJobStore } from '../lambdas/commons/jobs/dynamo-job-store.js';
import { FILE_ROUTE, LocalJobFiles } from '../lambdas/commons/jobs/local-files.js';
import { runExport } from '../lambdas/export/core/run-export.js';
import { authorizeDownload, isExportRoute } from '../lambdas/export/export-request.js';
import { createExportHandler } from '../lambdas/export/handler.js';
import { InProcessJobQueue } from '../lambdas/export/local-queue.js';
import { exportDeps } from '../lambdas/export/root.js';
import { runImport } from '../lambdas/import/core/run-import.js';
import { createImportHandler } from '../lambdas/import/import-handler.js';
import { IMPORT_ROUTE } from '../lambdas/import/import-request.js';
import { startDynalite } from './dynalite.js';
import { localVerifyOptions } from './keys.js';
import { createLocalAuth, requestOrigin } from './auth/server.js';
import { isAppPath, resolveAppDir, serveApp } from './static-app.js';

/** `POST [type]/_search` and `POST [type]/$validate` go to serve, as their API routes do (infra/functions.ts). */
const SEARCH_ROUTE = /^\/[A-Z][A-Za-z]+\/(?:_search|\$validate)$/;

/** Something in the local process that reacts to "study data changed", as the SQS-fed Lambdas do in AWS. */
export type LocalConsumer = (event: StudyDataChanged) => Promise<void>;

/** The running local layer. */
export interface LocalApp {
  readonly baseUrl: string;
  readonly runtime: Runtime;
  readonly dataDir: string;
  /** dynalite's endpoint (tests read the tables whole). */
  readonly dynamoEndpoint: string;
  /** Publishes what the outbox still holds (the relay also runs on a timer). */
  drainOutbox(): Promise<number>;
  /** Sends the subscription notifications that are due (retries) and heartbeats (also on a timer). */
  tickSubscriptions(): Promise<{ delivered: number; heartbeats: number }>;
  /** Resolves once no Bulk Data job runs in the process. */
  bulkIdle(): Promise<void>;
  /** Resolves once every access answered so far is committed as an AuditEvent. */
  flushAudit(): Promise<void>;
  close(): Promise<void>;
}

export interface LocalOptions {
  readonly dataDir: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Keep dynalite's data in DATA_DIR (default) or in memory (tests). */
  readonly persist?: boolean;
  /** A DynamoDB API already running (a dynalite in another process: memory tests); none is started then. */
  readonly dynamoEndpoint?: string;
  readonly env?: Record<string, string | undefined>;
  readonly consumers?: readonly LocalConsumer[];
  readonly logger?: Logger;
  /** How often the outbox relay runs; 0 turns the timer off. */
  readonly relayIntervalMs?: number;
  /** How often subscription retries and heartbeats run (default 1 s); 0 turns the timer off. */
  readonly subscriptionIntervalMs?: number;
  /** The built study app served at /app/ (default: env APP_DIR, else app/dist; see local/static-app.ts). */
  readonly appDir?: string;
}

/** In-process delivery of study events to the local consumers, one after another. */
class InProcessEvents implements EventsPort {
  constructor(private readonly consumers: readonly LocalConsumer[]) {}

  async publish(events: readonly StudyDataChanged[]): Promise<void> {
    for (const event of events) {
      for (const consume of this.consumers) {
        await consume(event);
      }
    }
  }
}

/**
 * Starts the layer on one machine: dynalite on loopback, the tables from the same definitions the CDK
 * stack uses, and the ingest and serve handlers behind a small HTTP server that plays API Gateway and
 * its JWT authorizer (verified against the local signing key in DATA_DIR).
 * @param options - Where to keep data, which port, extra environment.
 * @returns The running app.
 */
export async function startLocal(options: LocalOptions): Promise<LocalApp> {
  mkdirSync(options.dataDir, { recursive: true });
  const dynamo = options.dynamoEndpoint
    ? { endpoint: options.dynamoEndpoint, close: () => Promise.resolve() }
    : await startDynalite(options.persist === false ? undefined : join(options.dataDir, 'dynamodb'));
  const names = tableNames('local');
  const config: Config = loadConfig({
    ...options.env,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    STUDY_TABLE: names.study,
    IDENTITY_TABLE: names.identity,
    SUBSCRIPTION_TABLE: names.subscriptions,
    // Receivers on this machine may use plain http to loopback; anywhere else a Subscription needs https.
    SUBSCRIPTION_ALLOW_LOOPBACK_HTTP: options.env?.SUBSCRIPTION_ALLOW_LOOPBACK_HTTP ?? 'true',
  });
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: config.AWS_REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await ensureTables(client, 'local');
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const logger = options.logger ?? new Logger({ serviceName: 'local' });
  const store = new DynamoStudyStore({ client: doc, tableName: names.study });
  const identity = new DynamoIdentityStore({ client: doc, tableName: names.identity });
  const consumers: LocalConsumer[] = [];
  // One delivery of an event at a time, whether the ingest or the relay publishes it.
  const events = joinInFlight(new InProcessEvents(consumers));
  // The webhook hears the alert JSON, or (ALERT_WEBHOOK_FORMAT=fhir-subscription) is a Subscription on the recruitment topic.
  const webhookIsSubscription = config.ALERT_WEBHOOK_FORMAT === 'fhir-subscription';
  const alerts = new LocalAlerts(logger, webhookIsSubscription ? undefined : config.ALERT_WEBHOOK_URL, () => config.APP_BASE_URL ?? `http://127.0.0.1:${(server.address() as AddressInfo | null)?.port ?? 0}/app`);
  const ledger = new DynamoSubscriptionLedger({ client: doc, tableName: names.subscriptions });
  // Every access under /fhir leaves one AuditEvent, recorded at the edge after the answer has left (in AWS the
  // API functions' middleware does it), and so does each notification POST; an in-process queue commits them.
  const auditQueue = new LocalAuditQueue(store, logger);
  const runtime = createRuntime({ config, store, identity, events, alerts, logger, ledger, audit: auditQueue });
  consumers.push(...(options.consumers ?? runtime.consumers()));
  // The source-identifier key lives beside the data, not in it: DATA_DIR/source-key, mode 0600, created on first use.
  const sourceKey = fileKeyProvider(config.SOURCE_KEY_FILE ?? join(options.dataDir, 'source-key'));
  const ingest = createIngestHandler(() => ({ ...runtime.ingest(), sourceKey }), logger);
  const serve = createServeHandler(() => runtime.serve(), logger);
  const resolveIdentity = createIdentityHandler(() => ({ identity, logger, now: () => new Date() }), logger);
  const review = createReviewHandler(() => ({ base: config.CANONICAL_BASE, store, events, logger, now: () => new Date() }), logger);
  const subscriptionsApi = createSubscriptionsHandler(() => runtime.subscriptions(), logger);
  // Bulk Data export: jobs on their own table, files in DATA_DIR/exports, the worker in process.
  const jobs = new DynamoJobStore({ client: doc, tableName: names.jobs });
  const jobFiles = new LocalJobFiles(join(options.dataDir, 'exports'));
  const exportQueue = new InProcessJobQueue((id, timeLeft) => runExport(id, bulk.worker(timeLeft)), logger);
  const bulk = exportDeps({ config, store, jobs, files: jobFiles, queue: exportQueue, logger });
  const exportApi = createExportHandler(() => bulk.http, logger);
  // Bulk import: NDJSON files under IMPORT_DIR through the ingest core, chunk by chunk, the consumers behind.
  const importQueue = new InProcessJobQueue(async (id) => {
    await runImport(id, { ingest: { ...runtime.ingest(), sourceKey }, events, jobs, logger, now: () => new Date() });
    return 'completed';
  }, logger);
  const importApi = createImportHandler(() => ({ jobs, queue: importQueue, logger, now: () => new Date(), ...(config.IMPORT_DIR ? { importDir: config.IMPORT_DIR } : {}) }), logger);
  const verify = localVerifyOptions(options.dataDir);
  const auditEdge = httpAuditEdge({
    queue: auditQueue,
    logger,
    claims: async (authorization) => {
      try {
        await verifyBearer(authorization, await verify);
        return decodeJwt((authorization ?? '').replace(/^Bearer\s+/i, ''));
      } catch {
        return undefined;
      }
    },
  });
  // The study app and its local SMART authorization server (local/auth/), on the same origin as the API.
  const appDir = resolveAppDir(options.appDir, options.env ?? process.env);
  const auth = createLocalAuth({ dataDir: options.dataDir });

  const server = createServer((req, res) => {
    auditEdge.watch(req, res).then(() => route(req, res)).catch((err: unknown) => {
      logger.error('Local server failed', { error: (err as Error).name });
      send(res, { statusCode: 500, body: JSON.stringify(outcomeOf(err)) });
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req, config.MAX_BODY_BYTES);
    if (body === 'too-large') {
      send(res, { statusCode: 413, body: JSON.stringify(payloadTooLarge(config.MAX_BODY_BYTES)) });
      return;
    }
    if (isAppPath(url.pathname)) {
      await serveApp(req.method ?? 'GET', url.pathname, appDir, res);
      return;
    }
    if (url.pathname.startsWith('/auth/')) {
      await auth.handle(req, url, body, res);
      return;
    }
    const origin = requestOrigin(req);
    if (url.pathname === '/fhir/.well-known/smart-configuration' && !(config.JWT_ISSUER && config.SMART_TOKEN_ENDPOINT) && origin) {
      // No identity provider configured: discovery names the local authorization server.
      send(res, { statusCode: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(auth.discovery(origin)) });
      return;
    }
    // Public as in infra/functions.ts: what a client reads before it has a token.
    const isPublic = url.pathname === '/fhir/metadata' || url.pathname === '/fhir/.well-known/smart-configuration';
    let claims: Record<string, unknown> = {};
    if (!isPublic) {
      try {
        await verifyBearer(req.headers.authorization, await verify);
        claims = decodeJwt((req.headers.authorization ?? '').replace(/^Bearer\s+/i, ''));
      } catch (err) {
        send(res, { statusCode: 401, headers: { 'www-authenticate': 'Bearer' }, body: JSON.stringify(outcomeOf(err)) });
        return;
      }
    }
    const event = toEvent(req, url, body, claims);
    const path = url.pathname.replace(/^\/fhir/, '');
    const file = FILE_ROUTE.exec(path);
    if (file && req.method === 'GET') {
      // A Bulk Data file (requiresAccessToken: true): streamed from DATA_DIR to the job's own client.
      const allowed = await authorizeDownload(jobs, claims, file[1] as string, file[2] as string);
      const opened = 'contentType' in allowed ? await jobFiles.open(file[1] as string, file[2] as string) : undefined;
      if (!opened || !('contentType' in allowed)) {
        send(res, { statusCode: 404, body: JSON.stringify('contentType' in allowed ? { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] } : allowed) });
        return;
      }
      res.writeHead(200, { 'content-type': allowed.contentType, 'content-length': String(opened.size), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      opened.stream.pipe(res);
      return;
    }
    const [name, handler] = IMPORT_ROUTE.test(path)
      ? (['import', importApi] as const)
      : isExportRoute(path)
      ? (['export', exportApi] as const)
      : RESOLVE_ROUTE.test(path)
      ? (['identity', resolveIdentity] as const)
      : SETTLE_ROUTE.test(path)
        ? (['review', review] as const)
        : SUBSCRIPTION_ROUTE.test(path)
        ? (['subscriptions', subscriptionsApi] as const)
        : req.method === 'POST' && !SEARCH_ROUTE.test(path)
          ? (['ingest', ingest] as const)
          : (['serve', serve] as const);
    send(res, await handler(event, lambdaContext(name)));
  }

  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  if (config.ALERT_WEBHOOK_URL && webhookIsSubscription) {
    await ensureAlertSubscription(config.ALERT_WEBHOOK_URL, config.CANONICAL_BASE, `http://127.0.0.1:${port}/fhir`, runtime.subscriptions());
  }
  // One drain at a time: the timer's next tick joins a drain still under way.
  const drainOutbox = singleFlight(async (): Promise<number> => {
    await store.sweep();
    const published = await relayOutbox(store, events);
    await deliverPendingAlerts({ store, alerts, now: () => new Date() });
    return published;
  });
  const interval = options.relayIntervalMs ?? 5000;
  const timer = interval > 0 ? setInterval(() => void drainOutbox().catch(() => undefined), interval) : undefined;
  // Subscriptions: retries that are due and heartbeats (in AWS the notifier's schedule, infra/subscriptions.ts).
  const tickNotifier = singleFlight(() => tickSubscriptions(runtime.notify()));
  const subscriptionInterval = options.subscriptionIntervalMs ?? 1000;
  const subscriptionTimer = subscriptionInterval > 0 ? setInterval(() => void tickNotifier().catch(() => undefined), subscriptionInterval) : undefined;
  return {
    baseUrl: `http://127.0.0.1:${port}/fhir`,
    runtime,
    dataDir: options.dataDir,
    dynamoEndpoint: dynamo.endpoint,
    drainOutbox,
    tickSubscriptions: tickNotifier,
    bulkIdle: async () => {
      await exportQueue.idle();
      await importQueue.idle();
    },
    flushAudit: () => auditEdge.flush(),
    close: async () => {
      if (timer) clearInterval(timer);
      if (subscriptionTimer) clearInterval(subscriptionTimer);
      await tickNotifier().catch(() => undefined);
      await new Promise<void>((resolve) => closeServer(server, resolve));
      await exportQueue.stop();
      await importQueue.stop();
      await auditEdge.flush().catch(() => undefined);
      auditQueue.close();
      client.destroy();
      await dynamo.close();
    },
  };
}

function closeServer(server: Server, done: () => void): void {
  server.close(() => done());
  server.closeAllConnections();
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      return 'too-large';
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toEvent(req: IncomingMessage, url: URL, body: Buffer, claims: Record<string, unknown>): APIGatewayProxyEventV2WithJWTAuthorizer {
  const method = req.method ?? 'GET';
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v ?? '']));
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: `${method} ${url.pathname}`,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers: { ...headers, 'x-forwarded-proto': 'http' },
    // As API Gateway delivers it: JSON as text (escaped inside the event, which Lambda's 6 MB limit
    // counts), anything else base64; so the layer's body limit fires here as it does in AWS.
    ...(body.length === 0
      ? { isBase64Encoded: false }
      : /json/i.test(String(req.headers['content-type'] ?? '')) && isUtf8(body)
        ? { body: body.toString('utf8'), isBase64Encoded: false }
        : { body: body.toString('base64'), isBase64Encoded: true }),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: req.headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: req.headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey: `${method} ${url.pathname}`,
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
      authorizer: { principalId: typeof claims.sub === 'string' ? claims.sub : '', integrationLatency: 0, jwt: { claims: claims as Record<string, string>, scopes: [] } },
    },
  };
}

function lambdaContext(name: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `${name}-local`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}-local`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/local/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  res.writeHead(result.statusCode ?? 200, { 'content-type': 'application/fhir+json; charset=utf-8', ...(result.headers as Record<string, string>) });
  res.end(result.body ?? '');
}
