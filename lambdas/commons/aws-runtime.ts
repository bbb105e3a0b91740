import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AlertsPort } from './alerts/port.js';
import { SnsAlerts } from './alerts/sns.js';
import type { Config } from './config.js';
import { EventBridgeEvents } from './events/eventbridge.js';
import type { EventsPort } from './events/port.js';
import { DynamoIdentityStore } from './store/dynamo-identity-store.js';
import { DynamoStudyStore } from './store/dynamo-study-store.js';

/*
 * The AWS adapters, one builder each, so that a function's bundle carries only the clients it calls
 * (esbuild drops the SDK clients a handler never references): a handler builds what its composition
 * root takes, from its environment (loadConfig, validated once per cold start).
 */

/**
 * The DynamoDB tables: the study store and the identity store, over one client.
 * @param config - STUDY_TABLE, IDENTITY_TABLE, region and endpoint.
 * @returns Both stores.
 */
export function awsStores(config: Config): { store: DynamoStudyStore; identity: DynamoIdentityStore } {
  const dynamo = new DynamoDBClient({ region: config.AWS_REGION, ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}) });
  const client = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  return {
    store: new DynamoStudyStore({ client, tableName: config.STUDY_TABLE }),
    identity: new DynamoIdentityStore({ client, tableName: config.IDENTITY_TABLE }),
  };
}

/**
 * The study bus, or a port that refuses when EVENT_BUS_NAME is not set (calling it is a wiring error).
 * @param config - EVENT_BUS_NAME and region.
 * @returns The events port.
 */
export function awsEvents(config: Config): EventsPort {
  return config.EVENT_BUS_NAME
    ? new EventBridgeEvents(new EventBridgeClient({ region: config.AWS_REGION }), config.EVENT_BUS_NAME)
    : { publish: () => Promise.reject(new Error('EVENT_BUS_NAME is not configured for this function')) };
}

/**
 * The recruitment alert topic, or a port that refuses when ALERT_TOPIC_ARN is not set.
 * @param config - ALERT_TOPIC_ARN and region.
 * @returns The alerts port.
 */
export function awsAlerts(config: Config): AlertsPort {
  return config.ALERT_TOPIC_ARN
    ? new SnsAlerts(new SNSClient({ region: config.AWS_REGION }), config.ALERT_TOPIC_ARN, config.APP_BASE_URL)
    : { publish: () => Promise.reject(new Error('ALERT_TOPIC_ARN is not configured for this function')) };
}
