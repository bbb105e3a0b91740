import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from '../../commons/config.js';
import { DynamoSubscriptionLedger } from './dynamo-ledger.js';

/**
 * The ledger on the SUBSCRIPTION_TABLE, for the subscriptions and notify Lambdas.
 * @param config - SUBSCRIPTION_TABLE, region and endpoint.
 * @returns The ledger.
 */
export function awsLedger(config: Config): DynamoSubscriptionLedger {
  const dynamo = new DynamoDBClient({ region: config.AWS_REGION, ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}) });
  return new DynamoSubscriptionLedger({ client: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }), tableName: config.SUBSCRIPTION_TABLE });
}
