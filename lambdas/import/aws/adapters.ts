import type { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsEvents, awsStores } from '../../commons/aws-runtime.js';
import type { Config } from '../../commons/config.js';
import { DynamoJobStore } from '../../commons/jobs/dynamo-job-store.js';
import { sourceKeyFromConfig } from '../../commons/privacy/source-key.js';
import { SqsJobQueue } from '../../export/aws/sqs-job-queue.js';
import { ingestDeps } from '../../ingest/root.js';
import type { ImportHttpDeps } from '../import-request.js';
import type { ImportWorkerRoot } from '../worker.js';
import { S3ImportSource } from './s3-import-source.js';

/*
 * The import function's AWS adapters: only this function references the S3 reader and the import
 * queue; credentials come from the SDK's default chain (the function's role).
 */

/**
 * The request side and the worker of the AWS import function: the hospital's files in IMPORT_BUCKET,
 * the worker through IMPORT_QUEUE_URL, jobs on JOBS_TABLE, and the ingest core over the study and
 * identity tables, the bus and the source-identifier key, exactly as the ingest function builds it.
 * @param config - The function's configuration.
 * @param logger - Its logger.
 * @returns Both sides' dependencies.
 */
export function awsImportDeps(config: Config, logger: Logger): { http: ImportHttpDeps & { publicBaseUrl?: string } } & ImportWorkerRoot {
  if (!config.IMPORT_BUCKET) throw new Error('IMPORT_BUCKET is required');
  if (!config.IMPORT_QUEUE_URL) throw new Error('IMPORT_QUEUE_URL is required');
  const source = new S3ImportSource({ client: new S3Client({ region: config.AWS_REGION }), bucket: config.IMPORT_BUCKET });
  const queue = new SqsJobQueue(new SQSClient({ region: config.AWS_REGION }), config.IMPORT_QUEUE_URL);
  const stores = awsStores(config);
  const events = awsEvents(config);
  const jobs = new DynamoJobStore({
    client: new DynamoDBClient({ region: config.AWS_REGION, ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}) }),
    tableName: config.JOBS_TABLE,
  });
  const sourceKey = sourceKeyFromConfig(config, () => new SecretsManagerClient({ region: config.AWS_REGION }));
  const ingest = { ...ingestDeps({ config, logger, ...stores, events }), sourceKey };
  const now = (): Date => new Date();
  return {
    http: { jobs, queue, source, logger, now, ...(config.PUBLIC_BASE_URL ? { publicBaseUrl: config.PUBLIC_BASE_URL } : {}) },
    queue,
    worker: (timeLeft) => ({ ingest, events, jobs, source, logger, now, ...(timeLeft ? { timeLeft } : {}) }),
  };
}
