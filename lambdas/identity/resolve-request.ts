import { notFound, OperationOutcomeError } from '@medplum/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AuditEvent, Parameters } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { IDENTITY_RESOLVE_SCOPE, principalFromClaims, requireNamedScope } from '../commons/auth/index.js';
import { methodNotAllowed, outcomeOf } from '../commons/http/outcomes.js';
import { outcomeResponse, type HttpRequest, type HttpResponse } from '../commons/http/request.js';
import type { IdentityStore, StudyStore } from '../commons/store/port.js';

/** The recruitment route's ports: the only function that reads the identity table. */
export interface IdentityDeps {
  readonly identity: IdentityStore;
  readonly store: StudyStore;
  readonly logger: Logger;
  readonly now: () => Date;
}

/** `GET /fhir/Patient/{pseudonym}/$hospital-identity`. */
export const RESOLVE_ROUTE = /^\/Patient\/([A-Za-z0-9\-.]{1,64})\/\$hospital-identity$/;

const DICOM_AUDIT = 'http://dicom.nema.org/resources/ontology/DCM';

/**
 * Resolves a pseudonym to the hospital identity behind it, for the recruitment team alone (scope
 * `recruitment/identity.read`), and records every look-up, answered or not, as an AuditEvent.
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
    await deps.store.commit([auditEvent(pseudonym, principal.subject, principal.clientId, !!hospitalKey, deps.now())], { atomic: true });
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

function auditEvent(pseudonym: string, subject: string, clientId: string, found: boolean, now: Date): AuditEvent & { id: string } {
  return {
    resourceType: 'AuditEvent',
    id: randomUUID(),
    type: { system: DICOM_AUDIT, code: '110112', display: 'Query' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read', display: 'read' }],
    action: 'R',
    recorded: now.toISOString(),
    outcome: found ? '0' : '4',
    purposeOfEvent: [{ text: 'Recruitment: resolve a study pseudonym to the hospital identity' }],
    agent: [{ who: { identifier: { system: 'urn:belimumab-sle:client', value: clientId }, display: subject }, requestor: true }],
    source: { observer: { display: 'belimumab-sle identity route' } },
    entity: [{ what: { reference: `Patient/${pseudonym}` }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' } }],
  };
}
