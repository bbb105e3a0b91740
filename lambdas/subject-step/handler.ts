import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsAlerts, awsEvents, awsStores } from '../commons/aws-runtime.js';
import { loadConfig } from '../commons/config.js';
import { subjectEventConsumer } from '../commons/events/consumer.js';
import { once } from '../commons/once.js';
import { subjectStepDeps } from './root.js';
import { stepForEvents } from './step.js';

const logger = new Logger({ serviceName: 'subject-step' });
const deps = once(() => {
  const config = loadConfig();
  return subjectStepDeps({ config, logger, store: awsStores(config).store, events: awsEvents(config), alerts: awsAlerts(config) });
});

/** SQS (from the study bus, source events): one step per subject of the batch: derive, screen, predict, one commit. */
export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger))
  .handler((event, context) => subjectEventConsumer(async (patient, events) => void (await stepForEvents(patient, events, deps())), logger)(event, context));
