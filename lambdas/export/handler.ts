import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { auditAccess } from '../commons/audit/middleware.js';
import { awsAudit } from '../commons/audit/aws.js';
import type { AuditPort } from '../commons/audit/port.js';
import { loadConfig } from '../commons/config.js';
import { fromApiGateway, toApiGateway } from '../commons/http/request.js';
import { once } from '../commons/once.js';
import { awsExportDeps } from './aws/adapters.js';
import { handleExport, type ExportHttpDeps } from './export-request.js';
import { runWorkerBatch } from './worker.js';

/**
 * The export API (kick-off, status, cancel) over its ports: the AWS handler (handler-aws.ts) and the
 * local server build it the same way.
 * @param deps - Gets the ports (built once, on first use).
 * @param logger - The function's logger.
 * @param audit - The audit ports: each access recorded at this edge (AWS). The local server records at its own edge and passes none.
 * @returns The middy handler.
 */
export function createExportHandler(deps: () => ExportHttpDeps & { publicBaseUrl?: string }, logger: Logger, audit?: () => readonly AuditPort[]) {
  const lambda = middy<APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2>().use(injectLambdaContext(logger));
  if (audit) lambda.use(auditAccess(audit, logger));
  return lambda.handler(async (event) => {
    const d = deps();
    return toApiGateway(await handleExport(fromApiGateway(event, d.publicBaseUrl), d));
  });
}

const logger = new Logger({ serviceName: 'export' });

const deps = once(() => awsExportDeps(loadConfig(), logger));
const api = createExportHandler(() => deps().http, logger, awsAudit());

/**
 * The AWS export function: the API (kick-off, status, cancel; API Gateway events) and the worker (SQS
 * events from its own queue, infra/bulk.ts) in one function, so both share one role and bundle. The API
 * answers in milliseconds; the function's long timeout is the worker's.
 * @param event - An API Gateway or an SQS event.
 * @param context - The invocation.
 * @returns The API answer, or the SQS batch response.
 */
export async function handler(event: APIGatewayProxyEventV2WithJWTAuthorizer | SQSEvent, context: Context): Promise<APIGatewayProxyStructuredResultV2 | SQSBatchResponse> {
  if ('Records' in event) {
    logger.addContext(context);
    return runWorkerBatch(event, context, deps, logger);
  }
  return api(event, context);
}
