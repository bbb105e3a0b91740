import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, ScheduledEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsStores } from '../commons/aws-runtime.js';
import { loadConfig } from '../commons/config.js';
import { studyEventConsumer } from '../commons/events/consumer.js';
import { once } from '../commons/once.js';
import { awsLedger } from '../subscriptions/ledger/aws.js';
import { tickSubscriptions } from './deliver.js';
import { notifyEvent } from './notify-event.js';
import { notifyDeps } from './root.js';

const logger = new Logger({ serviceName: 'notify' });
const deps = once(() => {
  const config = loadConfig();
  return notifyDeps({ config, logger, store: awsStores(config).store, ledger: awsLedger(config) });
});

const isSchedule = (event: SQSEvent | ScheduledEvent): event is ScheduledEvent => (event as ScheduledEvent)['detail-type'] === 'Scheduled Event';

/**
 * Two triggers (infra/subscriptions.ts): SQS from the study bus (each event matched against the
 * topics and subscriptions, recorded and delivered), and a schedule (retries that are due, heartbeats).
 */
export const handler = middy<SQSEvent | ScheduledEvent, SQSBatchResponse | { delivered: number; heartbeats: number }>()
  .use(injectLambdaContext(logger))
  .handler(async (event, context: Context) => {
    if (isSchedule(event)) {
      const result = await tickSubscriptions(deps());
      logger.info('Subscriptions ticked', result);
      return result;
    }
    return studyEventConsumer(async (e) => {
      const summary = await notifyEvent(e, deps());
      if (summary.recorded > 0) logger.info('Subscribers notified', { ...summary });
    }, logger)(event, context);
  });
