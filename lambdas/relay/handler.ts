import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsAlerts, awsEvents, awsStores } from '../commons/aws-runtime.js';
import { loadConfig } from '../commons/config.js';
import { relayOutbox } from '../commons/events/relay.js';
import { once } from '../commons/once.js';
import { deliverPendingAlerts } from '../commons/alerts/pending.js';

const logger = new Logger({ serviceName: 'relay' });
const adapters = once(() => {
  const config = loadConfig();
  return { store: awsStores(config).store, events: awsEvents(config), alerts: awsAlerts(config) };
});

/**
 * Runs on a schedule: completes or removes transactions a crash left open, publishes what the
 * outbox still holds and sends recruitment alerts whose publish failed, so that an event whose publish failed after its commit (or whose ingest died in
 * between) still reaches the consumers.
 */
export const handler = middy()
  .use(injectLambdaContext(logger))
  .handler(async () => {
    const { store, events, alerts } = adapters();
    // Sweep first: a committed transaction that a crash left half-applied still owes its events.
    const swept = await store.sweep();
    const published = await relayOutbox(store, events);
    const alerted = await deliverPendingAlerts({ store, alerts, now: () => new Date() });
    logger.info('Outbox relayed', { published, alerted, swept });
    return { published, alerted };
  });
