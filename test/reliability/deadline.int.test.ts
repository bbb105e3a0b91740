/**
 * Deadlines (issue 14): a request either finishes within its deadline or stops before its commit
 * point and answers 503 with an OperationOutcome and Retry-After; nothing commits after its caller
 * was told it failed. Before the fix middy's timeout answered from outside the handler while the
 * work went on: a retried 1,000-entry batch of which 604 entries committed after the 500.
 *
 * The ingest handler runs as the Lambda runtime calls it (event and context), over the local app's
 * ports with a store whose reads are slowed past the deadline.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../lambdas/commons/limits.js';
import { createIngestHandler } from '../../lambdas/ingest/handler.js';
import { createServeHandler } from '../../lambdas/serve/handler.js';
import { startTestApp, type TestApp } from '../support/local-app.js';
import { labBundle, snapshotDiff, snapshotStore } from './support.js';

/** How long each slowed store read takes. */
const SLOW_MS = 1_500;
/** The Lambda's remaining time at the start; the handler keeps DEADLINE_MARGIN_MS of it free. */
const REMAINING_MS = DEFAULT_LIMITS.DEADLINE_MARGIN_MS + 600;

let app: TestApp;
const logger = new Logger({ serviceName: 'deadline-test', logLevel: 'SILENT' });

beforeAll(async () => {
  app = await startTestApp({ consumers: [] });
});

afterAll(async () => {
  await app?.close();
});

/** Every store call but `commit` waits `SLOW_MS` first; commits are counted. */
function slowedStore<S extends object>(store: S, commits: { started: number }): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const fn = (value as (...a: unknown[]) => Promise<unknown>).bind(target);
      if (prop === 'commit') {
        return (...args: unknown[]) => {
          commits.started++;
          return fn(...args);
        };
      }
      return async (...args: unknown[]) => {
        await new Promise((r) => setTimeout(r, SLOW_MS));
        return fn(...args);
      };
    },
  });
}

function event(method: string, rawPath: string, body?: string, rawQueryString = ''): APIGatewayProxyEventV2WithJWTAuthorizer {
  return {
    version: '2.0',
    routeKey: `${method} ${rawPath}`,
    rawPath,
    rawQueryString,
    headers: { 'content-type': 'application/fhir+json', host: 'api.example' },
    ...(body ? { body, isBase64Encoded: false } : { isBase64Encoded: false }),
    requestContext: {
      domainName: 'api.example',
      http: { method, path: rawPath },
      authorizer: { jwt: { claims: { sub: 'client', client_id: 'client', scope: 'system/*.cruds' }, scopes: [] } },
    },
  } as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
}

const context = (remainingMs: number): Context => {
  const end = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => end - Date.now(), awsRequestId: 'test', functionName: 'ingest' } as unknown as Context;
};

describe('a deadline that is honoured (issue 14)', () => {
  it('answers 503 with Retry-After when the store is slowed past the deadline, and commits nothing afterwards', async () => {
    const commits = { started: 0 };
    const base = app.runtime.ingest();
    const ingest = createIngestHandler(() => ({
        ...base,
        store: slowedStore(base.store, commits),
        identity: slowedStore(base.identity, commits),
        limits: { ...DEFAULT_LIMITS, COMMIT_RESERVE_MS: 100 },
      }), logger);
    const before = await snapshotStore(app);
    const started = Date.now();
    const res = await ingest(event('POST', '/fhir', JSON.stringify(labBundle('deadline-1', 3))), context(REMAINING_MS));
    const answeredAfter = Date.now() - started;
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe(String(DEFAULT_LIMITS.RETRY_AFTER_SECONDS));
    expect(JSON.parse(res.body as string)).toMatchObject({ resourceType: 'OperationOutcome', id: 'deadline' });
    // Answered at the deadline, not when the slowed work ended.
    expect(answeredAfter).toBeLessThan(SLOW_MS * 2);
    // Let the abandoned work run on past every slowed read: it must stop at its commit point.
    await new Promise((r) => setTimeout(r, SLOW_MS * 4));
    expect(commits.started).toBe(0);
    expect(snapshotDiff(before, await snapshotStore(app))).toEqual([]);
  }, 30_000);

  it('commits the same request when its deadline leaves time (the control: the slowed store itself works)', async () => {
    const commits = { started: 0 };
    const base = app.runtime.ingest();
    const ingest = createIngestHandler(() => ({
        ...base,
        store: slowedStore(base.store, commits),
        identity: slowedStore(base.identity, commits),
        limits: { ...DEFAULT_LIMITS, COMMIT_RESERVE_MS: 100 },
      }), logger);
    const res = await ingest(event('POST', '/fhir', JSON.stringify(labBundle('deadline-2', 1))), context(60_000));
    expect(res.statusCode).toBe(200);
    expect(commits.started).toBeGreaterThan(0);
  }, 60_000);

  it('answers a slowed read 503 at its deadline instead of running into the Lambda timeout', async () => {
    const commits = { started: 0 };
    const base = app.runtime.serve();
    const serve = createServeHandler(() => ({ ...base, store: slowedStore(base.store, commits) }), logger);
    const res = await serve(event('GET', '/fhir/Observation', undefined, '_summary=count'), context(REMAINING_MS));
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBeDefined();
  }, 30_000);
});
