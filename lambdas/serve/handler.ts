import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { awsRuntime } from '../commons/aws-runtime.js';
import { fromApiGateway, toApiGateway } from '../commons/http/request.js';
import { once } from '../commons/once.js';
import { handleServe, type ServeDeps } from './serve-request.js';

/**
 * The serve Lambda over its ports: the AWS handler below and the local server build it the same way.
 * @param deps - Gets the ports (built once, on first use).
 * @param logger - The function's logger.
 * @returns The middy handler.
 */
export function createServeHandler(deps: () => ServeDeps & { publicBaseUrl?: string }, logger: Logger) {
  return middy<APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2>()
    .use(injectLambdaContext(logger))
    .handler(async (event) => {
      const d = deps();
      return toApiGateway(await handleServe(fromApiGateway(event, d.publicBaseUrl), d));
    });
}

const logger = new Logger({ serviceName: 'serve' });

export const handler = createServeHandler(
  once(() => awsRuntime(logger).serve()),
  logger,
);
