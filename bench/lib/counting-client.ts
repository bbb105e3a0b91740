import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** DynamoDB calls a client made, by operation (`QueryCommand`, `BatchWriteItemCommand`...). */
export interface CallCounter {
  /** Calls by command name since the last `reset`. */
  readonly byCommand: Map<string, number>;
  /** All calls since the last `reset`. */
  total(): number;
  reset(): void;
}

/**
 * A DynamoDB client whose every `send` is counted (a middleware at the first step, so SDK retries of
 * one call count once and every command the DocumentClient sends counts as the wire operation).
 * @param config - Config of the client (endpoint, region, credentials).
 * @returns The client, a DocumentClient over it and the counter.
 */
export function countingClient(config: DynamoDBClientConfig): { client: DynamoDBClient; documentClient: DynamoDBDocumentClient; counter: CallCounter } {
  const client = new DynamoDBClient(config);
  const byCommand = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = context.commandName ?? 'unknown';
      byCommand.set(name, (byCommand.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'benchCallCounter' },
  );
  const counter: CallCounter = {
    byCommand,
    total: () => [...byCommand.values()].reduce((a, b) => a + b, 0),
    reset: () => byCommand.clear(),
  };
  return { client, documentClient: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }), counter };
}
