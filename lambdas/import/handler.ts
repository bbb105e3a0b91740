import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsAudit } from '../commons/audit/aws.js';
import { loadConfig } from '../commons/config.js';
import { once } from '../commons/once.js';
import { awsImportDeps } from './aws/adapters.js';
import { createImportHandler } from './import-handler.js';
import { runImportWorkerBatch } from './worker.js';

const logger = new Logger({ serviceName: 'import' });

const deps = once(() => awsImportDeps(loadConfig(), logger));
const api = createImportHandler(() => deps().http, logger, awsAudit());

/**
 * The AWS import function: the kick-off (`POST /fhir/$import`, API Gateway events; audited) and the
 * worker (SQS events from its own queue, infra/bulk-import.ts) in one function, as export does. The
 * status URL is the export function's (`/fhir/bulk-status/{id}`, same jobs table).
 * @param event - An API Gateway or an SQS event.
 * @param context - The invocation.
 * @returns The API answer, or the SQS batch response.
 */
export async function handler(event: APIGatewayProxyEventV2WithJWTAuthorizer | SQSEvent, context: Context): Promise<APIGatewayProxyStructuredResultV2 | SQSBatchResponse> {
  if ('Records' in event) {
    logger.addContext(context);
    return runImportWorkerBatch(event, context, deps, logger);
  }
  return api(event, context);
}
