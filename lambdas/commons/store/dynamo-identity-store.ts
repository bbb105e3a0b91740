import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailed } from './dynamo-io.js';
import type { IdentityStore } from './port.js';

/** Settings of `DynamoIdentityStore`. */
export interface DynamoIdentityStoreOptions {
  /** A DocumentClient, or a plain client to wrap in one. */
  readonly client: DynamoDBDocumentClient | DynamoDBClient;
  /** The identity table (see `IDENTITY_TABLE`). */
  readonly tableName: string;
  /** Source of pseudonyms; tests may inject one to force collisions. Default: `S-` + 12 random base32 characters. */
  readonly newPseudonym?: () => string;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * A random pseudonym: `S-` and 12 base32 characters (60 bits from the CSPRNG). Nothing of the
 * hospital key goes in, so it cannot be derived back; it is also a valid FHIR id.
 * @returns The pseudonym.
 */
export function randomPseudonym(): string {
  let out = 'S-';
  for (const byte of randomBytes(12)) out += BASE32[byte & 31];
  return out;
}

const forwardKey = (hospitalKey: string): { pk: string } => ({ pk: `H#${hospitalKey}` });
const reverseKey = (pseudonym: string): { pk: string } => ({ pk: `S#${pseudonym}` });

/**
 * The identity link on its own table. Two items per patient: `H#{hospitalKey}` → pseudonym and
 * `S#{pseudonym}` → hospital key. The reverse item is written first, so every pseudonym ever
 * handed out resolves; the forward item is a conditional put, so concurrent callers agree.
 */
export class DynamoIdentityStore implements IdentityStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly newPseudonym: () => string;

  /** @param options - Client and table name. */
  public constructor(options: DynamoIdentityStoreOptions) {
    this.client = options.client instanceof DynamoDBClient ? DynamoDBDocumentClient.from(options.client) : options.client;
    this.table = options.tableName;
    this.newPseudonym = options.newPseudonym ?? randomPseudonym;
  }

  /** Returns the pseudonym of a hospital key, creating it on first sight. */
  public async pseudonymFor(hospitalKey: string): Promise<string> {
    if (hospitalKey.length === 0) throw new Error('Empty hospital key');
    const existing = await this.forward(hospitalKey);
    if (existing) return existing;
    const createdAt = new Date().toISOString();
    for (let attempt = 0; attempt < 5; attempt++) {
      const pseudonym = this.newPseudonym();
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...reverseKey(pseudonym), hospitalKey, createdAt },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (err) {
        // 60 random bits collide practically never; when they do, draw again.
        if (isConditionalCheckFailed(err)) continue;
        throw err;
      }
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...forwardKey(hospitalKey), pseudonym, createdAt },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        return pseudonym;
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
        // Another caller linked this key first: withdraw our unused pseudonym and answer theirs.
        await this.client.send(
          new DeleteCommand({
            TableName: this.table,
            Key: reverseKey(pseudonym),
            ConditionExpression: 'hospitalKey = :key',
            ExpressionAttributeValues: { ':key': hospitalKey },
          }),
        );
        const winner = await this.forward(hospitalKey);
        if (winner) return winner;
      }
    }
    throw new Error('Could not allocate a pseudonym');
  }

  /** Returns the hospital key behind a pseudonym. */
  public async resolve(pseudonym: string): Promise<string | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.table, Key: reverseKey(pseudonym), ConsistentRead: true }));
    return (out.Item as { hospitalKey?: string } | undefined)?.hospitalKey;
  }

  private async forward(hospitalKey: string): Promise<string | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.table, Key: forwardKey(hospitalKey), ConsistentRead: true }));
    return (out.Item as { pseudonym?: string } | undefined)?.pseudonym;
  }
}
