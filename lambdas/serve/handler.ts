import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { auditAccess } from '../commons/audit/middleware.js';
import { awsAudit } from '../commons/audit/aws.js';
import type { AuditPort } from '../commons/audit/port.js';
import { awsStores } from '../commons/aws-runtime.js';
import { loadConfig } from '../commons/config.js';
import { Deadline } from '../commons/http/deadline.js';
import { fromApiGateway, toApiGateway } from '../commons/http/request.js';
import { limits } from '../commons/limits.js';
import { once } from '../commons/once.js';
import { serveDeps } from './root.js';
import { handleServe, type ServeDeps } from './serve-request.js';

/**
 * The serve Lambda over its ports: the AWS handler below and the local server build it the same way.
 * @param deps - Gets the ports (built once, on first use).
 * @param logger - The function's logger.
 * @param audit - The audit ports: each access recorded at this edge (AWS). The local server records at its own edge and passes none.
 * @returns The middy handler.
 */
export function createServeHandler(deps: () => ServeDeps & { publicBaseUrl?: string }, logger: Logger, audit?: () => readonly AuditPort[]) {
  // middy's own early timeout is off: it would answer from outside the handler's error handling while
  // the work went on and committed. The handler keeps its deadline itself (see Deadline).
  const lambda = middy<APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2>({ timeoutEarlyInMillis: 0 }).use(injectLambdaContext(logger));
  if (audit) lambda.use(auditAccess(audit, logger));
  return lambda.handler(async (event, context) => {
    const d = deps();
    const deadline = Deadline.fromContext(context, limits().DEADLINE_MARGIN_MS);
    return toApiGateway(await handleServe(fromApiGateway(event, d.publicBaseUrl, deadline), d));
  });
}

const logger = new Logger({ serviceName: 'serve' });

export const handler = createServeHandler(
  once(() => {
    const config = loadConfig();
    return serveDeps({ config, logger, store: awsStores(config).store });
  }),
  logger,
  awsAudit(),
);
