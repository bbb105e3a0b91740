import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { LogGroup } from 'aws-cdk-lib/aws-logs';
import { FilterPattern, SubscriptionFilter } from 'aws-cdk-lib/aws-logs';
import { LambdaDestination } from 'aws-cdk-lib/aws-logs-destinations';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AUDIT_RECORD_FIELD } from '../lambdas/commons/audit/log-audit.js';
import { retentionPolicySchema, type RetentionPolicy } from '../lambdas/commons/audit/retention.js';
import type { DeployedFunction } from './study-stack.js';

/** The study's audit retention (fhir-profiles/audit/retention.json). */
export function auditRetention(): RetentionPolicy {
  return retentionPolicySchema.parse(JSON.parse(readFileSync(resolve(import.meta.dirname, '..', 'fhir-profiles', 'audit', 'retention.json'), 'utf8')));
}

/** The access-record lines of an API function's log (lambdas/commons/audit/log-audit.ts). */
export const ACCESS_RECORD_PATTERN = `{ $.${AUDIT_RECORD_FIELD}.requestId = * }`;
/** API access-log lines of a refusal by the gateway itself (JWT authorizer 401, route scope 403): no function ran. */
export const GATEWAY_REFUSAL_PATTERN = '{ ($.status = "401" || $.status = "403") && $.integrationLatency = "-" }';

/** Functions outside the API whose log carries access-record lines: the notifier's outbound notifications. */
const BACKGROUND_AUDITED: ReadonlySet<string> = new Set(['notify']);

/** Properties of {@link StudyAudit}. */
export interface StudyAuditProps {
  readonly prefix: string;
  /** The stack's functions: `audit` (the writer) and every `api` function. */
  readonly functions: ReadonlyMap<string, DeployedFunction>;
  readonly alarmTopic: ITopic;
  /** The HTTP API's access log group (default: the stack's `ApiAccessLogGroup`). */
  readonly accessLogs?: LogGroup;
}

/**
 * The audit trail in AWS (issue 17). Every API function writes one access-record line per request to
 * its own log group (lambdas/commons/audit/, no store commit and no network call on the request
 * path); a subscription filter on each API log group, and one on the HTTP API's access log for the
 * refusals API Gateway answers itself (401, 403 on a route scope), hands the lines to the `audit`
 * function, which commits them as BALP AuditEvents to the study store with ids from the request ids.
 * The hand-over is an asynchronous invocation: two retries, then the function's DLQ (kept 14 days, alarmed).
 * The log lines themselves stay for the log groups' retention, a copy to replay from.
 */
export class StudyAudit extends Construct {
  public readonly deadLetterQueue: Queue;
  public readonly dlqAlarm: Alarm;
  public readonly subscriptions: SubscriptionFilter[] = [];

  constructor(scope: Construct, id: string, props: StudyAuditProps) {
    super(scope, id);
    const writer = props.functions.get('audit');
    if (!writer) throw new Error('infra/functions.ts has no "audit" function');
    const retention = auditRetention();
    // SQS-managed encryption: the records hold pseudonyms and study ids only, and the writer then needs no KMS grant.
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      queueName: `${props.prefix}-audit-dlq`,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(retention.deadLetterQueue.retainDays),
    });
    // The function's own DLQ (DeadLetterConfig): what the asynchronous invocations of the subscription
    // filters leave after two retries. NodejsFunction takes it only at construction, which the stack does.
    (writer.fn.node.defaultChild as CfnFunction).deadLetterConfig = { targetArn: this.deadLetterQueue.queueArn };
    this.deadLetterQueue.grantSendMessages(writer.fn);
    writer.fn.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6) });

    const destination = new LambdaDestination(writer.fn);
    for (const deployed of props.functions.values()) {
      // The notifier is no API function, but each POST it makes to a subscriber is an access too (lambdas/notify/deliver.ts).
      if (deployed.spec.trigger.kind !== 'api' && !BACKGROUND_AUDITED.has(deployed.spec.name)) continue;
      this.subscriptions.push(
        new SubscriptionFilter(this, `${deployed.spec.name}AccessRecords`, {
          logGroup: deployed.logGroup,
          destination,
          filterPattern: FilterPattern.literal(ACCESS_RECORD_PATTERN),
          filterName: `${props.prefix}-${deployed.spec.name}-access-records`,
        }),
      );
    }
    const accessLogs = props.accessLogs ?? (Stack.of(this).node.tryFindChild('ApiAccessLogGroup') as LogGroup | undefined);
    if (accessLogs) {
      this.subscriptions.push(
        new SubscriptionFilter(this, 'GatewayRefusals', {
          logGroup: accessLogs,
          destination,
          filterPattern: FilterPattern.literal(GATEWAY_REFUSAL_PATTERN),
          filterName: `${props.prefix}-api-refusals`,
        }),
      );
    }

    this.dlqAlarm = new Alarm(this, 'DeadLetterAlarm', {
      alarmName: `${props.prefix}-audit-dlq-not-empty`,
      alarmDescription: 'audit: access records the audit function could not commit are waiting in the audit DLQ',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const action = new SnsAction(props.alarmTopic);
    this.dlqAlarm.addAlarmAction(action);
    this.dlqAlarm.addOkAction(action);
  }
}
