import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { CfnFunction, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EVENT_SOURCE, STUDY_DATA_CHANGED } from '../lambdas/commons/events/eventbridge.js';

/** Properties of {@link ConsumerQueue}. */
export interface ConsumerQueueProps {
  /** Names the queues `${prefix}-${consumer}` and `${prefix}-${consumer}-dlq`. */
  readonly prefix: string;
  /** The consumer's name (its folder under lambdas/). */
  readonly consumer: string;
  /** The bus the "study data changed" events arrive on. */
  readonly bus: IEventBus;
  /** Encrypts both queues; its policy must let EventBridge use it (the stack's messaging key does). */
  readonly key: IKey;
  /** Where the alarms go. */
  readonly alarmTopic: ITopic;
  /** The consumer's timeout: the queue's visibility timeout is six times it (AWS guidance for Lambda). */
  readonly consumerTimeout: Duration;
  /** Receives before a message moves to the DLQ (default 5). */
  readonly maxReceiveCount?: number;
  /** Age of the oldest message that counts as a stuck consumer (default 15 minutes). */
  readonly maxAge?: Duration;
  /**
   * Only events of these origins (`detail.origin`; an event without one counts as `source`);
   * absent: every event. The subject step takes `['source']`, so its own results never reach it.
   */
  readonly origins?: readonly ('source' | 'derived')[];
}

/**
 * A consumer's share of the "study data changed" events: a rule on the bus that sends them to the
 * consumer's own KMS-encrypted queue, with a DLQ (after `maxReceiveCount` receives, and for what
 * EventBridge itself fails to deliver), alarms on the DLQ's depth and the queue's age, and
 * {@link ConsumerQueue.attach} to plug the consumer function in with partial batch failure reporting.
 *
 * Defaults: redrive after 5 receives; DLQ kept 14 days (SQS's maximum); TLS-only queue policies;
 * alarms on any DLQ message and on a message older than 15 minutes.
 */
export class ConsumerQueue extends Construct {
  public readonly queue: Queue;
  public readonly deadLetterQueue: Queue;
  public readonly rule: Rule;
  public readonly dlqAlarm: Alarm;
  public readonly ageAlarm: Alarm;

  constructor(scope: Construct, id: string, props: ConsumerQueueProps) {
    super(scope, id);
    const name = `${props.prefix}-${props.consumer}`;
    const maxAge = props.maxAge ?? Duration.minutes(15);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      queueName: `${name}-dlq`,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Queue', {
      queueName: name,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      // Lambda reuses the data key for 5 minutes instead of calling KMS on every receive.
      dataKeyReuse: Duration.minutes(5),
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
    this.rule = new Rule(this, 'Rule', {
      ruleName: name,
      description: `"study data changed" events for ${props.consumer}`,
      eventBus: props.bus,
      eventPattern: { source: [EVENT_SOURCE], detailType: [STUDY_DATA_CHANGED], ...(props.origins ? { detail: { origin: originPattern(props.origins) } } : {}) },
      targets: [new SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 185, maxEventAge: Duration.hours(24) })],
    });
    const action = new SnsAction(props.alarmTopic);
    this.dlqAlarm = new Alarm(this, 'DeadLetterAlarm', {
      alarmName: `${name}-dlq-not-empty`,
      alarmDescription: `${props.consumer}: events it could not process are waiting in ${name}-dlq`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.ageAlarm = new Alarm(this, 'AgeAlarm', {
      alarmName: `${name}-backlog`,
      alarmDescription: `${props.consumer}: the oldest event has waited more than ${maxAge.toHumanString()}`,
      metric: this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: maxAge.toSeconds(),
      evaluationPeriods: 5,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.dlqAlarm, this.ageAlarm]) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }

  /**
   * Makes the function consume the queue; it reports the messages it failed (`batchItemFailures`) so that
   * only those are received again.
   *
   * The event source's maximum concurrency is set to the function's reserved concurrency: without it,
   * Lambda's pollers invoke beyond the reservation, the throttled invocations return their messages to
   * the queue, each return counts as a receive, and good messages reach the DLQ after maxReceiveCount
   * throttles. SQS's maximum concurrency is at least 2, so a consumer must reserve at least 2.
   * @param consumer - The consumer function.
   * @param batchSize - Messages per invocation (default 10).
   * @param maxConcurrency - Concurrent invocations from this queue (default: the function's reserved concurrency).
   */
  attach(consumer: IFunction, batchSize = 10, maxConcurrency?: number): void {
    const reserved = reservedConcurrencyOf(consumer);
    const concurrency = maxConcurrency ?? reserved;
    if (concurrency !== undefined && (concurrency < 2 || (reserved !== undefined && concurrency > reserved))) {
      throw new Error(
        `${this.node.path}: the event source's maximum concurrency (${concurrency}) must be from 2 to the consumer's reserved concurrency (${reserved ?? 'none'})`,
      );
    }
    consumer.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize,
        reportBatchItemFailures: true,
        ...(concurrency !== undefined ? { maxConcurrency: concurrency } : {}),
        // Above 10 messages Lambda requires a batching window.
        ...(batchSize > 10 ? { maxBatchingWindow: Duration.seconds(5) } : {}),
      }),
    );
  }
}

/**
 * The `detail.origin` matcher of the given origins: values in one array are ORed, and `source`
 * also matches an event without the field (events written before the field existed, and writers that do not set it).
 * @param origins - The origins to let through.
 * @returns The pattern values.
 */
export function originPattern(origins: readonly ('source' | 'derived')[]): (string | { exists: false })[] {
  return [...origins, ...(origins.includes('source') ? [{ exists: false as const }] : [])];
}

/** The reserved concurrency of a function defined in this app (undefined: none, or imported). */
function reservedConcurrencyOf(fn: IFunction): number | undefined {
  const cfn = fn.node.defaultChild;
  const reserved = cfn instanceof CfnFunction ? cfn.reservedConcurrentExecutions : undefined;
  return typeof reserved === 'number' && reserved > 0 ? reserved : undefined;
}
