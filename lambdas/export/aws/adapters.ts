import type { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsStores } from '../../commons/aws-runtime.js';
import type { Config } from '../../commons/config.js';
import { DynamoJobStore } from '../../commons/jobs/dynamo-job-store.js';
import { exportDeps } from '../root.js';
import { S3JobFiles } from './s3-job-files.js';
import { SqsJobQueue } from './sqs-job-queue.js';

/*
 * One builder per service, as in commons/aws-runtime.ts: only the export function references these,
 * so the S3 and SQS clients stay out of every other bundle. Credentials come from the SDK's default
 * chain (the function's role in Lambda).
 */

/**
 * The export files in EXPORT_BUCKET.
 * @param config - EXPORT_BUCKET and region.
 * @returns The files port.
 */
export function awsExportFiles(config: Config): S3JobFiles {
  if (!config.EXPORT_BUCKET) throw new Error('EXPORT_BUCKET is required');
  return new S3JobFiles({ client: new S3Client({ region: config.AWS_REGION }), bucket: config.EXPORT_BUCKET });
}

/**
 * The worker queue at EXPORT_QUEUE_URL.
 * @param config - EXPORT_QUEUE_URL and region.
 * @returns The queue port.
 */
export function awsExportQueue(config: Config): SqsJobQueue {
  if (!config.EXPORT_QUEUE_URL) throw new Error('EXPORT_QUEUE_URL is required');
  return new SqsJobQueue(new SQSClient({ region: config.AWS_REGION }), config.EXPORT_QUEUE_URL);
}

/**
 * The export function's AWS adapters: the study store and the jobs table on DynamoDB, files in
 * EXPORT_BUCKET, workers through EXPORT_QUEUE_URL.
 * @param config - The function's configuration.
 * @param logger - Its logger.
 * @returns The request and worker dependencies.
 */
export function awsExportDeps(config: Config, logger: Logger): ReturnType<typeof exportDeps> {
  const files = awsExportFiles(config);
  const queue = awsExportQueue(config);
  const { store } = awsStores(config);
  const jobs = new DynamoJobStore({
    client: new DynamoDBClient({ region: config.AWS_REGION, ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}) }),
    tableName: config.JOBS_TABLE,
  });
  return exportDeps({ config, store, jobs, files, queue, logger });
}
