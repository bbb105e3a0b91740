/**
 * The API functions' audit middleware (AWS): one access record per request, handed over before the
 * answer leaves (a log line the audit function is subscribed to); when no port takes it the record
 * is kept in the function's log and a read is refused 503 rather than answered unaudited.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AccessRecord } from '../../../../lambdas/commons/audit/access-record.js';
import { AUDIT_RECORD_FIELD, LogAudit } from '../../../../lambdas/commons/audit/log-audit.js';
import { auditAccess } from '../../../../lambdas/commons/audit/middleware.js';
import type { AuditPort } from '../../../../lambdas/commons/audit/port.js';

const logger = new Logger({ serviceName: 'test', logLevel: 'CRITICAL' });
const context = { getRemainingTimeInMillis: () => 10_000 } as Context;

function event(method: string, rawPath: string, rawQueryString = ''): APIGatewayProxyEventV2WithJWTAuthorizer {
  return {
    rawPath,
    rawQueryString,
    headers: {},
    requestContext: { requestId: `r-${Math.random()}`, domainName: 'api.example.org', http: { method, sourceIp: '10.0.0.1' }, authorizer: { jwt: { claims: { sub: 'app-1', client_id: 'app-1' } } } },
  } as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
}

function handlerWith(ports: AuditPort[], answer: APIGatewayProxyStructuredResultV2 = { statusCode: 200, body: '{"resourceType":"Observation","id":"o1","subject":{"reference":"Patient/S-ABCDEFGHIJKL"}}' }) {
  return middy<APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2>()
    .use(auditAccess(() => ports, logger))
    .handler(() => Promise.resolve(answer));
}

const collecting = (): AuditPort & { records: AccessRecord[] } => {
  const records: AccessRecord[] = [];
  return {
    records,
    record: (r) => {
      records.push(r);
      return Promise.resolve();
    },
  };
};
const failing: AuditPort = { record: () => Promise.reject(new Error('down')) };

afterEach(() => vi.restoreAllMocks());

describe('auditAccess', () => {
  it('sends one record per request, with the patient the answer names', async () => {
    const port = collecting();
    const res = await handlerWith([port])(event('GET', '/fhir/Observation/o1'), context);
    expect(res.statusCode).toBe(200);
    expect(port.records).toHaveLength(1);
    expect(port.records[0]).toMatchObject({ method: 'GET', path: '/Observation/o1', status: 200, subject: 'app-1', patients: ['S-ABCDEFGHIJKL'] });
  });

  it('records nothing for the public discovery documents', async () => {
    const port = collecting();
    await handlerWith([port])(event('GET', '/fhir/metadata'), context);
    await handlerWith([port])(event('GET', '/fhir/.well-known/smart-configuration'), context);
    expect(port.records).toHaveLength(0);
  });

  it('falls back to the next port, then to the log; a read with no record is refused 503', async () => {
    const second = collecting();
    expect((await handlerWith([failing, second])(event('GET', '/fhir/Observation/o1'), context)).statusCode).toBe(200);
    expect(second.records).toHaveLength(1);
    const error = vi.spyOn(logger, 'error');
    const res = await handlerWith([failing])(event('GET', '/fhir/Observation/o1'), context);
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body ?? '{}').resourceType).toBe('OperationOutcome');
    expect(res.body).not.toContain('S-ABCDEFGHIJKL');
    const logged = error.mock.calls.find((c) => (c[1] as Record<string, unknown>)?.[AUDIT_RECORD_FIELD]);
    expect((logged?.[1] as Record<string, AccessRecord>)[AUDIT_RECORD_FIELD]).toMatchObject({ path: '/Observation/o1', status: 200 });
  });

  it('keeps the answer of a write whose record only reached the log (its commit happened)', async () => {
    const res = await handlerWith([failing], { statusCode: 200, body: '{"resourceType":"Bundle","type":"batch-response","entry":[]}' })(event('POST', '/fhir'), context);
    expect(res.statusCode).toBe(200);
  });

  it('records a handler that threw as a serious failure', async () => {
    const port = collecting();
    const throwing = middy<APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2>()
      .use(auditAccess(() => [port], logger))
      .handler(() => Promise.reject(new Error('boom')));
    await expect(throwing(event('GET', '/fhir/Observation'), context)).rejects.toThrow('boom');
    expect(port.records[0]?.status).toBe(500);
  });
});

describe('LogAudit', () => {
  it('writes one line of pure JSON per record, under the field the subscription filter matches', async () => {
    const lines: string[] = [];
    const port = collecting();
    await handlerWith([port])(event('GET', '/fhir/Observation/o1'), context);
    await new LogAudit((line) => void lines.push(line)).record(port.records[0] as AccessRecord);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0] as string)).toEqual({ [AUDIT_RECORD_FIELD]: port.records[0] });
  });
});
