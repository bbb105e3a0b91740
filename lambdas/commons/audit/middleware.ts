import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { unavailable } from '../http/outcomes.js';
import { outcomeResponse, toApiGateway } from '../http/request.js';
import type { AccessRecord } from './access-record.js';
import { captureAccess, isAudited } from './capture.js';
import { AUDIT_RECORD_FIELD } from './log-audit.js';
import type { AuditPort } from './port.js';

/**
 * Records one API access through the ports, in order, until one takes it. When none does, the record
 * is written to the function's log under the audit record field (in AWS the audit function is
 * subscribed to these lines and commits them), and a read is refused with a 503 instead of being
 * answered: no data leaves without its audit record. A write keeps its answer: its commit
 * happened, and the client must learn so.
 * @param record - The access.
 * @param method - HTTP method (GET and HEAD are reads).
 * @param ports - Where to send it, in order.
 * @param logger - The function's logger.
 * @returns `true` if a port took it, `false` if only the log did.
 */
export async function recordAccess(record: AccessRecord, method: string, ports: readonly AuditPort[], logger: Logger): Promise<boolean> {
  for (const port of ports) {
    try {
      await port.record(record);
      return true;
    } catch (err) {
      logger.warn('Audit queue refused an access record', { error: (err as Error)?.name ?? typeof err });
    }
  }
  // Pseudonyms and study ids only (see redact.ts): what an auditor may read.
  logger.error('Access record not queued; kept in the log', { [AUDIT_RECORD_FIELD]: record, read: method === 'GET' || method === 'HEAD' });
  return false;
}

/**
 * The middy middleware of every API handler: after the handler (or its error), one access record
 * per request, handed to the audit port before the answer leaves (in AWS a log line, see
 * log-audit.ts; never a store commit). Public discovery routes are not recorded (see capture.ts).
 * @param ports - Gets the audit ports (built once, on first use), tried in order.
 * @param logger - The function's logger.
 * @param now - The clock.
 * @returns The middleware.
 */
export function auditAccess(
  ports: () => readonly AuditPort[],
  logger: Logger,
  now: () => Date = () => new Date(),
): MiddlewareObj<APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2> {
  const after = async (request: { event: APIGatewayProxyEventV2WithJWTAuthorizer; response: APIGatewayProxyStructuredResultV2 | null }): Promise<void> => {
    const { event } = request;
    if (!isAudited(event.rawPath ?? '/')) return;
    const response = request.response ?? { statusCode: 500 };
    const method = event.requestContext?.http?.method ?? 'GET';
    const queued = await recordAccess(captureAccess(event, response, now()), method, ports(), logger);
    if (!queued && (method === 'GET' || method === 'HEAD') && (response.statusCode ?? 200) < 400) {
      request.response = toApiGateway(outcomeResponse(unavailable));
    }
  };
  return {
    after,
    onError: async (request) => {
      // The error goes on to middy; the failed access is recorded all the same.
      await after({ event: request.event, response: { statusCode: 500 } });
    },
  };
}
