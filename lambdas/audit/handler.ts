import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { CloudWatchLogsDecodedData, CloudWatchLogsEvent } from 'aws-lambda';
import { gunzipSync } from 'node:zlib';
import { awsStores } from '../commons/aws-runtime.js';
import { loadConfig } from '../commons/config.js';
import { once } from '../commons/once.js';
import { commitAccessRecords } from './commit.js';
import { accessRecordsOfLogs } from './records.js';

const logger = new Logger({ serviceName: 'audit' });
const deps = once(() => {
  const config = loadConfig();
  return { store: awsStores(config).store, baseUrl: config.PUBLIC_BASE_URL ?? config.CANONICAL_BASE };
});

/**
 * The audit writer: the access-record lines of the API functions' logs, and the API access log's
 * 401/403 refusals, handed over by CloudWatch Logs subscription filters (infra/audit.ts), committed
 * as BALP AuditEvents to the study store. An asynchronous invocation: a throw makes Lambda retry the
 * batch twice, then send it to the audit DLQ (which alarms); a retried batch writes nothing new.
 */
export const handler = middy<CloudWatchLogsEvent, void>()
  .use(injectLambdaContext(logger))
  .handler(async (event) => {
    const data = JSON.parse(gunzipSync(Buffer.from(event.awslogs.data, 'base64')).toString('utf8')) as CloudWatchLogsDecodedData;
    const { store, baseUrl } = deps();
    const records = accessRecordsOfLogs(data, baseUrl, (id) => logger.error('Access record line unreadable', { logGroup: data.logGroup, logEventId: id }));
    const failed = await commitAccessRecords(store, records, logger);
    if (failed > 0) throw new Error(`${failed} AuditEvents not committed`);
  });
