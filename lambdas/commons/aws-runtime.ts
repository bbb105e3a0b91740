import type { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import type { AlertsPort } from './alerts/port.js';
import { SnsAlerts } from './alerts/sns.js';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadConfig } from './config.js';
import { EventBridgeEvents } from './events/eventbridge.js';
import type { EventsPort } from './events/port.js';
import { createRuntime, type Adapters, type Runtime } from './runtime.js';
import { DynamoIdentityStore } from './store/dynamo-identity-store.js';
import { DynamoStudyStore } from './store/dynamo-study-store.js';

/** An events port for a function that publishes nothing: calling it is a wiring error. */
const noEvents: EventsPort = {
  publish: () => Promise.reject(new Error('EVENT_BUS_NAME is not configured for this function')),
};

/** An alerts port for a function that sends none. */
const noAlerts: AlertsPort = {
  publish: () => Promise.reject(new Error('ALERT_TOPIC_ARN is not configured for this function')),
};

/**
 * The AWS adapters of a Lambda, from its environment (validated once per cold start): DynamoDB
 * tables, the EventBridge bus.
 * @param logger - The function's logger.
 * @returns The adapters.
 */
export function awsAdapters(logger: Logger): Adapters {
  const config = loadConfig();
  const dynamo = new DynamoDBClient({ region: config.AWS_REGION, ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}) });
  const client = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  return {
    config,
    logger,
    store: new DynamoStudyStore({ client, tableName: config.STUDY_TABLE }),
    identity: new DynamoIdentityStore({ client, tableName: config.IDENTITY_TABLE }),
    events: config.EVENT_BUS_NAME ? new EventBridgeEvents(new EventBridgeClient({ region: config.AWS_REGION }), config.EVENT_BUS_NAME) : noEvents,
    alerts: config.ALERT_TOPIC_ARN ? new SnsAlerts(new SNSClient({ region: config.AWS_REGION }), config.ALERT_TOPIC_ARN) : noAlerts,
  };
}

/**
 * The runtime of a Lambda in AWS.
 * @param logger - The function's logger.
 * @returns The runtime over the AWS adapters.
 */
export function awsRuntime(logger: Logger): Runtime {
  return createRuntime(awsAdapters(logger));
}
