/**
 * The audit trail's AWS wiring (issue 17, infra/audit.ts): every API function's access-record lines
 * and the gateway's own refusals reach the audit function through CloudWatch Logs subscription
 * filters; its asynchronous invocations retry, then land in an alarmed DLQ; the API functions gain
 * no permission for it (serve still only reads).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_RECORD_PATTERN, auditRetention, GATEWAY_REFUSAL_PATTERN } from '../../infra/audit.js';
import { FUNCTIONS } from '../../infra/functions.js';
import { functionLogicalId, resourcesOf, synthesise, type Synthesised } from './synth.js';

let synth: Synthesised;

beforeAll(() => {
  synth = synthesise();
}, 300_000);

afterAll(() => synth?.dispose());

const logGroupOf = (name: string): string => {
  const [id] = Object.entries(resourcesOf(synth.template, 'AWS::Logs::LogGroup')).find(([, g]) => g.Properties.LogGroupName === `/aws/lambda/nct04893161-dev-${name}`) ?? [];
  return id as string;
};

describe('StudyAudit', () => {
  it('subscribes the audit function to the access records of every API function, and to the gateway refusals', () => {
    const filters = Object.values(resourcesOf(synth.template, 'AWS::Logs::SubscriptionFilter')).map((f) => f.Properties);
    const audit = functionLogicalId(synth.template, 'audit');
    for (const spec of FUNCTIONS.filter((f) => f.trigger.kind === 'api')) {
      const filter = filters.find((f) => f.LogGroupName?.Ref === logGroupOf(spec.name));
      expect(filter, spec.name).toMatchObject({ FilterPattern: ACCESS_RECORD_PATTERN, DestinationArn: { 'Fn::GetAtt': [audit, 'Arn'] } });
    }
    const gateway = filters.find((f) => f.FilterPattern === GATEWAY_REFUSAL_PATTERN);
    expect(JSON.stringify(gateway?.LogGroupName)).toContain('ApiAccessLogGroup');
  });

  it('retries a failed batch twice, then keeps it in an alarmed DLQ for the retention of the policy', () => {
    const [, config] = Object.entries(resourcesOf(synth.template, 'AWS::Lambda::EventInvokeConfig'))[0] ?? [];
    expect(config?.Properties).toMatchObject({ MaximumRetryAttempts: 2, FunctionName: { Ref: functionLogicalId(synth.template, 'audit') } });
    const dlq = Object.entries(resourcesOf(synth.template, 'AWS::SQS::Queue')).find(([, q]) => q.Properties.QueueName === 'nct04893161-dev-audit-dlq');
    expect(dlq?.[1].Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: auditRetention().deadLetterQueue.retainDays * 86_400 });
    const fn = resourcesOf(synth.template, 'AWS::Lambda::Function')[functionLogicalId(synth.template, 'audit')];
    expect(JSON.stringify(fn?.Properties.DeadLetterConfig)).toContain(dlq?.[0]);
    const alarm = Object.values(resourcesOf(synth.template, 'AWS::CloudWatch::Alarm')).find((a) => a.Properties.AlarmName === 'nct04893161-dev-audit-dlq-not-empty');
    expect(JSON.stringify(alarm?.Properties.AlarmActions)).toContain('OpsAlarms');
  });

  it('gives the API functions no permission for the audit trail (the record is a log line)', () => {
    const policies = Object.values(resourcesOf(synth.template, 'AWS::IAM::Policy'));
    for (const name of ['serve', 'identity']) {
      const role = Object.entries(resourcesOf(synth.template, 'AWS::IAM::Role')).find(([, r]) => r.Properties.RoleName?.['Fn::Join']?.[1]?.[0] === `nct04893161-dev-${name}-` || JSON.stringify(r.Properties.RoleName).includes(`-${name}-`))?.[0];
      const actions = policies.filter((p) => JSON.stringify(p.Properties.Roles).includes(role as string)).flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()));
      expect(actions.filter((a) => /^(sqs|events|lambda):/.test(a)), name).toEqual([]);
    }
  });
});
