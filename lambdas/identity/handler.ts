import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { auditAccess } from '../commons/audit/middleware.js';
import { awsAudit } from '../commons/audit/aws.js';
import type { AuditPort } from '../commons/audit/port.js';
import { awsStores } from '../commons/aws-runtime.js';
import { loadConfig } from '../commons/config.js';
import { fromApiGateway, toApiGateway } from '../commons/http/request.js';
import { once } from '../commons/once.js';
import { handleResolve, type IdentityDeps } from './resolve-request.js';

/**
 * The recruitment identity route over its ports: the AWS handler below and the local server build it the same way.
 * @param deps - Gets the ports (built once, on first use).
 * @param logger - The function's logger.
 * @param audit - The audit ports: each access recorded at this edge (AWS). The local server records at its own edge and passes none.
 * @returns The middy handler.
 */
export function createIdentityHandler(deps: () => IdentityDeps & { publicBaseUrl?: string }, logger: Logger, audit?: () => readonly AuditPort[]) {
  const lambda = middy<APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2>().use(injectLambdaContext(logger));
  if (audit) lambda.use(auditAccess(audit, logger));
  return lambda.handler(async (event) => {
    const d = deps();
    return toApiGateway(await handleResolve(fromApiGateway(event, d.publicBaseUrl), d));
  });
}

const logger = new Logger({ serviceName: 'identity' });

export const handler = createIdentityHandler(
  once(() => {
    const config = loadConfig();
    const { identity } = awsStores(config);
    return { identity, logger, now: () => new Date(), ...(config.PUBLIC_BASE_URL ? { publicBaseUrl: config.PUBLIC_BASE_URL } : {}) };
  }),
  logger,
  awsAudit(),
);
