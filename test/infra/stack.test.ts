import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_RESOLVE_SCOPE } from '../../lambdas/commons/auth/index.js';
import { EVENT_SOURCE, STUDY_DATA_CHANGED } from '../../lambdas/commons/events/eventbridge.js';
import { IDENTITY_TABLE, STUDY_TABLE, TABLES, tableName, toCreateTableInput } from '../../lambdas/commons/store/tables.js';
import { PROJECT_ROOT } from '../../infra/build-app.js';
import { FUNCTIONS } from '../../infra/functions.js';
import type { AppHosting } from '../../infra/app-hosting.js';
import { functionLogicalId, resourcesOf, synthesise, type Synthesised } from './synth.js';

let synth: Synthesised;

beforeAll(() => {
  synth = synthesise();
}, 120_000);

afterAll(() => synth?.dispose());

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** An IAM `ArnLike` pattern (`*` = any characters) as a regular expression. */
const arnLike = (pattern: string): RegExp =>
  new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

/** The statements of the policies attached to a function's role. */
function statementsOf(name: string): Statement[] {
  const fn = resourcesOf(synth.template, 'AWS::Lambda::Function')[functionLogicalId(synth.template, name)]!;
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  return Object.values(resourcesOf(synth.template, 'AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** The allowed actions of a function on resources whose expression mentions a logical id. */
function actionsOn(name: string, logicalId: string): string[] {
  return statementsOf(name)
    .filter((s) => s.Effect === 'Allow' && JSON.stringify(s.Resource).includes(`"${logicalId}"`))
    .flatMap((s) => asList(s.Action))
    .sort();
}

const logicalIdOf = (type: string, match: (props: Record<string, any>) => boolean): string => {
  const found = Object.entries(resourcesOf(synth.template, type)).find(([, r]) => match(r.Properties));
  if (!found) throw new Error(`No ${type} matches`);
  return found[0];
};
/** The bucket whose lifecycle expires objects under a prefix: `exports/` (infra/bulk.ts) or `imports/` (infra/bulk-import.ts). */
const bucketOf = (prefix: string): string =>
  logicalIdOf('AWS::S3::Bucket', (p) => (p.LifecycleConfiguration?.Rules ?? []).some((r: { Prefix?: string }) => r.Prefix === prefix));
const tableId = (suffix: string): string => logicalIdOf('AWS::DynamoDB::GlobalTable', (p) => p.TableName === tableName('nct04893161-dev', { suffix } as never));
const keyOfTable = (suffix: string): string => {
  const table = resourcesOf(synth.template, 'AWS::DynamoDB::GlobalTable')[tableId(suffix)]!;
  return table.Properties.Replicas[0].SSESpecification.KMSMasterKeyId['Fn::GetAtt'][0];
};

describe('StudyStack: tables', () => {
  it('matches the definitions in lambdas/commons/store/tables.ts', () => {
    for (const definition of TABLES) {
      const expected = toCreateTableInput(definition, tableName('nct04893161-dev', definition));
      const table = resourcesOf(synth.template, 'AWS::DynamoDB::GlobalTable')[tableId(definition.suffix)]!.Properties;
      expect(table.KeySchema).toEqual(expected.KeySchema);
      expect(new Set(table.AttributeDefinitions)).toEqual(new Set(expected.AttributeDefinitions));
      expect(table.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.GlobalSecondaryIndexes ?? []).toEqual(expected.GlobalSecondaryIndexes ?? []);
      expect(table.TimeToLiveSpecification).toEqual(
        definition.timeToLiveAttribute ? { AttributeName: definition.timeToLiveAttribute, Enabled: true } : undefined,
      );
    }
    expect(Object.keys(resourcesOf(synth.template, 'AWS::DynamoDB::GlobalTable'))).toHaveLength(TABLES.length);
  });

  it('encrypts each table with its own rotating customer-managed key, with PITR and deletion protection, retained', () => {
    for (const definition of TABLES) {
      synth.template.hasResource('AWS::DynamoDB::GlobalTable', {
        Properties: Match.objectLike({
          TableName: `nct04893161-dev-${definition.suffix}`,
          SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
          Replicas: [
            Match.objectLike({
              Region: 'eu-west-1',
              DeletionProtectionEnabled: true,
              PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
              SSESpecification: { KMSMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Key'), 'Arn'] } },
            }),
          ],
        }),
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    }
    const studyKey = keyOfTable(STUDY_TABLE.suffix);
    const identityKey = keyOfTable(IDENTITY_TABLE.suffix);
    expect(identityKey).not.toBe(studyKey);
    const keys = resourcesOf(synth.template, 'AWS::KMS::Key');
    for (const id of [studyKey, identityKey]) {
      expect(keys[id]!.Properties.EnableKeyRotation).toBe(true);
      expect(keys[id]!.DeletionPolicy).toBe('Retain');
    }
  });
});

describe('StudyStack: functions', () => {
  it('deploys exactly one function per lambdas/<name>/handler.ts', () => {
    const handlers = readdirSync(join(PROJECT_ROOT, 'lambdas'), { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(PROJECT_ROOT, 'lambdas', e.name, 'handler.ts')))
      .map((e) => e.name)
      .sort();
    expect(FUNCTIONS.map((f) => f.name).sort()).toEqual(handlers);
    expect(Object.keys(resourcesOf(synth.template, 'AWS::Lambda::Function'))).toHaveLength(FUNCTIONS.length);
  });

  it('runs every function on nodejs24.x, arm64, traced, with its timeout, memory and reserved concurrency', () => {
    for (const spec of FUNCTIONS) {
      synth.template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: `nct04893161-dev-${spec.name}`,
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        Timeout: spec.timeoutSeconds,
        MemorySize: spec.memoryMb,
        ReservedConcurrentExecutions: spec.reservedConcurrency,
        LoggingConfig: { LogGroup: Match.anyValue() },
        Environment: {
          Variables: Match.objectLike({
            NODE_OPTIONS: '--enable-source-maps',
            POWERTOOLS_SERVICE_NAME: spec.name,
            POWERTOOLS_LOG_LEVEL: 'INFO',
            CANONICAL_BASE: 'https://belimumab-sle.example.org/fhir',
          }),
        },
      });
    }
  });

  it('gives a function only the environment of what it may access', () => {
    const env = (name: string): Record<string, unknown> =>
      resourcesOf(synth.template, 'AWS::Lambda::Function')[functionLogicalId(synth.template, name)]!.Properties.Environment.Variables;
    expect(env('ingest')).toMatchObject({ FHIR_PROFILES_DIR: '/var/task/fhir-profiles', MAX_ENTRIES: '1000', MAX_BODY_BYTES: '6291456' });
    expect(Object.keys(env('ingest'))).toEqual(expect.arrayContaining(['STUDY_TABLE', 'IDENTITY_TABLE', 'EVENT_BUS_NAME']));
    expect(Object.keys(env('serve'))).toContain('STUDY_TABLE');
    expect(Object.keys(env('serve'))).not.toEqual(expect.arrayContaining(['IDENTITY_TABLE']));
    expect(Object.keys(env('serve'))).not.toContain('EVENT_BUS_NAME');
    expect(Object.keys(env('relay'))).toEqual(expect.arrayContaining(['STUDY_TABLE', 'EVENT_BUS_NAME']));
    expect(Object.keys(env('relay'))).not.toContain('IDENTITY_TABLE');
    expect(Object.keys(env('relay'))).toContain('ALERT_TOPIC_ARN');
    expect(Object.keys(env('identity'))).toEqual(expect.arrayContaining(['STUDY_TABLE', 'IDENTITY_TABLE']));
    expect(Object.keys(env('identity'))).not.toContain('EVENT_BUS_NAME');
    // Bulk import: the ingest core's settings, and its own bucket and queue; the export function knows neither.
    expect(env('import')).toMatchObject({ FHIR_PROFILES_DIR: '/var/task/fhir-profiles', MAX_ENTRIES: '1000' });
    expect(Object.keys(env('import'))).toEqual(expect.arrayContaining(['STUDY_TABLE', 'IDENTITY_TABLE', 'EVENT_BUS_NAME', 'JOBS_TABLE', 'IMPORT_BUCKET', 'IMPORT_QUEUE_URL']));
    expect(Object.keys(env('import'))).not.toContain('EXPORT_BUCKET');
    expect(Object.keys(env('export'))).not.toEqual(expect.arrayContaining(['IMPORT_BUCKET']));
    expect(Object.keys(env('ingest'))).not.toEqual(expect.arrayContaining(['IMPORT_BUCKET']));
  });

  it('logs each function to its own KMS-encrypted log group with a retention', () => {
    for (const spec of FUNCTIONS) {
      synth.template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws/lambda/nct04893161-dev-${spec.name}`,
        RetentionInDays: 365,
        KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('LogsKey'), 'Arn'] },
      });
    }
  });

  it('lets CloudWatch Logs use the logs key for every log group of the stack, and only those', () => {
    const logsKey = Object.entries(resourcesOf(synth.template, 'AWS::KMS::Key')).find(([id]) => id.startsWith('LogsKey'))![1];
    const statement = logsKey.Properties.KeyPolicy.Statement.find((st: any) => JSON.stringify(st.Principal).includes('logs.'));
    const patterns: string[] = statement.Condition.ArnLike['kms:EncryptionContext:aws:logs:arn'];
    const matches = (name: string): boolean =>
      patterns.some((p) => arnLike(p).test(`arn:aws:logs:eu-west-1:123456789012:log-group:${name}`));
    const groups = Object.values(resourcesOf(synth.template, 'AWS::Logs::LogGroup'));
    const names = groups.map((g) => g.Properties.LogGroupName as string);
    expect(names.length).toBeGreaterThan(FUNCTIONS.length);
    // Every log group of the stack, not only the functions' (the API's access log, any added later), uses the logs key.
    const logsKeyId = Object.keys(resourcesOf(synth.template, 'AWS::KMS::Key')).find((id) => id.startsWith('LogsKey'))!;
    for (const group of groups) expect(group.Properties.KmsKeyId, group.Properties.LogGroupName).toEqual({ 'Fn::GetAtt': [logsKeyId, 'Arn'] });
    for (const name of names) expect(matches(name), name).toBe(true);
    expect(matches('/aws/lambda/someone-else')).toBe(false);
    for (const action of asList<string>(statement.Action)) expect(action).not.toContain('*');
  });

  it('alarms on errors and throttles of every function, to the ops topic', () => {
    const alarms = Object.values(resourcesOf(synth.template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    for (const spec of FUNCTIONS) {
      for (const metric of ['Errors', 'Throttles']) {
        const alarm = alarms.find(
          (a) => a.MetricName === metric && a.Dimensions?.[0]?.Value?.Ref === functionLogicalId(synth.template, spec.name),
        );
        expect(alarm, `${spec.name} ${metric}`).toBeDefined();
        expect(JSON.stringify(alarm!.AlarmActions)).toContain('OpsAlarms');
      }
    }
  });

  it('runs the relay every minute from a schedule', () => {
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [functionLogicalId(synth.template, 'relay'), 'Arn'] } })],
    });
  });
});

describe('StudyStack: IAM', () => {
  const studyTable = (): string => tableId(STUDY_TABLE.suffix);
  const identityTable = (): string => tableId(IDENTITY_TABLE.suffix);
  const READ = ['dynamodb:GetItem', 'dynamodb:Query'];
  const WRITE = ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];

  it('lets serve only read the study table, and nothing on the identity table or the bus', () => {
    expect(actionsOn('serve', studyTable())).toEqual([...READ, 'dynamodb:Query'].sort());
    expect(actionsOn('serve', keyOfTable(STUDY_TABLE.suffix))).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
    expect(actionsOn('serve', identityTable())).toEqual([]);
    expect(actionsOn('serve', keyOfTable(IDENTITY_TABLE.suffix))).toEqual([]);
    const all = statementsOf('serve').flatMap((s) => asList(s.Action));
    expect(all.filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)|^events:|^sns:|^kms:(Encrypt|GenerateDataKey)/.test(a))).toEqual([]);
  });

  it('lets ingest read and write both tables and put events on the bus', () => {
    expect(actionsOn('ingest', studyTable())).toEqual(expect.arrayContaining([...READ, ...WRITE]));
    expect(actionsOn('ingest', identityTable())).toEqual(expect.arrayContaining([...READ, ...WRITE]));
    expect(actionsOn('ingest', keyOfTable(IDENTITY_TABLE.suffix))).toEqual(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']);
    expect(actionsOn('ingest', logicalIdOf('AWS::Events::EventBus', () => true))).toEqual(['events:PutEvents']);
  });

  it('lets relay read and write the study table and put events, but not touch identities', () => {
    expect(actionsOn('relay', studyTable())).toEqual(expect.arrayContaining([...READ, ...WRITE]));
    expect(actionsOn('relay', identityTable())).toEqual([]);
    expect(actionsOn('relay', keyOfTable(IDENTITY_TABLE.suffix))).toEqual([]);
    expect(actionsOn('relay', logicalIdOf('AWS::Events::EventBus', () => true))).toEqual(['events:PutEvents']);
  });

  it('lets identity read identities and record its look-ups in the study table, and nothing else', () => {
    expect(actionsOn('identity', identityTable())).toEqual(READ);
    expect(actionsOn('identity', keyOfTable(IDENTITY_TABLE.suffix))).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
    expect(actionsOn('identity', studyTable())).toEqual(expect.arrayContaining([...READ, ...WRITE]));
    const all = statementsOf('identity').flatMap((s) => asList(s.Action));
    expect(all.filter((a) => /^(events|sns):/.test(a))).toEqual([]);
  });

  it('lets only relay and the subject step (screening) publish recruitment alerts', () => {
    const topic = logicalIdOf('AWS::SNS::Topic', (p) => p.TopicName === 'nct04893161-dev-recruitment-alerts');
    for (const spec of FUNCTIONS) {
      expect(actionsOn(spec.name, topic), spec.name).toEqual(['relay', 'subject-step'].includes(spec.name) ? ['sns:Publish'] : []);
    }
  });

  it('lets review read and write the study table and put its study event, and nothing on identities', () => {
    const bus = logicalIdOf('AWS::Events::EventBus', () => true);
    expect(actionsOn('review', identityTable())).toEqual([]);
    expect(actionsOn('review', keyOfTable(IDENTITY_TABLE.suffix))).toEqual([]);
    expect(actionsOn('review', studyTable())).toEqual(expect.arrayContaining([...READ, ...WRITE]));
    expect(actionsOn('review', bus)).toEqual(['events:PutEvents']);
  });

  it('keeps the subject step away from identities; it reads and writes the study table and puts its derived event', () => {
    const bus = logicalIdOf('AWS::Events::EventBus', () => true);
    expect(actionsOn('subject-step', identityTable())).toEqual([]);
    expect(actionsOn('subject-step', keyOfTable(IDENTITY_TABLE.suffix))).toEqual([]);
    expect(actionsOn('subject-step', studyTable())).toEqual(expect.arrayContaining([...READ, ...WRITE]));
    expect(actionsOn('subject-step', bus)).toEqual(['events:PutEvents']);
  });

  it('uses keys only through the service that holds the data', () => {
    // Bulk Data export (infra/bulk.ts): only the export function also reaches a key through S3 (its NDJSON
    // files) and SQS (its worker queue), and never through SNS or Secrets Manager. Bulk import
    // (infra/bulk-import.ts): the import function through S3 (the hospital's files) and SQS (its worker
    // queue) besides the ingest core's DynamoDB and Secrets Manager.
    const services = (name: string): RegExp =>
      name === 'export'
        ? /^(dynamodb|s3|sqs)\.eu-west-1\.amazonaws\.com$/
        : name === 'import'
          ? /^(dynamodb|s3|sqs|secretsmanager)\.eu-west-1\.amazonaws\.com$/
          : /^(dynamodb|sns|secretsmanager)\.eu-west-1\.amazonaws\.com$/;
    // Functions fed by an SQS event source: the study-event consumers and the export and import workers.
    const readsQueue = (name: string, kind: string): boolean => kind === 'study-events' || name === 'export' || name === 'import';
    for (const spec of FUNCTIONS) {
      for (const s of statementsOf(spec.name).filter((st) => asList(st.Action).some((a) => a.startsWith('kms:')))) {
        if (s.Condition === undefined && readsQueue(spec.name, spec.trigger.kind)) {
          // The SQS event source's own grant: decrypt (only) the messages of the function's queue.
          expect(asList(s.Action).sort()).toEqual(['kms:Decrypt']);
          continue;
        }
        const via = (s.Condition as { StringEquals?: Record<string, string | string[]> } | undefined)?.StringEquals?.['kms:ViaService'];
        expect(s.Condition, spec.name).toEqual({ StringEquals: { 'kms:ViaService': via } });
        expect(via, spec.name).toBeDefined();
        for (const service of asList(via!)) expect(service, spec.name).toMatch(services(spec.name));
      }
    }
  });

  it('lets the export function use the study key through S3 and SQS only to write and read, on its own files and queue', () => {
    const studyKey = keyOfTable(STUDY_TABLE.suffix);
    const viaS3 = statementsOf('export').filter((s) => JSON.stringify(s.Condition ?? {}).includes('s3.eu-west-1'));
    expect(viaS3).toHaveLength(1);
    expect(asList(viaS3[0]!.Action).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(viaS3[0]!.Resource).toEqual({ 'Fn::GetAtt': [studyKey, 'Arn'] });
    const bucket = bucketOf('exports/');
    expect(resourcesOf(synth.template, 'AWS::S3::Bucket')[bucket]!.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0]).toMatchObject({
      ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [studyKey, 'Arn'] } },
    });
    for (const spec of FUNCTIONS.filter((f) => f.name !== 'export')) expect(actionsOn(spec.name, bucket), spec.name).toEqual([]);
  });

  it('lets only the import function read the hospital\'s import bucket, under imports/ and by GetObject alone, decrypting with its own key', () => {
    const bucket = bucketOf('imports/');
    const props = resourcesOf(synth.template, 'AWS::S3::Bucket')[bucket]!.Properties;
    const importKey = props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.KMSMasterKeyID['Fn::GetAtt'][0] as string;
    // Its own key: these files carry hospital identifiers, unlike the pseudonymous study data.
    expect(importKey).not.toBe(keyOfTable(STUDY_TABLE.suffix));
    expect(importKey).not.toBe(keyOfTable(IDENTITY_TABLE.suffix));
    expect(resourcesOf(synth.template, 'AWS::KMS::Key')[importKey]!.Properties.EnableKeyRotation).toBe(true);
    expect(props.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(props.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({ Prefix: 'imports/', ExpirationInDays: 7, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }),
    ]);
    const policy = Object.values(resourcesOf(synth.template, 'AWS::S3::BucketPolicy')).find((p) => JSON.stringify(p.Properties.Bucket).includes(bucket))!;
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    expect(actionsOn('import', bucket)).toEqual(['s3:GetObject']);
    const read = statementsOf('import').find((s) => JSON.stringify(s.Resource).includes(`"${bucket}"`))!;
    expect(read.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/imports/*']] });
    const viaS3 = statementsOf('import').filter((s) => JSON.stringify(s.Condition ?? {}).includes('s3.eu-west-1'));
    expect(viaS3.map((s) => [asList(s.Action), s.Resource])).toEqual([[['kms:Decrypt'], { 'Fn::GetAtt': [importKey, 'Arn'] }]]);
    for (const spec of FUNCTIONS.filter((f) => f.name !== 'import')) {
      expect(actionsOn(spec.name, bucket), spec.name).toEqual([]);
      expect(actionsOn(spec.name, importKey), spec.name).toEqual([]);
    }
    // The export function's grants stay on its own bucket; the import function has none there.
    expect(actionsOn('import', bucketOf('exports/'))).toEqual([]);
  });

  it('lets the import function start its worker (SendMessage on its own queue) and read and write the jobs table', () => {
    const queue = logicalIdOf('AWS::SQS::Queue', (p) => p.QueueName === 'nct04893161-dev-import-worker');
    expect(actionsOn('import', queue)).toEqual(expect.arrayContaining(['sqs:SendMessage']));
    expect(actionsOn('import', logicalIdOf('AWS::SQS::Queue', (p) => p.QueueName === 'nct04893161-dev-export-worker'))).toEqual([]);
    expect(actionsOn('import', tableId('jobs'))).toEqual(expect.arrayContaining([...READ, ...WRITE]));
    const mapping = Object.values(resourcesOf(synth.template, 'AWS::Lambda::EventSourceMapping')).find((m) =>
      JSON.stringify(m.Properties.FunctionName).includes(functionLogicalId(synth.template, 'import')),
    )!;
    expect(JSON.stringify(mapping.Properties.EventSourceArn)).toContain(queue);
    expect(mapping.Properties).toMatchObject({ BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'] });
  });

  it('has no wildcard action in any IAM policy, and "*" resources only for X-Ray, the export files and the import files', () => {
    // Bulk Data export: the export function's objects are `exports/{job id}/...` with job ids made at kick-off,
    // so its object grant names exactly that prefix of its own bucket; nothing else may carry a "*" but
    // the import function's read of `imports/*` in the hospital's bucket.
    const bucket = bucketOf('exports/');
    const exportFiles = JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/exports/*']] });
    const importFiles = JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketOf('imports/'), 'Arn'] }, '/imports/*']] });
    const exportStatements = statementsOf('export').map((s) => JSON.stringify(s));
    const importStatements = statementsOf('import').map((s) => JSON.stringify(s));
    for (const policy of Object.values(resourcesOf(synth.template, 'AWS::IAM::Policy'))) {
      for (const s of policy.Properties.PolicyDocument.Statement as Statement[]) {
        for (const action of asList(s.Action)) expect(action).not.toContain('*');
        if (!JSON.stringify(s.Resource).includes('*')) continue;
        if (asList(s.Action).every((a) => a.startsWith('xray:'))) {
          expect(s.Resource).toBe('*');
          continue;
        }
        if (JSON.stringify(s.Resource) === importFiles) {
          expect(importStatements).toContain(JSON.stringify(s));
          expect(asList(s.Action)).toEqual(['s3:GetObject']);
          continue;
        }
        expect(exportStatements).toContain(JSON.stringify(s));
        expect(JSON.stringify(s.Resource)).toBe(exportFiles);
        expect(asList(s.Action).sort()).toEqual(['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject']);
      }
    }
  });
});

describe('StudyStack: API', () => {
  it('puts the JWT authorizer on every route but GET /fhir/metadata, SMART discovery and $default', () => {
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: 'https://auth.example.org/', Audience: ['belimumab-sle-fhir'] },
    });
    const routes = Object.values(resourcesOf(synth.template, 'AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual([
      '$default',
      'DELETE /fhir/Subscription/{id}',
      'DELETE /fhir/bulk-status/{id}',
      'GET /fhir/$export',
      'GET /fhir/.well-known/smart-configuration',
      'GET /fhir/Group/{id}/$export',
      'GET /fhir/Patient/$export',
      'GET /fhir/Patient/{pseudonym}/$hospital-identity',
      'GET /fhir/Subscription',
      'GET /fhir/Subscription/{proxy+}',
      'GET /fhir/bulk-status/{id}',
      'GET /fhir/metadata',
      'GET /fhir/{proxy+}',
      'POST /fhir',
      'POST /fhir/$import',
      'POST /fhir/Bundle',
      'POST /fhir/Subscription',
      'POST /fhir/Subscription/{proxy+}',
      'POST /fhir/Task/{id}/$settle',
      'POST /fhir/{type}/$validate',
      'POST /fhir/{type}/_search',
    ]);
    for (const route of routes) {
      // $default (issue 14): unknown paths answered by serve with an OperationOutcome, before any claim is read.
      if (['GET /fhir/metadata', 'GET /fhir/.well-known/smart-configuration', '$default'].includes(route.RouteKey)) {
        expect(route.AuthorizationType).toBe('NONE');
      } else {
        expect(route.AuthorizationType, route.RouteKey).toBe('JWT');
        expect(route.AuthorizerId).toBeDefined();
      }
    }
  });

  it('requires the recruitment scope at the authorizer for the identity route', () => {
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'GET /fhir/Patient/{pseudonym}/$hospital-identity',
      AuthorizationType: 'JWT',
      AuthorizationScopes: [IDENTITY_RESOLVE_SCOPE],
    });
  });

  it('sends POST to ingest, the identity operation to identity and every other GET to serve', () => {
    const integrations = resourcesOf(synth.template, 'AWS::ApiGatewayV2::Integration');
    const target = (routeKey: string): string => {
      const route = Object.values(resourcesOf(synth.template, 'AWS::ApiGatewayV2::Route')).find((r) => r.Properties.RouteKey === routeKey)!;
      const integrationId = JSON.stringify(route.Properties.Target).match(/"Ref":"([^"]+)"/)![1]!;
      return JSON.stringify(integrations[integrationId]!.Properties.IntegrationUri);
    };
    expect(target('POST /fhir')).toContain(functionLogicalId(synth.template, 'ingest'));
    expect(target('POST /fhir/Bundle')).toContain(functionLogicalId(synth.template, 'ingest'));
    expect(target('GET /fhir/{proxy+}')).toContain(functionLogicalId(synth.template, 'serve'));
    expect(target('GET /fhir/metadata')).toContain(functionLogicalId(synth.template, 'serve'));
    expect(target('GET /fhir/.well-known/smart-configuration')).toContain(functionLogicalId(synth.template, 'serve'));
    // A search by POST is a read: serve's, never ingest's.
    expect(target('POST /fhir/{type}/_search')).toContain(functionLogicalId(synth.template, 'serve'));
    expect(target('POST /fhir/{type}/$validate')).toContain(functionLogicalId(synth.template, 'serve'));
    expect(target('GET /fhir/Patient/{pseudonym}/$hospital-identity')).toContain(functionLogicalId(synth.template, 'identity'));
    expect(target('$default')).toContain(functionLogicalId(synth.template, 'serve'));
    // Subscriptions (R4 backport IG) and Bulk Data export each go to their own function, never to serve.
    for (const key of ['POST /fhir/Subscription', 'GET /fhir/Subscription', 'GET /fhir/Subscription/{proxy+}', 'POST /fhir/Subscription/{proxy+}', 'DELETE /fhir/Subscription/{id}']) {
      expect(target(key), key).toContain(functionLogicalId(synth.template, 'subscriptions'));
    }
    for (const key of ['GET /fhir/$export', 'GET /fhir/Patient/$export', 'GET /fhir/Group/{id}/$export', 'GET /fhir/bulk-status/{id}', 'DELETE /fhir/bulk-status/{id}']) {
      expect(target(key), key).toContain(functionLogicalId(synth.template, 'export'));
    }
    // Bulk import needs the ingest core and a long-running worker: its own function, never serve or ingest.
    expect(target('POST /fhir/$import')).toContain(functionLogicalId(synth.template, 'import'));
  });

  it('logs access to an encrypted log group and throttles at the stage', () => {
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      DefaultRouteSettings: { ThrottlingBurstLimit: 100, ThrottlingRateLimit: 50 },
    });
  });
});

describe('StudyStack: events and alerts', () => {
  it('creates the study bus', () => {
    synth.template.hasResourceProperties('AWS::Events::EventBus', { Name: 'nct04893161-dev-study' });
  });

  it('routes "study data changed" to a queue for each consumer function only', () => {
    const consumers = FUNCTIONS.filter((f) => f.trigger.kind === 'study-events');
    const rules = Object.values(resourcesOf(synth.template, 'AWS::Events::Rule')).filter((r) => r.Properties.EventPattern);
    expect(rules).toHaveLength(consumers.length);
    for (const rule of rules) {
      expect(rule.Properties.EventPattern).toMatchObject({ source: [EVENT_SOURCE], 'detail-type': [STUDY_DATA_CHANGED] });
    }
  });

  it('gives every queue a DLQ or makes it one, and encrypts them all', () => {
    const consumers = FUNCTIONS.filter((f) => f.trigger.kind === 'study-events');
    const queues = resourcesOf(synth.template, 'AWS::SQS::Queue');
    // The consumers' queues and DLQs, the export and import worker queues and their DLQs, the audit function's DLQ.
    expect(Object.keys(queues)).toHaveLength(consumers.length * 2 + 2 + 2 + 1);
    const targetOf = (arn: unknown): string => (arn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const deadLetterQueues = new Set<string>();
    for (const queue of Object.values(queues)) {
      if (queue.Properties.RedrivePolicy) deadLetterQueues.add(targetOf(queue.Properties.RedrivePolicy.deadLetterTargetArn));
    }
    const audit = resourcesOf(synth.template, 'AWS::Lambda::Function')[functionLogicalId(synth.template, 'audit')]!;
    const auditDlq = targetOf(audit.Properties.DeadLetterConfig.TargetArn);
    deadLetterQueues.add(auditDlq);
    for (const [id, queue] of Object.entries(queues)) {
      expect(Boolean(queue.Properties.RedrivePolicy) !== deadLetterQueues.has(id), `${id}: has a DLQ xor is one`).toBe(true);
      if (queue.Properties.RedrivePolicy) expect(queue.Properties.RedrivePolicy.maxReceiveCount).toBeGreaterThan(0);
      // Customer-managed keys, but for the audit DLQ (SSE-SQS, test/infra/audit.test.ts: its writer needs no key grant).
      if (id === auditDlq) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
      else expect(queue.Properties.KmsMasterKeyId, id).toBeDefined();
    }
  });

  // Issue 13: one subject step replaces derive, screen and predict; its own derived results never send the subject round again.
  it('feeds the one subject step only source events (or events without an origin), capped at its reserved concurrency', () => {
    const consumers = FUNCTIONS.filter((f) => f.trigger.kind === 'study-events').map((f) => f.name);
    expect(consumers).toContain('subject-step');
    expect(consumers.filter((name) => ['derive', 'screen', 'predict'].includes(name))).toEqual([]);
    const rule = Object.values(resourcesOf(synth.template, 'AWS::Events::Rule')).find((r) => r.Properties.Name === 'nct04893161-dev-subject-step')!;
    expect(rule.Properties.EventPattern).toEqual({
      source: [EVENT_SOURCE],
      'detail-type': [STUDY_DATA_CHANGED],
      detail: { origin: ['source', { exists: false }] },
    });
    const mapping = Object.values(resourcesOf(synth.template, 'AWS::Lambda::EventSourceMapping')).find((m) =>
      JSON.stringify(m.Properties.FunctionName).includes(functionLogicalId(synth.template, 'subject-step')),
    )!;
    const spec = FUNCTIONS.find((f) => f.name === 'subject-step')!;
    expect(mapping.Properties).toMatchObject({ BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'], ScalingConfig: { MaximumConcurrency: spec.reservedConcurrency } });
  });

  it('encrypts the recruitment alert and ops topics with a customer-managed key', () => {
    for (const name of ['recruitment-alerts', 'ops']) {
      synth.template.hasResourceProperties('AWS::SNS::Topic', {
        TopicName: `nct04893161-dev-${name}`,
        KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('MessagingKey'), 'Arn'] },
      });
    }
  });
});

describe('StudyStack: cdk-nag', () => {
  it('has no unacknowledged AwsSolutions or HIPAA.Security finding', () => {
    const findings = [new AwsSolutionsChecks(), new HIPAASecurityChecks()].flatMap((pack) =>
      pack.validateScope(synth.app).violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}: ${v.description}`),
    );
    expect(findings).toEqual([]);
  });
});

describe('StudyStack: stage overrides', () => {
  it('drops a reservation set to 0 for a stage and still synthesises', () => {
    const sandbox = synthesise({ context: { stage: 'sandbox', reservedConcurrency: { serve: 0 } } });
    try {
      const serve = resourcesOf(sandbox.template, 'AWS::Lambda::Function')[functionLogicalId(sandbox.template, 'serve')]!;
      expect(serve.Properties.ReservedConcurrentExecutions).toBeUndefined();
      expect(serve.Properties.FunctionName).toBe('nct04893161-sandbox-serve');
    } finally {
      sandbox.dispose();
    }
  }, 120_000);

  it('refuses a feature deployed with only part of its functions', () => {
    // Subscriptions without the notifier would accept subscriptions and never notify (R4 backport IG).
    expect(() => synthesise({ functions: FUNCTIONS.filter((f) => f.name === 'subscriptions') })).toThrow(
      /Topic-based Subscriptions needs subscriptions and notify; infra\/functions.ts is missing notify/,
    );
  }, 60_000);

  it('refuses a reservation for a function that does not exist', () => {
    expect(() => synthesise({ context: { reservedConcurrency: { nonesuch: 5 } } })).toThrow(/reservedConcurrency names no function: nonesuch/);
  });
});

describe('StudyStack: the study app (issue 16)', () => {
  /** The app's nested stack (infra/app-hosting.ts). */
  const hosting = (): Template => Template.fromStack(synth.stack.node.findChild('App') as AppHosting);

  it('hosts the app on CloudFront with origin access control and the API same-origin under /fhir/*', () => {
    synth.template.resourceCountIs('AWS::CloudFormation::Stack', 1);
    hosting().resourceCountIs('AWS::CloudFront::Distribution', 1);
    hosting().resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    hosting().hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
        CacheBehaviors: [Match.objectLike({ PathPattern: '/fhir/*', ViewerProtocolPolicy: 'https-only' })],
      }),
    });
    const csp = JSON.stringify(hosting().findResources('AWS::CloudFront::ResponseHeadersPolicy'));
    expect(csp).toContain("frame-ancestors 'none'");
    synth.template.hasOutput('AppUrl', {});
  });

  it('deploys app/dist only when it was built before the synth', () => {
    const built = existsSync(join(PROJECT_ROOT, 'app', 'dist', 'index.html'));
    hosting().resourceCountIs('Custom::CDKBucketDeployment', built ? 1 : 0);
  });
});
