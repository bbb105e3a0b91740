import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureTables, type TableNames } from '../../lambdas/commons/store/tables.js';
import { startDynalite as startServer } from '../../local/dynalite.js';

/** A running dynalite with the store's tables. */
export interface LocalDynamo {
  /** Config for further clients on the same server (e.g. one with fault injection). */
  readonly clientConfig: DynamoDBClientConfig;
  readonly client: DynamoDBClient;
  readonly documentClient: DynamoDBDocumentClient;
  readonly tables: TableNames;
  /** Closes the clients and the server. */
  stop(): Promise<void>;
}

/**
 * Starts dynalite on 127.0.0.1 with a random port (in memory unless `path` is given) and creates
 * the tables from `tables.ts` through CreateTable.
 * @param options - LevelDB path and table prefix.
 * @returns Clients, table names and a stop function.
 */
export async function startDynalite(options: { path?: string; prefix?: string } = {}): Promise<LocalDynamo> {
  const server = await startServer(options.path);
  const clientConfig: DynamoDBClientConfig = {
    endpoint: server.endpoint,
    region: 'us-east-1',
    // Static dummy credentials: never pick up a developer's real ones for a local server.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  const client = new DynamoDBClient(clientConfig);
  const tables = await ensureTables(client, options.prefix ?? 'test');
  return {
    clientConfig,
    client,
    documentClient: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    tables,
    stop: async () => {
      client.destroy();
      await server.close();
    },
  };
}
