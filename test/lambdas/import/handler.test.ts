/**
 * The import function's edges: the kick-off's access audit (BALP "Basic Audit Log Patterns": each
 * RESTful access recorded with its outcome, as export, serve and ingest do in AWS), and the SQS worker
 * that sends a job again when it stopped at a checkpoint (the Bulk Data async pattern in 15-minute slices).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, Context, SQSEvent } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import type { AccessRecord } from '../../../lambdas/commons/audit/access-record.js';
import type { AuditPort } from '../../../lambdas/commons/audit/port.js';
import type { JobStore } from '../../../lambdas/commons/jobs/port.js';
import { createImportHandler } from '../../../lambdas/import/import-handler.js';
import { runImportWorkerBatch } from '../../../lambdas/import/worker.js';

const runImport = vi.fn<() => Promise<string>>();
vi.mock('../../../lambdas/import/core/run-import.js', () => ({ runImport: () => runImport() }));

const logger = new Logger({ serviceName: 'test', logLevel: 'CRITICAL' });
const context = { getRemainingTimeInMillis: () => 10_000 } as Context;
const JOB = '0f8a2c56-6f7e-4b1e-9a51-3c2d4e5f6a7b';

const event = (scope: string): APIGatewayProxyEventV2WithJWTAuthorizer =>
  ({
    version: '2.0',
    rawPath: '/fhir/$import',
    rawQueryString: '',
    headers: { host: 'api.example.org', prefer: 'respond-async', 'content-type': 'application/json' },
    body: JSON.stringify({ input: [{ type: 'Patient', url: 's3://b/imports/p.ndjson' }] }),
    requestContext: { requestId: 'r-1', domainName: 'api.example.org', http: { method: 'POST', sourceIp: '10.0.0.1' }, authorizer: { jwt: { claims: { sub: 'ehr-1', client_id: 'ehr-1', scope }, scopes: [] } } },
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;

const noJobs: JobStore = { create: () => Promise.resolve(), get: () => Promise.resolve(undefined), update: () => Promise.reject(new Error('none')), cancel: () => Promise.resolve(false) };

describe('createImportHandler', () => {
  it('records the kick-off in the audit trail when given audit ports, with its outcome, and never reads the bucket for a client without the scopes', async () => {
    const records: AccessRecord[] = [];
    const port: AuditPort = { record: (r) => (records.push(r), Promise.resolve()) };
    const resolve = vi.fn(() => Promise.resolve('imports/p.ndjson'));
    const deps = () => ({ jobs: noJobs, queue: { start: () => Promise.resolve() }, source: { resolve, lines: () => (async function* () {})() }, logger, now: () => new Date('2026-12-05T00:00:00Z') });
    const res = await createImportHandler(deps, logger, () => [port])(event('system/Observation.cu'), context);
    expect(res.statusCode).toBe(403);
    expect(resolve).not.toHaveBeenCalled();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ method: 'POST', status: 403 });
  });
});

describe('runImportWorkerBatch', () => {
  const sqs = (body: string): SQSEvent => ({ Records: [{ messageId: 'm-1', body }] }) as unknown as SQSEvent;

  it('sends the job again when the worker stopped at a checkpoint, and not when it completed', async () => {
    const start = vi.fn(() => Promise.resolve());
    const deps = () => ({ queue: { start }, worker: () => ({}) as never });
    runImport.mockResolvedValueOnce('continue');
    expect(await runImportWorkerBatch(sqs(JSON.stringify({ jobId: JOB })), context, deps, logger)).toEqual({ batchItemFailures: [] });
    expect(start).toHaveBeenCalledWith(JOB);
    runImport.mockResolvedValueOnce('completed');
    await runImportWorkerBatch(sqs(JSON.stringify({ jobId: JOB })), context, deps, logger);
    expect(start).toHaveBeenCalledTimes(1);
  });

  it('reports a failed run for SQS to retry (then the DLQ), and drops an unreadable message', async () => {
    const deps = () => ({ queue: { start: () => Promise.resolve() }, worker: () => ({}) as never });
    runImport.mockRejectedValueOnce(new Error('throttled'));
    expect(await runImportWorkerBatch(sqs(JSON.stringify({ jobId: JOB })), context, deps, logger)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(await runImportWorkerBatch(sqs('not json'), context, deps, logger)).toEqual({ batchItemFailures: [] });
  });
});
