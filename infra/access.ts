import { Stack } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { TableDefinition } from '../lambdas/commons/store/tables.js';

/*
 * Table access written out rather than taken from TableV2.grantReadData/grantReadWriteData: those add
 * actions the store never calls (Scan, BatchGetItem, the stream reads), `index/*`, and the KMS wildcards
 * `kms:ReEncrypt*` and `kms:GenerateDataKey*`. These are the calls of lambdas/commons/store/*.ts.
 */

/** What the DynamoDB adapters call to read. */
export const TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'] as const;
/** What they call to write (the store's own transaction protocol; no TransactWriteItems). */
export const TABLE_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'] as const;
/** DynamoDB decrypts the table key with the caller's rights when its cache lapses. */
export const KEY_READ_ACTIONS = ['kms:Decrypt', 'kms:DescribeKey'] as const;
/** And encrypts new data under it. */
export const KEY_WRITE_ACTIONS = ['kms:Encrypt', 'kms:GenerateDataKey'] as const;

/**
 * Grants a function read or read/write access to a table and its indexes by name, and use of the table's
 * key only through DynamoDB (`kms:ViaService`).
 * @param grantee - The function (its role).
 * @param table - The table.
 * @param definition - Its definition (for the index names).
 * @param mode - `read` or `readWrite`.
 */
export function grantTable(grantee: IGrantable, table: TableV2, definition: TableDefinition, mode: 'read' | 'readWrite'): void {
  const write = mode === 'readWrite';
  const indexArns = definition.globalSecondaryIndexes.map((gsi) => `${table.tableArn}/index/${gsi.indexName}`);
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      effect: Effect.ALLOW,
      actions: [...TABLE_READ_ACTIONS, ...(write ? TABLE_WRITE_ACTIONS : [])],
      resources: [table.tableArn],
    }),
  );
  if (indexArns.length > 0) {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ['dynamodb:Query'], resources: indexArns }),
    );
  }
  const key = table.encryptionKey;
  if (key) {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: [...KEY_READ_ACTIONS, ...(write ? KEY_WRITE_ACTIONS : [])],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(table).region}.amazonaws.com` } },
      }),
    );
  }
}

/**
 * Grants Publish on a topic and use of its key only through SNS (Topic.grantPublish would add
 * `kms:GenerateDataKey*`).
 * @param grantee - The function (its role).
 * @param topic - The topic.
 */
export function grantPublish(grantee: IGrantable, topic: ITopic): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({ effect: Effect.ALLOW, actions: ['sns:Publish'], resources: [topic.topicArn] }),
  );
  if (topic.masterKey) {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [topic.masterKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sns.${Stack.of(topic).region}.amazonaws.com` } },
      }),
    );
  }
}
