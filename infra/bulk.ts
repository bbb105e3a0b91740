import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { JOBS_TABLE } from '../lambdas/commons/store/tables.js';
import { grantTable } from './access.js';
import type { DeployedFunction } from './study-stack.js';
import { studyTable } from './tables.js';

/** Properties of {@link BulkExport}. */
export interface BulkExportProps {
  readonly prefix: string;
  /** Encrypts the jobs table, the files and the worker queue (the study table's key: the same data, pseudonymous). */
  readonly key: IKey;
  /** The deployed functions: `export` (API and worker) must be among them. */
  readonly functions: ReadonlyMap<string, DeployedFunction>;
  /** Where the DLQ alarm goes (the ops topic). */
  readonly alarmTopic: ITopic;
  /** Days an export's files are kept (the bucket's lifecycle; the job record expires after 1 day). */
  readonly expiryDays?: number;
}

/** Object key prefix of every export file (lambdas/export/aws/s3-job-files.ts). */
const EXPORT_PREFIX = 'exports/';

/**
 * What FHIR Bulk Data export needs beyond the `export` function of infra/functions.ts: the jobs table,
 * the bucket the files go to (KMS, TLS only, no public access, expired by lifecycle; downloads by
 * presigned URL), and the worker queue (with its DLQ and alarm) that starts and resumes the function's
 * worker side.
 */
export class BulkExport extends Construct {
  public readonly table: TableV2;
  public readonly bucket: Bucket;
  public readonly queue: Queue;
  public readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: BulkExportProps) {
    super(scope, id);
    const deployed = props.functions.get('export');
    if (!deployed) throw new Error('Bulk export needs the "export" function (infra/functions.ts)');
    const fn = deployed.fn;
    const region = Stack.of(this).region;

    this.table = studyTable(this, 'JobsTable', JOBS_TABLE, props.prefix, props.key);
    grantTable(fn, this.table, JOBS_TABLE, 'readWrite');

    this.bucket = new Bucket(this, 'Files', {
      encryption: BucketEncryption.KMS,
      encryptionKey: props.key,
      bucketKeyEnabled: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // Exports are copies of the study data for a client to fetch now: they expire, the store keeps the truth.
      lifecycleRules: [{ prefix: EXPORT_PREFIX, expiration: Duration.days(props.expiryDays ?? 2), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The function writes, lists and deletes the files, and signs the download URLs (a presigned GET acts with its rights).
    fn.addToRolePolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], resources: [this.bucket.arnForObjects(`${EXPORT_PREFIX}*`)] }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${EXPORT_PREFIX}*`] } },
      }),
    );
    // SSE-KMS (with a bucket key) and SQS both ask for GenerateDataKey to write and Decrypt to read; neither calls Encrypt.
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [props.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': [`s3.${region}.amazonaws.com`, `sqs.${region}.amazonaws.com`] } },
      }),
    );

    this.deadLetters = new Queue(this, 'WorkerDlq', {
      queueName: `${props.prefix}-export-worker-dlq`,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'WorkerQueue', {
      queueName: `${props.prefix}-export-worker`,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      // AWS: at least the function's timeout (six times is the guidance for event sources).
      visibilityTimeout: fn.timeout ? Duration.seconds(fn.timeout.toSeconds() * 6) : Duration.minutes(90),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 3 },
    });
    fn.addEventSource(new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true }));
    fn.addToRolePolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }));

    fn.addEnvironment('JOBS_TABLE', this.table.tableName);
    fn.addEnvironment('EXPORT_BUCKET', this.bucket.bucketName);
    fn.addEnvironment('EXPORT_QUEUE_URL', this.queue.queueUrl);

    const dlqAlarm = new Alarm(this, 'DlqAlarm', {
      alarmName: `${props.prefix}-export-worker-dlq`,
      alarmDescription: 'Export jobs whose worker failed three times (their status answers 202 until they expire)',
      metric: this.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    dlqAlarm.addAlarmAction(new SnsAction(props.alarmTopic));
    dlqAlarm.addOkAction(new SnsAction(props.alarmTopic));

    if (fn.role) {
      Validations.of(fn.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnBucket)}.Arn>/${EXPORT_PREFIX}*]`,
        reason: 'The export files of every job live under exports/{job}/ (job ids are random UUIDs made at kick-off), so the grant names the prefix; nothing else is in the bucket',
      });
    }

    const why = {
      logging: 'Short-lived copies of study data, expired by lifecycle; every object access is by the export function (CloudTrail data events cover it) or by a presigned URL it minted for the job owner',
      replication: 'Export files are derived copies, recreated by running the export again; replicating them would only multiply copies of study data',
      versioning: 'Files are written once and expire; versions would keep deleted exports beyond their expiry',
    };
    Validations.of(this.bucket).acknowledge(
      { id: 'AwsSolutions-S1', reason: why.logging },
      { id: 'HIPAA.Security-S3BucketLoggingEnabled', reason: why.logging },
      { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: why.replication },
      { id: 'HIPAA.Security-S3BucketVersioningEnabled', reason: why.versioning },
    );
  }
}
