/**
 * The audit function's input: the CloudWatch Logs lines it is subscribed to (the API functions'
 * access-record lines, and the API access log's 401/403 for requests API Gateway refused before any
 * function ran).
 */
import type { CloudWatchLogsDecodedData } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { accessRecordsOfLogs } from '../../../lambdas/audit/records.js';
import { auditEventOf } from '../../../lambdas/commons/audit/balp.js';

const record = { requestId: 'r-1', recorded: '2030-01-01T00:00:00.000Z', method: 'GET', path: '/Observation', query: '_count=1', status: 200, baseUrl: 'https://x/fhir', written: [], patients: [] };

const logs = (...messages: unknown[]): CloudWatchLogsDecodedData => ({
  owner: '1',
  logGroup: 'g',
  logStream: 's',
  subscriptionFilters: ['f'],
  messageType: 'DATA_MESSAGE',
  logEvents: messages.map((m, i) => ({ id: String(i), timestamp: Date.UTC(2030, 0, 1), message: typeof m === 'string' ? m : JSON.stringify(m) })),
});

describe('CloudWatch Logs lines', () => {
  it('takes access-record lines as they were, and gateway refusals that reached no function', () => {
    const unreadable: string[] = [];
    const out = accessRecordsOfLogs(
      logs(
        { auditRecord: record },
        { level: 'ERROR', message: 'Access record not queued; kept in the log', auditRecord: { ...record, requestId: 'r-2' } },
        { auditRecord: { ...record, status: 'not a status' } },
        { requestId: 'gw-1', routeKey: 'GET /fhir/{proxy+}', status: '401', ip: '10.0.0.9', clientId: '-', sub: '-', integrationLatency: '-' },
        { requestId: 'gw-2', routeKey: 'GET /fhir/Patient/{pseudonym}/$hospital-identity', status: '403', clientId: 'app-1', sub: 'app-1', integrationLatency: '-' },
        // Answered by a function (which recorded it itself), or a success: skipped.
        { requestId: 'gw-3', routeKey: 'GET /fhir/{proxy+}', status: '403', integrationLatency: '12' },
        { requestId: 'gw-4', routeKey: 'GET /fhir/{proxy+}', status: '200', integrationLatency: '-' },
        'plain text line',
      ),
      'https://api.example.org/fhir',
      (id) => unreadable.push(id),
    );
    // The malformed record is reported, not silently dropped.
    expect(unreadable).toEqual(['2']);
    expect(out.map((r) => r.requestId)).toEqual(['r-1', 'r-2', 'gw-1', 'gw-2']);
    expect(out[2]).toMatchObject({ status: 401, sourceIp: '10.0.0.9', method: 'GET' });
    expect(out[2]?.subject).toBeUndefined();
    expect(out[3]).toMatchObject({ status: 403, subject: 'app-1', clientId: 'app-1' });
    // The route template is no id: nothing is named as accessed.
    const refused = auditEventOf(out[3]!);
    expect(refused.outcome).toBe('4');
    expect(refused.entity?.some((e) => e.what?.reference?.startsWith('Patient/'))).toBe(false);
  });
});
