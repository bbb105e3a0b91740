import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsEvents, awsStores } from '../commons/aws-runtime.js';
import { loadConfig } from '../commons/config.js';
import { studyEventConsumer } from '../commons/events/consumer.js';
import { once } from '../commons/once.js';
import { deriveDeps } from './root.js';
import { recomputeSubject } from './recompute.js';

const logger = new Logger({ serviceName: 'derive' });
const deps = once(() => {
  const config = loadConfig();
  return deriveDeps({ config, logger, store: awsStores(config).store, events: awsEvents(config) });
});

/** SQS (from the study bus): recomputes the subject's visits, SLEDAI-2K and responder Observations. */
export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger))
  .handler((event, context) => studyEventConsumer(async (e) => void (await recomputeSubject(e.patient, deps())), logger)(event, context));
