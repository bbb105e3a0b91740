import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

/**
 * Table definitions as plain data: the one place both the local runner (`ensureTables`, CreateTable
 * on dynalite) and the CDK stack (TableV2) read, so the two cannot drift.
 */

/** A key attribute; the type letters are DynamoDB's (and CDK `AttributeType`'s values). */
export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N' | 'B';
}

/** A global secondary index. `projection` is `ALL` or `KEYS_ONLY`. */
export interface GlobalIndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly projection: 'ALL' | 'KEYS_ONLY';
}

/** One table: its name is `${prefix}-${suffix}`; billing is on demand. */
export interface TableDefinition {
  readonly suffix: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly globalSecondaryIndexes: readonly GlobalIndexDefinition[];
  /** Attribute holding an epoch-seconds expiry, when the table uses TTL. */
  readonly timeToLiveAttribute?: string;
}

/** GSI of the study table: open transactions (`OPENTX`) and the outbox (`OUTBOX#{shard}`), both sparse. */
export const STUDY_GSI = 'gsi1';

/**
 * The study store: resource versions and heads (`R#{type}#{id}` / `V#{version}`, `H`), each
 * subject's current versions (`S#{patient}` / `C#{type}#{id}`, see `home-keys.ts`), index entries
 * (`IX#...`), transaction records (`TX#{tx}`) and outbox events (`EV#{eventId}`).
 */
export const STUDY_TABLE: TableDefinition = {
  suffix: 'study',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [
    {
      indexName: STUDY_GSI,
      partitionKey: { name: 'gsi1pk', type: 'S' },
      sortKey: { name: 'gsi1sk', type: 'S' },
      projection: 'ALL',
    },
  ],
  timeToLiveAttribute: 'ttl',
};

/**
 * The identity link (hospital key ↔ pseudonym). Its own table because in AWS it gets its own KMS
 * key and only the recruitment role may read it.
 */
export const IDENTITY_TABLE: TableDefinition = {
  suffix: 'identity',
  partitionKey: { name: 'pk', type: 'S' },
  globalSecondaryIndexes: [],
};

/**
 * Bulk Data jobs (export, import): one item per job (`JOB#{id}`), its state, progress, checkpoint and
 * files; expired by TTL with the job's files (lambdas/commons/jobs/).
 */
export const JOBS_TABLE: TableDefinition = {
  suffix: 'jobs',
  partitionKey: { name: 'pk', type: 'S' },
  globalSecondaryIndexes: [],
  timeToLiveAttribute: 'ttl',
};

/**
 * The subscriptions' ledger (lambdas/subscriptions/ledger/): per Subscription its gap-free event
 * numbers, the record of each notification (`$events`) and the delivery state.
 */
export const SUBSCRIPTION_TABLE: TableDefinition = {
  suffix: 'subscriptions',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [],
};

/** Every table the store needs. */
export const TABLES: readonly TableDefinition[] = [STUDY_TABLE, IDENTITY_TABLE, JOBS_TABLE, SUBSCRIPTION_TABLE];

/** Names of the tables for one deployment or local run. */
export interface TableNames {
  readonly study: string;
  readonly identity: string;
  readonly jobs: string;
  readonly subscriptions: string;
}

/**
 * The table name for a definition.
 * @param prefix - Deployment prefix, e.g. `nct04893161-dev`.
 * @param definition - The table.
 * @returns `${prefix}-${suffix}`.
 */
export function tableName(prefix: string, definition: TableDefinition): string {
  return `${prefix}-${definition.suffix}`;
}

/**
 * Names of both tables for a prefix.
 * @param prefix - Deployment prefix.
 * @returns The study and identity table names.
 */
export function tableNames(prefix: string): TableNames {
  return {
    study: tableName(prefix, STUDY_TABLE),
    identity: tableName(prefix, IDENTITY_TABLE),
    jobs: tableName(prefix, JOBS_TABLE),
    subscriptions: tableName(prefix, SUBSCRIPTION_TABLE),
  };
}

/**
 * Turns a definition into the input of CreateTable (on-demand billing).
 * @param definition - The table.
 * @param name - The full table name.
 * @returns The CreateTable input.
 */
export function toCreateTableInput(definition: TableDefinition, name: string): CreateTableCommandInput {
  const attributes = new Map<string, KeyAttribute>();
  const keys = [definition.partitionKey, definition.sortKey];
  for (const gsi of definition.globalSecondaryIndexes) keys.push(gsi.partitionKey, gsi.sortKey);
  for (const key of keys) if (key) attributes.set(key.name, key);
  const keySchema = (pk: KeyAttribute, sk?: KeyAttribute): CreateTableCommandInput['KeySchema'] => [
    { AttributeName: pk.name, KeyType: 'HASH' },
    ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
  ];
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes.values()].map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: keySchema(definition.partitionKey, definition.sortKey),
    ...(definition.globalSecondaryIndexes.length > 0
      ? {
          GlobalSecondaryIndexes: definition.globalSecondaryIndexes.map((gsi) => ({
            IndexName: gsi.indexName,
            KeySchema: keySchema(gsi.partitionKey, gsi.sortKey),
            Projection: { ProjectionType: gsi.projection },
          })),
        }
      : {}),
  };
}

/**
 * Creates the tables for a local run when missing and waits until they are ACTIVE. TTL is
 * switched on where the endpoint supports it (dynalite does not; expired items then simply stay).
 * @param client - A DynamoDB client for the local endpoint.
 * @param prefix - Table name prefix.
 * @returns The table names.
 */
export async function ensureTables(client: DynamoDBClient, prefix: string): Promise<TableNames> {
  for (const definition of TABLES) {
    const name = tableName(prefix, definition);
    try {
      await client.send(new CreateTableCommand(toCreateTableInput(definition, name)));
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
    await waitActive(client, name);
    if (definition.timeToLiveAttribute) {
      try {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: name,
            TimeToLiveSpecification: { AttributeName: definition.timeToLiveAttribute, Enabled: true },
          }),
        );
      } catch {
        // dynalite answers UnknownOperationException; a table that already has TTL answers ValidationException.
      }
    }
  }
  return tableNames(prefix);
}

async function waitActive(client: DynamoDBClient, name: string): Promise<void> {
  // The SDK waiter polls every 20 s at least; a local table is ACTIVE within a second.
  for (let attempt = 0; attempt < 600; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((gsi) => gsi.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Table ${name} did not become ACTIVE`);
}
