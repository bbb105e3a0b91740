/**
 * The export API's access audit (BALP "Basic Audit Log Patterns": each RESTful access recorded with who
 * and the outcome): the AWS handler records each request at its edge, as serve, ingest, identity and review do.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { AccessRecord } from '../../../lambdas/commons/audit/access-record.js';
import type { AuditPort } from '../../../lambdas/commons/audit/port.js';
import type { JobFiles } from '../../../lambdas/commons/jobs/files.js';
import type { JobStore } from '../../../lambdas/commons/jobs/port.js';
import { createExportHandler } from '../../../lambdas/export/handler.js';

const logger = new Logger({ serviceName: 'test', logLevel: 'CRITICAL' });
const context = { getRemainingTimeInMillis: () => 10_000 } as Context;
const JOB = '0f8a2c56-6f7e-4b1e-9a51-3c2d4e5f6a7b';

const event = (method: string, rawPath: string): APIGatewayProxyEventV2WithJWTAuthorizer =>
  ({
    version: '2.0',
    rawPath,
    rawQueryString: '',
    headers: { host: 'api.example.org' },
    requestContext: { requestId: 'r-1', domainName: 'api.example.org', http: { method, sourceIp: '10.0.0.1' }, authorizer: { jwt: { claims: { sub: 'stat-1', client_id: 'stat-1', scope: 'system/*.rs' }, scopes: [] } } },
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;

const noJobs: JobStore = { create: () => Promise.resolve(), get: () => Promise.resolve(undefined), update: () => Promise.reject(new Error('none')), cancel: () => Promise.resolve(false) };
const deps = () => ({ jobs: noJobs, files: {} as JobFiles, queue: { start: () => Promise.resolve() }, logger, now: () => new Date('2026-12-05T00:00:00Z') });

describe('createExportHandler', () => {
  it('records each status request in the audit trail when given audit ports, with its outcome', async () => {
    const records: AccessRecord[] = [];
    const port: AuditPort = { record: (r) => (records.push(r), Promise.resolve()) };
    const res = await createExportHandler(deps, logger, () => [port])(event('GET', `/fhir/bulk-status/${JOB}`), context);
    expect(res.statusCode).toBe(404);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ method: 'GET', path: expect.stringMatching(/^\/bulk-status\//) as unknown, status: 404, subject: 'stat-1' });
  });

  it('records nothing itself without audit ports (the local server records at its own edge)', async () => {
    const res = await createExportHandler(deps, logger)(event('GET', `/fhir/bulk-status/${JOB}`), context);
    expect(res.statusCode).toBe(404);
  });
});
