import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { JOBS_TABLE } from '../lambdas/commons/store/tables.js';
import { grantTable } from './access.js';
import type { DeployedFunction } from './study-stack.js';

/** Object key prefix of every import file (lambdas/import/aws/s3-import-source.ts refuses any other). */
const IMPORT_PREFIX = 'imports/';

/** Properties of {@link BulkImport}. */
export interface BulkImportProps {
  readonly prefix: string;
  /** The deployed functions: `import` (API and worker) must be among them. */
  readonly functions: ReadonlyMap<string, DeployedFunction>;
  /** The Bulk Data jobs table (infra/bulk.ts): an import's status is polled at the export function's status URL. */
  readonly jobs: TableV2;
  /** Where the DLQ alarm goes (the ops topic). */
  readonly alarmTopic: ITopic;
  /** Days a file the hospital dropped is kept (the bucket's lifecycle). */
  readonly expiryDays?: number;
}

/**
 * What FHIR bulk import needs beyond the `import` function of infra/functions.ts: the bucket the
 * hospital writes its NDJSON to (under `imports/`; its own KMS key, since these files carry hospital
 * identifiers before pseudonymisation; TLS only, no public access, expired by lifecycle), read-only
 * access for the function to that prefix alone, and the worker queue (DLQ, alarm) that starts and
 * resumes the import worker. The hospital's writer (a role in its account, or a transfer service) is
 * granted by the deployment: it needs `s3:PutObject` on `imports/*` and `kms:GenerateDataKey` on the key.
 */
export class BulkImport extends Construct {
  public readonly bucket: Bucket;
  public readonly key: Key;
  public readonly queue: Queue;
  public readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: BulkImportProps) {
    super(scope, id);
    const deployed = props.functions.get('import');
    if (!deployed) throw new Error('Bulk import needs the "import" function (infra/functions.ts)');
    const fn = deployed.fn;
    const region = Stack.of(this).region;

    grantTable(fn, props.jobs, JOBS_TABLE, 'readWrite');

    this.key = new Key(this, 'Key', {
      alias: `alias/${props.prefix}-import`,
      description: `NCT04893161 ${props.prefix}: hospital import files (identifiable until ingested) and the import worker queue`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucket = new Bucket(this, 'Files', {
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // The hospital's files hold identifiers: kept only until imported (the store keeps pseudonymous data).
      lifecycleRules: [{ prefix: IMPORT_PREFIX, expiration: Duration.days(props.expiryDays ?? 7), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Read only: HeadObject (kick-off) and GetObject (worker, by Range on resume) both need s3:GetObject; nothing lists, writes or deletes.
    fn.addToRolePolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(`${IMPORT_PREFIX}*`)] }));
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
      }),
    );

    this.deadLetters = new Queue(this, 'WorkerDlq', {
      queueName: `${props.prefix}-import-worker-dlq`,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'WorkerQueue', {
      queueName: `${props.prefix}-import-worker`,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      visibilityTimeout: fn.timeout ? Duration.seconds(fn.timeout.toSeconds() * 6) : Duration.minutes(90),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 3 },
    });
    fn.addEventSource(new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true }));
    fn.addToRolePolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }));
    // SQS asks for GenerateDataKey to send (the kick-off, a worker resuming); Decrypt to receive is the event source's own grant.
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sqs.${region}.amazonaws.com` } },
      }),
    );

    fn.addEnvironment('JOBS_TABLE', props.jobs.tableName);
    fn.addEnvironment('IMPORT_BUCKET', this.bucket.bucketName);
    fn.addEnvironment('IMPORT_QUEUE_URL', this.queue.queueUrl);

    const dlqAlarm = new Alarm(this, 'DlqAlarm', {
      alarmName: `${props.prefix}-import-worker-dlq`,
      alarmDescription: 'Import jobs whose worker failed three times (their status answers 202 until they expire)',
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
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnBucket)}.Arn>/${IMPORT_PREFIX}*]`,
        reason: 'The hospital names its files freely under imports/; the function reads (GetObject only) what a manifest names there, checked against this bucket and prefix',
      });
    }

    const why = {
      logging: 'Every read is by the import function (CloudTrail data events cover it); the hospital\'s writes are its own account\'s to log',
      replication: 'Files are transit copies of the hospital\'s own records, deleted by lifecycle once imported; replicating them would multiply identifiable copies',
      versioning: 'Files are written once and expire; versions would keep identifiable files beyond their expiry',
    };
    Validations.of(this.bucket).acknowledge(
      { id: 'AwsSolutions-S1', reason: why.logging },
      { id: 'HIPAA.Security-S3BucketLoggingEnabled', reason: why.logging },
      { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: why.replication },
      { id: 'HIPAA.Security-S3BucketVersioningEnabled', reason: why.versioning },
    );
  }
}
