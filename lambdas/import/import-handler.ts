import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { fromApiGateway, toApiGateway } from '../commons/http/request.js';
import { handleImport, type ImportHttpDeps } from './import-request.js';

/**
 * The import kick-off over its ports, for the local server (the AWS deployment of import, reading
 * from the hospital's S3 bucket, is not built yet: see the README).
 * @param deps - Gets the ports.
 * @param logger - The logger.
 * @returns The middy handler.
 */
export function createImportHandler(deps: () => ImportHttpDeps & { publicBaseUrl?: string }, logger: Logger) {
  return middy<APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2>()
    .use(injectLambdaContext(logger))
    .handler(async (event) => {
      const d = deps();
      return toApiGateway(await handleImport(fromApiGateway(event, d.publicBaseUrl), d));
    });
}
