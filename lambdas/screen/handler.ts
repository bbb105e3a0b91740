import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsAlerts, awsStores } from '../commons/aws-runtime.js';
import { loadConfig } from '../commons/config.js';
import { studyEventConsumer } from '../commons/events/consumer.js';
import { once } from '../commons/once.js';
import { screenDeps } from './root.js';
import { rescreenPatient } from './rescreen.js';

const logger = new Logger({ serviceName: 'screen' });
const deps = once(() => {
  const config = loadConfig();
  return screenDeps({ config, logger, store: awsStores(config).store, alerts: awsAlerts(config) });
});

/** SQS (from the study bus): re-screens the patient, keeps its ResearchSubject in step, alerts on a change. */
export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger))
  .handler((event, context) => studyEventConsumer(async (e) => void (await rescreenPatient(e.patient, deps())), logger)(event, context));
