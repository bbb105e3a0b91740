import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailed } from '../store/dynamo-io.js';
import { JobSchema, type Job } from './job.js';
import { JobCancelledError, type JobPatch, type JobStore } from './port.js';

/** Settings of `DynamoJobStore`. */
export interface DynamoJobStoreOptions {
  readonly client: DynamoDBDocumentClient | DynamoDBClient;
  /** The jobs table (see `JOBS_TABLE`). */
  readonly tableName: string;
}

const key = (id: string): { pk: string } => ({ pk: `JOB#${id}` });

/**
 * Jobs on their own table: one item per job (`JOB#{id}`), the record as a map, `ttl` for expiry.
 * A worker's update is conditional on the job still running, so a DELETE between two pages stops it.
 */
export class DynamoJobStore implements JobStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly table: string;

  /** @param options - Client and table. */
  public constructor(options: DynamoJobStoreOptions) {
    this.client = options.client instanceof DynamoDBClient ? DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } }) : options.client;
    this.table = options.tableName;
  }

  /** Writes a new job. */
  public async create(job: Job): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...key(job.id), job, status: job.status, ttl: Math.floor(Date.parse(job.expiresAt) / 1000) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** Reads a job; an expired one is gone even where the table's TTL sweep has not run yet (dynalite has none). */
  public async get(id: string): Promise<Job | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.table, Key: key(id), ConsistentRead: true }));
    if (!Item) return undefined;
    const job = JobSchema.parse(Item.job);
    return Date.parse(job.expiresAt) <= Date.now() ? undefined : job;
  }

  /** Changes a running job. */
  public async update(id: string, patch: JobPatch, now: Date): Promise<Job> {
    const current = await this.get(id);
    if (!current || (current.status !== 'accepted' && current.status !== 'in-progress')) {
      throw new JobCancelledError(`Job ${id} is no longer running`);
    }
    const job: Job = JobSchema.parse({ ...current, ...patch, updatedAt: now.toISOString() });
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...key(id), job, status: job.status, ttl: Math.floor(Date.parse(job.expiresAt) / 1000) },
          // Only over a running job: a cancel between the read and this write wins.
          ConditionExpression: '#s IN (:a, :p)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':a': 'accepted', ':p': 'in-progress' },
        }),
      );
    } catch (err) {
      if (isConditionalCheckFailed(err)) throw new JobCancelledError(`Job ${id} is no longer running`);
      throw err;
    }
    return job;
  }

  /** Marks a job cancelled. */
  public async cancel(id: string, now: Date): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key(id),
          UpdateExpression: 'SET #s = :c, job.#s = :c, job.updatedAt = :t',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':c': 'cancelled', ':t': now.toISOString() },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalCheckFailed(err)) return false;
      throw err;
    }
  }
}
