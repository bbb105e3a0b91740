import { OperationOutcomeError } from '@medplum/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Resource } from '@medplum/fhirtypes';
import { can, parseScope, principalFromClaims, requireScope, type Principal } from '../commons/auth/index.js';
import type { EventsPort } from '../commons/events/port.js';
import { publishAndAck } from '../commons/events/relay.js';
import { checkFanOut } from '../commons/fhir/check-fan-out.js';
import { parseFhirJson } from '../commons/fhir/parse-body.js';
import { Deadline, DeadlineExceededError, storeWithDeadline, withinDeadline } from '../commons/http/deadline.js';
import { deadlineExceeded, errorLogFields, methodNotAllowed, outcomeOf, payloadTooLarge } from '../commons/http/outcomes.js';
import { limits as processLimits, type Limits } from '../commons/limits.js';
import { requireJsonAccepted, requireJsonBody } from '../commons/http/negotiation.js';
import { outcomeResponse, type HttpRequest, type HttpResponse } from '../commons/http/request.js';
import { ingestBundle, type IngestDeps, type IngestEndpoint } from './core/ingest-bundle.js';

/** The ingest function's ports and limits. */
export interface IngestHttpDeps extends IngestDeps {
  readonly events: EventsPort;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly maxDepth: number;
  /** Cost limits (default: from the environment, see lambdas/commons/limits.ts). */
  readonly limits?: Limits;
}

/**
 * `POST /fhir` (batch, transaction) and `POST /fhir/Bundle` (collection).
 * @param req - The request.
 * @param deps - Ports and limits.
 * @returns The batch/transaction response, or an OperationOutcome.
 */
export async function handleIngest(req: HttpRequest, deps: IngestHttpDeps): Promise<HttpResponse> {
  const deadline = req.deadline ?? new Deadline(Number.POSITIVE_INFINITY);
  return withinDeadline(deadline, () => ingestWithin(req, deps, deadline), () => outcomeResponse(deadlineExceeded));
}

async function ingestWithin(req: HttpRequest, deps: IngestHttpDeps, deadline: Deadline): Promise<HttpResponse> {
  const limits = deps.limits ?? processLimits();
  try {
    const endpoint = routeOf(req);
    const principal = principalFromClaims(req.claims ?? {});
    // Before the body is read: a caller who may create nothing gets its 403 for free.
    requireSomeCreateScope(principal);
    if (!req.body || req.body.length === 0) {
      throw new OperationOutcomeError({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'required', details: { text: 'Request body is empty' } }],
      });
    }
    if (req.body.length > deps.maxBodyBytes) {
      throw new OperationOutcomeError(payloadTooLarge(deps.maxBodyBytes));
    }
    if ((req.deliveredBodyBytes ?? req.body.length) > limits.MAX_EVENT_BODY_BYTES) {
      throw new OperationOutcomeError(payloadTooLarge(limits.MAX_EVENT_BODY_BYTES));
    }
    // JSON only, said clearly (FHIR R4 http.html#mime-type): 415 for an XML body, 406 for an XML Accept.
    requireJsonBody(req.headers['content-type'], req.body);
    requireJsonAccepted(req.query, req.headers.accept);
    const bundle = parseFhirJson(req.body, { maxDepth: deps.maxDepth });
    for (const type of typesOf(bundle)) {
      requireScope(principal, type, 'c');
    }
    checkFanOut(bundle, limits);
    const store = storeWithDeadline(deps.store, deadline, limits.COMMIT_RESERVE_MS);
    const result = await ingestBundle(bundle, endpoint, { ...deps, store, mayUpdate: (type) => can(principal.scopes, type, 'u') });
    deps.logger.info('Bundle ingested', {
      entries: result.response.entry?.length ?? 0,
      statuses: countStatuses(result.response.entry?.map((e) => e.response?.status ?? '') ?? []),
      changedPatients: result.changed.length,
    });
    try {
      // Unchanged patients too: their event may be the one a failed earlier attempt never published.
      await publishAndAck(deps.store, deps.events, [...result.changed, ...result.unchanged]);
    } catch (err) {
      // Committed already: the events stay in the outbox and the relay publishes them later.
      deps.logger.warn('Event publish deferred to the outbox relay', { error: (err as Error).name });
    }
    return { status: 200, body: result.response };
  } catch (err) {
    const outcome = outcomeOf(err);
    if (err instanceof DeadlineExceededError) {
      // Expected under load: nothing was committed and the caller is told to retry.
      deps.logger.warn('Ingest stopped at its commit point: out of time', { remainingMs: Math.round(deadline.remaining()) });
    } else if (!(err instanceof OperationOutcomeError)) {
      deps.logger.error('Ingest failed', errorLogFields(err));
    }
    return outcomeResponse(outcome);
  }
}

function routeOf(req: HttpRequest): IngestEndpoint {
  const path = req.path.replace(/\/+$/, '') || '/';
  if (path !== '/' && path !== '/Bundle') {
    throw new OperationOutcomeError({
      resourceType: 'OperationOutcome',
      id: 'not-found',
      issue: [{ severity: 'error', code: 'not-found', details: { text: `No ingest route ${path}` } }],
    });
  }
  if (req.method !== 'POST') {
    throw new OperationOutcomeError(methodNotAllowed(req.method, path));
  }
  return path === '/' ? 'system' : 'Bundle';
}

/**
 * Refuses a caller with no create scope at all before any of its body is parsed; which types it may
 * create is checked once the body names them.
 * @param principal - The verified caller.
 */
function requireSomeCreateScope(principal: Principal): void {
  const any = principal.scopes.some((raw) => {
    const scope = parseScope(raw);
    return scope.kind === 'resource' && scope.context === 'system' && scope.restriction === undefined && scope.interactions.has('c');
  });
  if (!any) {
    // The same 403 the per-type check gives, naming the interaction and not the body's content.
    requireScope(principal, 'Bundle', 'c');
  }
}

function typesOf(resource: Resource): Set<string> {
  if (resource.resourceType !== 'Bundle') {
    return new Set([resource.resourceType]);
  }
  // Not validated yet: `entry` may be anything, and the validator that runs next says what is wrong with it.
  const entries: unknown[] = Array.isArray(resource.entry) ? resource.entry : [];
  const types = entries.map((e) => (e as { resource?: { resourceType?: unknown } } | null)?.resource?.resourceType);
  return new Set(types.filter((t): t is string => typeof t === 'string'));
}

function countStatuses(statuses: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const status of statuses) {
    const code = status.slice(0, 3);
    counts[code] = (counts[code] ?? 0) + 1;
  }
  return counts;
}
