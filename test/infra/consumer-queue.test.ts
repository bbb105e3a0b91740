import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVENT_SOURCE, STUDY_DATA_CHANGED } from '../../lambdas/commons/events/eventbridge.js';
import { ConsumerQueue, originPattern } from '../../infra/consumer-queue.js';
import { cdkJsonContext } from './synth.js';

// No consumer handler exists yet, so the construct is tried on its own, with a stand-in function.
let app: App;
let template: Template;

beforeAll(() => {
  app = new App({ context: cdkJsonContext() });
  const stack = new Stack(app, 'ConsumerQueueTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const key = new Key(stack, 'Key', { enableKeyRotation: true });
  const consumer = new LambdaFunction(stack, 'Screen', {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: Code.fromInline('export const handler = async () => ({ batchItemFailures: [] });'),
    timeout: Duration.seconds(30),
    reservedConcurrentExecutions: 5,
  });
  const queue = new ConsumerQueue(stack, 'ScreenEvents', {
    prefix: 'nct04893161-test',
    consumer: 'screen',
    bus: new EventBus(stack, 'Bus'),
    key,
    alarmTopic: new Topic(stack, 'Ops', { masterKey: key, enforceSSL: true }),
    consumerTimeout: Duration.seconds(30),
    maxReceiveCount: 3,
  });
  queue.attach(consumer, 10);
  template = Template.fromStack(stack);
});

describe('ConsumerQueue', () => {
  it('creates a KMS-encrypted, TLS-only queue that redrives to a KMS-encrypted DLQ', () => {
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'nct04893161-test-screen',
      KmsMasterKeyId: Match.anyValue(),
      VisibilityTimeout: 180,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 3 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'nct04893161-test-screen-dlq',
      KmsMasterKeyId: Match.anyValue(),
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    for (const policy of Object.values(template.findResources('AWS::SQS::QueuePolicy'))) {
      expect(JSON.stringify(policy)).toContain('aws:SecureTransport');
    }
  });

  it('routes "study data changed" from the bus to the queue, with the DLQ for failed deliveries', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: [EVENT_SOURCE], 'detail-type': [STUDY_DATA_CHANGED] },
      Targets: [Match.objectLike({ DeadLetterConfig: { Arn: Match.anyValue() } })],
    });
  });

  // Issue 13: the subject step takes source events only, so its own derived event never sends the subject round again.
  it('filters by origin when asked, counting an event without one as source', () => {
    const stack = new Stack(new App({ context: cdkJsonContext() }), 'SourceOnly', { env: { account: '123456789012', region: 'eu-west-1' } });
    const key = new Key(stack, 'Key', { enableKeyRotation: true });
    new ConsumerQueue(stack, 'StepEvents', {
      prefix: 'p',
      consumer: 'subject-step',
      bus: new EventBus(stack, 'Bus'),
      key,
      alarmTopic: new Topic(stack, 'Ops', { masterKey: key, enforceSSL: true }),
      consumerTimeout: Duration.seconds(30),
      origins: ['source'],
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: [EVENT_SOURCE], 'detail-type': [STUDY_DATA_CHANGED], detail: { origin: ['source', { exists: false }] } },
    });
    expect(originPattern(['derived'])).toEqual(['derived']);
    // Without origins every event passes (the default above): no detail filter at all.
    template.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.not(Match.objectLike({ detail: Match.anyValue() })) });
  });

  it('lets EventBridge use the queue key', () => {
    const key = Object.values(template.findResources('AWS::KMS::Key'))[0]!;
    expect(JSON.stringify(key.Properties.KeyPolicy)).toContain('events.amazonaws.com');
  });

  it('attaches the consumer with partial batch failure reporting', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  // Issue 14: reserved concurrency 5 with no event-source maximum let throttled receives push good messages to the DLQ.
  it('caps the event source at the consumer reserved concurrency, so throttling never counts as a receive', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 5 } });
  });

  it('refuses a consumer whose reservation is below what SQS maximum concurrency allows (2)', () => {
    const stack = new Stack(new App({ context: cdkJsonContext() }), 'TooFew', { env: { account: '123456789012', region: 'eu-west-1' } });
    const key = new Key(stack, 'Key', { enableKeyRotation: true });
    const fn = new LambdaFunction(stack, 'Fn', {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline('export const handler = async () => ({ batchItemFailures: [] });'),
      reservedConcurrentExecutions: 1,
    });
    const queue = new ConsumerQueue(stack, 'Q', {
      prefix: 'p',
      consumer: 'c',
      bus: new EventBus(stack, 'Bus'),
      key,
      alarmTopic: new Topic(stack, 'Ops', { masterKey: key, enforceSSL: true }),
      consumerTimeout: Duration.seconds(30),
    });
    expect(() => queue.attach(fn)).toThrow(/maximum concurrency \(1\) must be from 2/);
  });

  it('alarms on any message in the DLQ and on a stuck queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
      AlarmActions: [Match.anyValue()],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 900 });
  });

  it('raises no AwsSolutions or HIPAA.Security finding of its own', () => {
    const findings = [new AwsSolutionsChecks(), new HIPAASecurityChecks()].flatMap((pack) =>
      pack
        .validateScope(app)
        .violations.filter((v) => v.violatingResources.some((r) => r.constructPath?.includes('/ScreenEvents/')))
        .map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    );
    expect(findings).toEqual([]);
  });
});
