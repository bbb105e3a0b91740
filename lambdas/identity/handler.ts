import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { awsStores } from '../commons/aws-runtime.js';
import { loadConfig } from '../commons/config.js';
import { fromApiGateway, toApiGateway } from '../commons/http/request.js';
import { once } from '../commons/once.js';
import { handleResolve, type IdentityDeps } from './resolve-request.js';

/**
 * The recruitment identity route over its ports: the AWS handler below and the local server build it the same way.
 * @param deps - Gets the ports (built once, on first use).
 * @param logger - The function's logger.
 * @returns The middy handler.
 */
export function createIdentityHandler(deps: () => IdentityDeps & { publicBaseUrl?: string }, logger: Logger) {
  return middy<APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2>()
    .use(injectLambdaContext(logger))
    .handler(async (event) => {
      const d = deps();
      return toApiGateway(await handleResolve(fromApiGateway(event, d.publicBaseUrl), d));
    });
}

const logger = new Logger({ serviceName: 'identity' });

export const handler = createIdentityHandler(
  once(() => {
    const config = loadConfig();
    const { identity, store } = awsStores(config);
    return { identity, store, logger, now: () => new Date(), ...(config.PUBLIC_BASE_URL ? { publicBaseUrl: config.PUBLIC_BASE_URL } : {}) };
  }),
  logger,
);
