import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { captureAccess, isAudited } from './capture.js';
import type { LocalAuditQueue } from './local-queue.js';
import { recordAccess } from './middleware.js';

/** What the local edge needs. */
export interface HttpAuditEdgeOptions {
  readonly queue: LocalAuditQueue;
  readonly logger: Logger;
  /** The verified claims of an Authorization header, or undefined when it does not verify. */
  readonly claims: (authorization: string | undefined) => Promise<Record<string, unknown> | undefined>;
  readonly now?: () => Date;
}

/** The local HTTP edge's audit: see {@link httpAuditEdge}. */
export interface HttpAuditEdge {
  /**
   * Watches one request: when its answer has been sent, records the access. Before a read of
   * AuditEvents, waits until every access answered so far is committed (a reader of the trail sees
   * the accesses before its own). Resolves when the request may be routed.
   */
  watch(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Waits for the records of every answered request, and commits them. */
  flush(): Promise<void>;
}

/**
 * The audit at the local server's edge, the counterpart of the API functions' middleware in AWS: it
 * sees every request whatever route or handler answers it (the token refusals before any handler,
 * routes added later), so each access is recorded exactly once, after its answer has left (the
 * request never waits for the store).
 * @param options - The queue, logger and token check.
 * @returns The edge.
 */
export function httpAuditEdge(options: HttpAuditEdgeOptions): HttpAuditEdge {
  const now = options.now ?? (() => new Date());
  const capturing = new Set<Promise<void>>();

  async function record(req: IncomingMessage, res: ServerResponse, url: URL, requestId: string, sourceIp: string, body: string | undefined): Promise<void> {
    // A refused token's claims are not trusted; any other answer had its token verified by the route.
    const claims = res.statusCode === 401 ? undefined : await options.claims(req.headers.authorization);
    const method = req.method ?? 'GET';
    const event = {
      rawPath: url.pathname,
      rawQueryString: url.search.replace(/^\?/, ''),
      headers: { 'x-forwarded-proto': 'http' },
      requestContext: {
        requestId,
        domainName: req.headers.host ?? '127.0.0.1',
        http: { method, sourceIp },
        authorizer: { jwt: { claims: claims ?? {} } },
      },
    } as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
    await recordAccess(captureAccess(event, { statusCode: res.statusCode, ...(body !== undefined ? { body } : {}) }, now()), method, [options.queue], options.logger);
  }

  return {
    async watch(req, res) {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (!isAudited(url.pathname)) return;
      const requestId = randomUUID();
      // Read now: once the answer is sent, the socket may be gone.
      const sourceIp = req.socket?.remoteAddress ?? '';
      // The answer's text, for the written resources and patients it names (a streamed file is not kept).
      let body: string | undefined;
      const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
      res.end = ((...args: unknown[]) => {
        if (typeof args[0] === 'string') body = args[0];
        return end(...args);
      }) as ServerResponse['end'];
      // `finish` when the answer has been handed over, `close` alone when the client went away first: once either way.
      let seen = false;
      const done = (): void => {
        if (seen) return;
        seen = true;
        const p = record(req, res, url, requestId, sourceIp, body).catch((err: unknown) => {
          options.logger.error('Access not recorded', { error: (err as Error)?.name ?? typeof err });
        });
        capturing.add(p);
        void p.finally(() => capturing.delete(p));
      };
      res.once('finish', done);
      res.once('close', done);
      if (url.pathname === '/fhir/AuditEvent' || url.pathname.startsWith('/fhir/AuditEvent/')) {
        await this.flush().catch((err: unknown) => options.logger.warn('Audit flush before a read failed', { error: (err as Error)?.name ?? typeof err }));
      }
    },
    async flush() {
      while (capturing.size > 0) await Promise.all([...capturing]);
      await options.queue.flush();
    },
  };
}
