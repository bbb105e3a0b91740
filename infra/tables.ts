import { RemovalPolicy } from 'aws-cdk-lib';
import type { Attribute } from 'aws-cdk-lib/aws-dynamodb';
import { AttributeType, Billing, ProjectionType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { KeyAttribute, TableDefinition } from '../lambdas/commons/store/tables.js';
import { tableName } from '../lambdas/commons/store/tables.js';

const attribute = (key: KeyAttribute): Attribute => ({
  name: key.name,
  type: { S: AttributeType.STRING, N: AttributeType.NUMBER, B: AttributeType.BINARY }[key.type],
});

/**
 * A TableV2 from one of the store's table definitions (lambdas/commons/store/tables.ts, the same data the
 * local runner creates its tables from): on demand, point-in-time recovery, deletion protection,
 * encrypted with a customer-managed key, retained when the stack goes.
 * @param scope - Parent construct.
 * @param id - Construct id.
 * @param definition - The table definition.
 * @param prefix - Deployment prefix; the table is named `${prefix}-${suffix}`.
 * @param key - The table's KMS key.
 * @returns The table.
 */
export function studyTable(scope: Construct, id: string, definition: TableDefinition, prefix: string, key: IKey): TableV2 {
  return new TableV2(scope, id, {
    tableName: tableName(prefix, definition),
    partitionKey: attribute(definition.partitionKey),
    ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
    billing: Billing.onDemand(),
    encryption: TableEncryptionV2.customerManagedKey(key),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: true,
    removalPolicy: RemovalPolicy.RETAIN,
    ...(definition.timeToLiveAttribute ? { timeToLiveAttribute: definition.timeToLiveAttribute } : {}),
    globalSecondaryIndexes: definition.globalSecondaryIndexes.map((gsi) => ({
      indexName: gsi.indexName,
      partitionKey: attribute(gsi.partitionKey),
      ...(gsi.sortKey ? { sortKey: attribute(gsi.sortKey) } : {}),
      projectionType: gsi.projection === 'ALL' ? ProjectionType.ALL : ProjectionType.KEYS_ONLY,
    })),
  });
}
