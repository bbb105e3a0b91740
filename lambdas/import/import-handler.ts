import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { auditAccess } from '../commons/audit/middleware.js';
import type { AuditPort } from '../commons/audit/port.js';
import { fromApiGateway, toApiGateway } from '../commons/http/request.js';
import { handleImport, type ImportHttpDeps } from './import-request.js';

/**
 * The import kick-off over its ports: the AWS function (handler.ts, files in the import bucket) and the
 * local server (files under IMPORT_DIR) build it the same way.
 * @param deps - Gets the ports (built once, on first use).
 * @param logger - The logger.
 * @param audit - The audit ports: each access recorded at this edge (AWS). The local server records at its own edge and passes none.
 * @returns The middy handler.
 */
export function createImportHandler(deps: () => ImportHttpDeps & { publicBaseUrl?: string }, logger: Logger, audit?: () => readonly AuditPort[]) {
  const lambda = middy<APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2>().use(injectLambdaContext(logger));
  if (audit) lambda.use(auditAccess(audit, logger));
  return lambda.handler(async (event) => {
    const d = deps();
    return toApiGateway(await handleImport(fromApiGateway(event, d.publicBaseUrl), d));
  });
}
