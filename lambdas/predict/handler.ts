import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsStores } from '../commons/aws-runtime.js';
import { loadConfig } from '../commons/config.js';
import { studyEventConsumer } from '../commons/events/consumer.js';
import { once } from '../commons/once.js';
import { predictDeps } from './root.js';
import { repredictSubject } from './recompute.js';

const logger = new Logger({ serviceName: 'predict' });
const deps = once(() => {
  const config = loadConfig();
  return predictDeps({ config, logger, store: awsStores(config).store });
});

/** SQS (from the study bus): recomputes the subject's week-48 response prediction with the active model. */
export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger))
  .handler((event, context) => studyEventConsumer(async (e) => void (await repredictSubject(e.patient, deps())), logger)(event, context));
