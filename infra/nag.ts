import { Validations } from 'aws-cdk-lib';
import type { HttpRoute } from 'aws-cdk-lib/aws-apigatewayv2';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { FunctionSpec } from './functions.js';

/*
 * Every cdk-nag finding we accept, with the reason, in one place. A synth with any other finding fails
 * (both packs run as policy validation plugins, infra/build-app.ts). Acknowledgements go on the narrowest
 * construct that carries the finding, so a new resource of the same kind is checked afresh.
 */

/** Why the functions are not in a VPC (HIPAA.Security-LambdaInsideVPC). */
export const NO_VPC_REASON =
  'The functions accept no inbound connections and call only AWS APIs (DynamoDB, EventBridge, SNS) over TLS with ' +
  'SigV4 and least-privilege roles; a VPC would add no control over that path, but would add interface endpoints ' +
  '(about USD 7-8 per endpoint per AZ a month, several needed), flow logs and ENI management. Revisit if the ' +
  "hospital's landing zone mandates VPC-attached Lambdas (e.g. an SCP on lambda:VpcIds).";

/**
 * Acknowledges the findings of one function and its role.
 * @param fn - The function.
 * @param spec - Its spec.
 * @param reservedConcurrency - What the stage reserves for it (0 = none).
 */
export function acknowledgeFunction(fn: NodejsFunction, spec: FunctionSpec, reservedConcurrency: number): void {
  const dlqReason =
    spec.trigger.kind === 'api'
      ? 'Invoked synchronously by API Gateway: a Lambda DLQ only applies to asynchronous invocations; the caller gets the error (an OperationOutcome or a 5xx) and the Errors alarm fires.'
      : spec.trigger.kind === 'schedule'
        ? 'Invoked by a schedule with an empty event: a failed run has nothing worth keeping, the next run repeats its work, and the Errors alarm fires.'
        : spec.trigger.kind === 'study-events'
          ? 'Invoked by an SQS event source mapping: failed messages go to the queue\'s own DLQ (redrive policy), which is alarmed; a Lambda DLQ does not apply.'
          : undefined; // log-subscription: invoked asynchronously, so it has a real DLQ (infra/audit.ts) and nothing to acknowledge
  if (dlqReason) Validations.of(fn).acknowledge({ id: 'HIPAA.Security-LambdaDLQ', reason: dlqReason });
  Validations.of(fn).acknowledge({ id: 'HIPAA.Security-LambdaInsideVPC', reason: NO_VPC_REASON });
  if (reservedConcurrency === 0) {
    Validations.of(fn).acknowledge({
      id: 'HIPAA.Security-LambdaConcurrency',
      reason: 'This stage sets reservedConcurrency 0 for the function on purpose (an account whose concurrency quota cannot spare the reservation, e.g. a new sandbox); API stage throttling still bounds it.',
    });
  }
  if (fn.role) {
    Validations.of(fn.role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) are on "*": X-Ray has no resource-level permissions. test/infra pins that no other statement uses "*".',
      },
      {
        id: 'HIPAA.Security-IAMNoInlinePolicy',
        reason: 'The inline policy belongs to a role that serves exactly one function and is generated from infra/functions.ts (versioned and reviewed with the code); it cannot be attached elsewhere and is deleted with its role.',
      },
    );
  }
}

/**
 * Acknowledges the missing authorizer on a route that is public on purpose.
 * @param route - The route.
 * @param reason - Why it is public.
 */
export function acknowledgePublicRoute(route: HttpRoute, reason: string): void {
  Validations.of(route).acknowledge({ id: 'AwsSolutions-APIG4', reason });
}
