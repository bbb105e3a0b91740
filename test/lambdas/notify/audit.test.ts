/**
 * Where a notification attempt's audit record goes (issue 17): in a Lambda (no local queue) the same
 * JSON log line as the API's access records, which the audit function's subscription-filter parser
 * reads back as a notification (BALP disclosure AuditEvent); in the local server, its in-process audit
 * queue (handed to the notifier through the runtime's adapters). Never a store commit on the delivery path.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudWatchLogsDecodedData } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { accessRecordsOfLogs } from '../../../lambdas/audit/records.js';
import { auditEventOf } from '../../../lambdas/commons/audit/balp.js';
import { LocalAuditQueue } from '../../../lambdas/commons/audit/local-queue.js';
import { LogAudit } from '../../../lambdas/commons/audit/log-audit.js';
import type { StudyStore } from '../../../lambdas/commons/store/port.js';
import { notificationRecordOf } from '../../../lambdas/notify/attempt-record.js';
import { notificationBundle, type StatusFacts } from '../../../lambdas/subscriptions/core/notification.js';

const facts: StatusFacts = { subscriptionId: 's1', status: 'active', topic: 'https://x.example/fhir/SubscriptionTopic/t', type: 'heartbeat', eventsSinceStart: 2, base: 'https://api.example/fhir', content: 'id-only' };
const record = notificationRecordOf({
  facts,
  endpoint: 'https://hooks.example.net/h',
  attempt: 1,
  startedAt: new Date('2030-01-01T00:00:00Z'),
  endedAt: new Date('2030-01-01T00:00:01Z'),
  bundle: notificationBundle(facts, new Map(), new Date('2030-01-01T00:00:00Z')),
  resources: new Map(),
  outcome: { ok: true, status: 204 },
});
/** A store nothing may be committed to on the delivery path. */
const store = (): StudyStore => new Proxy({} as StudyStore, { get: () => () => Promise.reject(new Error('no store call expected')) });

describe('the notifier audit port', () => {
  it('in a Lambda writes the access-record log line, which the audit function reads back as a notification', async () => {
    const lines: string[] = [];
    await new LogAudit((line) => void lines.push(line)).record(record);
    expect(lines).toHaveLength(1);
    const data = { logGroup: '/aws/lambda/nct04893161-dev-notify', logEvents: [{ id: 'e1', timestamp: 0, message: lines[0]!.trim() }] } as CloudWatchLogsDecodedData;
    const unreadable: string[] = [];
    const [parsed] = accessRecordsOfLogs(data, 'https://api.example/fhir', (id) => void unreadable.push(id));
    expect(unreadable).toEqual([]);
    expect(parsed).toEqual(record);
    expect(auditEventOf(parsed!)).toMatchObject({ type: { code: '110106' }, outcome: '0', subtype: [{ code: 'heartbeat' }] });
  });

  it('in the local server only enqueues on its audit queue: no store call and no log line on the delivery path', async () => {
    const queue = new LocalAuditQueue(store(), new Logger({ logLevel: 'SILENT' }));
    try {
      await queue.record(record);
      expect(queue.size).toBe(1);
    } finally {
      queue.close();
    }
  });
});
