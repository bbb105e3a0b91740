/**
 * Deadlines and the edge (issue 14): a request stops before its commit point when its time is out;
 * the body limit is measured as API Gateway delivers the body; links never follow a client's headers.
 */
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { Deadline, DeadlineExceededError, storeWithDeadline, withinDeadline } from '../../../../lambdas/commons/http/deadline.js';
import { deadlineExceeded, outcomeOf } from '../../../../lambdas/commons/http/outcomes.js';
import { deliveredBodyBytes, fromApiGateway, outcomeResponse, toApiGateway } from '../../../../lambdas/commons/http/request.js';
import type { StudyStore } from '../../../../lambdas/commons/store/port.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Class: Deadline', () => {
  it('keeps the margin free of the Lambda remaining time', () => {
    const deadline = Deadline.fromContext({ getRemainingTimeInMillis: () => 10_000 }, 1_000, () => 0);
    expect(deadline.at).toBe(9_000);
    expect(Deadline.fromContext(undefined, 1_000).at).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses to start a commit with less than the reserve left, and any commit once abandoned', () => {
    let now = 0;
    const deadline = new Deadline(5_000, () => now);
    now = 3_000;
    expect(() => deadline.enterCommit(2_500)).toThrow(DeadlineExceededError);
    const other = new Deadline(5_000, () => now);
    other.abandon();
    expect(() => other.enterCommit(0)).toThrow(DeadlineExceededError);
  });

  it('lets the later writes of a request through once its commit started', () => {
    let now = 0;
    const deadline = new Deadline(5_000, () => now);
    deadline.enterCommit(1_000);
    now = 10_000;
    expect(() => deadline.enterCommit(1_000)).not.toThrow();
    deadline.abandon();
    expect(deadline.committing).toBe(true);
  });

  it('answers at the deadline and makes the abandoned work fail at its commit point', async () => {
    const deadline = new Deadline(Date.now() + 50);
    const commits: string[] = [];
    const store = storeWithDeadline({ commit: () => Promise.resolve(commits.push('x') && []) } as unknown as StudyStore, deadline, 0);
    let late: unknown;
    const answer = await withinDeadline(
      deadline,
      async () => {
        await sleep(150);
        try {
          await store.commit([], { atomic: true });
        } catch (err) {
          late = err;
        }
        return 'done';
      },
      () => 'timed out',
    );
    expect(answer).toBe('timed out');
    await sleep(200);
    expect(late).toBeInstanceOf(DeadlineExceededError);
    expect(commits).toEqual([]);
    expect(outcomeOf(late)).toBe(deadlineExceeded);
  });

  it('waits for work past its commit point: its outcome is what the caller must hear', async () => {
    const deadline = new Deadline(Date.now() + 30);
    const answer = await withinDeadline(
      deadline,
      async () => {
        deadline.enterCommit(0);
        await sleep(100);
        return 'committed';
      },
      () => 'timed out',
    );
    expect(answer).toBe('committed');
  });
});

describe('the edge as API Gateway delivers it', () => {
  const event = (extra: Partial<APIGatewayProxyEventV2WithJWTAuthorizer>): APIGatewayProxyEventV2WithJWTAuthorizer =>
    ({ rawPath: '/fhir/Observation', rawQueryString: '', headers: {}, isBase64Encoded: false, requestContext: { domainName: 'api.example', http: { method: 'GET' } }, ...extra }) as APIGatewayProxyEventV2WithJWTAuthorizer;

  it('measures a text body as JSON-escaped inside the event, and a base64 body as its base64 text', () => {
    expect(deliveredBodyBytes({ body: '{"a":"b"}', isBase64Encoded: false })).toBe(13);
    expect(deliveredBodyBytes({ body: '\u0001', isBase64Encoded: false })).toBe(6);
    expect(deliveredBodyBytes({ body: Buffer.from('{"a":1}').toString('base64'), isBase64Encoded: true })).toBe(12);
    expect(fromApiGateway(event({ body: '"x"', isBase64Encoded: false })).deliveredBodyBytes).toBe(5);
  });

  it('builds links from the API domain, never from Host or X-Forwarded-Host', () => {
    const req = fromApiGateway(event({ headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' } }));
    expect(req.baseUrl).toBe('https://api.example/fhir');
  });

  it('marks the $default route and paths outside /fhir as unrouted', () => {
    expect(fromApiGateway(event({ routeKey: '$default' })).unrouted).toBe(true);
    expect(fromApiGateway(event({ rawPath: '/admin' })).unrouted).toBe(true);
    expect(fromApiGateway(event({ routeKey: 'GET /fhir/{proxy+}' })).unrouted).toBeUndefined();
  });

  it('answers 503 with Retry-After, and every answer with no-store and nosniff', () => {
    const res = toApiGateway(outcomeResponse(deadlineExceeded));
    expect(res.statusCode).toBe(503);
    expect(res.headers).toMatchObject({ 'retry-after': '5', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  });
});
