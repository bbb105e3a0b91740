import { notFound, OperationOutcomeError } from '@medplum/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Parameters } from '@medplum/fhirtypes';
import { IDENTITY_RESOLVE_SCOPE, principalFromClaims, requireNamedScope } from '../commons/auth/index.js';
import { methodNotAllowed, outcomeOf } from '../commons/http/outcomes.js';
import { outcomeResponse, type HttpRequest, type HttpResponse } from '../commons/http/request.js';
import type { IdentityStore } from '../commons/store/port.js';

/** The recruitment route's ports: the only function that reads the identity table. */
export interface IdentityDeps {
  readonly identity: IdentityStore;
  readonly logger: Logger;
  readonly now: () => Date;
}

/** `GET /fhir/Patient/{pseudonym}/$hospital-identity`. */
export const RESOLVE_ROUTE = /^\/Patient\/([A-Za-z0-9\-.]{1,64})\/\$hospital-identity$/;

/**
 * Resolves a pseudonym to the hospital identity behind it, for the recruitment team alone (scope
 * `recruitment/identity.read`). Every look-up, answered, refused or not found, is recorded as one
 * AuditEvent by the API's edge (lambdas/commons/audit/): in AWS the handler's middleware sends the
 * record before the answer leaves, and refuses to answer (503) if it cannot.
 * @param req - The request.
 * @param deps - Ports.
 * @returns Parameters with the source system and the hospital's Patient id, or an OperationOutcome.
 */
export async function handleResolve(req: HttpRequest, deps: IdentityDeps): Promise<HttpResponse> {
  try {
    const match = RESOLVE_ROUTE.exec(req.path);
    if (!match?.[1]) {
      throw new OperationOutcomeError(notFound);
    }
    if (req.method !== 'GET') {
      throw new OperationOutcomeError(methodNotAllowed(req.method, req.path));
    }
    const principal = principalFromClaims(req.claims ?? {});
    requireNamedScope(principal, IDENTITY_RESOLVE_SCOPE);
    const pseudonym = match[1];
    const hospitalKey = await deps.identity.resolve(pseudonym);
    if (!hospitalKey) {
      throw new OperationOutcomeError(notFound);
    }
    const bar = hospitalKey.lastIndexOf('|');
    const parameters: Parameters = {
      resourceType: 'Parameters',
      parameter: [
        { name: 'pseudonym', valueString: pseudonym },
        { name: 'sourceSystem', valueUri: hospitalKey.slice(0, bar) },
        { name: 'patient', valueReference: { reference: hospitalKey.slice(bar + 1) } },
      ],
    };
    // The answer goes to its reader only; the log says that a look-up happened, not whose.
    deps.logger.info('Identity resolved', { found: true });
    return { status: 200, body: parameters, headers: { 'cache-control': 'no-store' } };
  } catch (err) {
    return outcomeResponse(outcomeOf(err));
  }
}
