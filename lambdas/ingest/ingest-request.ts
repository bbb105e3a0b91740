import { OperationOutcomeError } from '@medplum/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Resource } from '@medplum/fhirtypes';
import { principalFromClaims, requireScope } from '../commons/auth/index.js';
import type { EventsPort } from '../commons/events/port.js';
import { publishAndAck } from '../commons/events/relay.js';
import { parseFhirJson } from '../commons/fhir/parse-body.js';
import { errorLogFields, methodNotAllowed, outcomeOf, payloadTooLarge } from '../commons/http/outcomes.js';
import { outcomeResponse, type HttpRequest, type HttpResponse } from '../commons/http/request.js';
import { ingestBundle, type IngestDeps, type IngestEndpoint } from './core/ingest-bundle.js';

/** The ingest function's ports and limits. */
export interface IngestHttpDeps extends IngestDeps {
  readonly events: EventsPort;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly maxDepth: number;
}

/**
 * `POST /fhir` (batch, transaction) and `POST /fhir/Bundle` (collection).
 * @param req - The request.
 * @param deps - Ports and limits.
 * @returns The batch/transaction response, or an OperationOutcome.
 */
export async function handleIngest(req: HttpRequest, deps: IngestHttpDeps): Promise<HttpResponse> {
  try {
    const endpoint = routeOf(req);
    const principal = principalFromClaims(req.claims ?? {});
    if (!req.body || req.body.length === 0) {
      throw new OperationOutcomeError({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'required', details: { text: 'Request body is empty' } }],
      });
    }
    if (req.body.length > deps.maxBodyBytes) {
      throw new OperationOutcomeError(payloadTooLarge(deps.maxBodyBytes));
    }
    const bundle = parseFhirJson(req.body, { maxDepth: deps.maxDepth });
    for (const type of typesOf(bundle)) {
      requireScope(principal, type, 'c');
    }
    const result = await ingestBundle(bundle, endpoint, deps);
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
    if (!(err instanceof OperationOutcomeError)) {
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
