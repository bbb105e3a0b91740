import { Duration } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { SUBSCRIPTION_TABLE } from '../lambdas/commons/store/tables.js';
import { grantTable } from './access.js';
import type { DeployedFunction } from './study-stack.js';
import { studyTable } from './tables.js';

/** Properties of {@link SubscriptionDelivery}. */
export interface SubscriptionDeliveryProps {
  readonly prefix: string;
  /** Encrypts the subscriptions table (the study table's key: the same data class, pseudonymous refs). */
  readonly key: IKey;
  /** The deployed functions: `subscriptions` (the API) and `notify` (the notifier) must be among them. */
  readonly functions: ReadonlyMap<string, DeployedFunction>;
  /** How often retries and heartbeats run (default every minute). */
  readonly everyMinutes?: number;
}

/**
 * What topic-based Subscriptions need beyond the two functions of infra/functions.ts: the
 * subscriptions table (event numbers, notification records, delivery state; read and written by
 * both functions and nothing else), and the schedule that runs the notifier's retries and heartbeats.
 * The notifier's share of the study events (bus -> its own SQS queue -> notify, with a DLQ and
 * alarms) is the `study-events` trigger every consumer gets (infra/consumer-queue.ts).
 */
export class SubscriptionDelivery extends Construct {
  public readonly table: TableV2;
  public readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: SubscriptionDeliveryProps) {
    super(scope, id);
    this.table = studyTable(this, 'Table', SUBSCRIPTION_TABLE, props.prefix, props.key);
    const fn = (name: string): DeployedFunction => {
      const deployed = props.functions.get(name);
      if (!deployed) throw new Error(`Subscriptions need the "${name}" function (infra/functions.ts)`);
      return deployed;
    };
    for (const name of ['subscriptions', 'notify']) {
      const deployed = fn(name);
      grantTable(deployed.fn, this.table, SUBSCRIPTION_TABLE, 'readWrite');
      deployed.fn.addEnvironment('SUBSCRIPTION_TABLE', this.table.tableName);
    }
    const every = props.everyMinutes ?? 1;
    const notify = fn('notify');
    this.schedule = new Rule(this, 'Schedule', {
      ruleName: `${props.prefix}-notify-schedule`,
      description: `Runs ${props.prefix}-notify every ${every} minute(s): subscription retries that are due, and heartbeats`,
      schedule: Schedule.rate(Duration.minutes(every)),
      // A failed run is not retried: the next tick does the same work.
      targets: [new LambdaFunction(notify.fn, { retryAttempts: 0 })],
    });
  }
}
