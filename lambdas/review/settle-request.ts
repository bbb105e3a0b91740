import { badRequest, notFound, OperationOutcomeError } from '@medplum/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Task } from '@medplum/fhirtypes';
import { principalFromClaims, requireScope } from '../commons/auth/index.js';
import type { EventsPort } from '../commons/events/port.js';
import { publishAndAck } from '../commons/events/relay.js';
import { parseFhirJson } from '../commons/fhir/parse-body.js';
import { errorLogFields, methodNotAllowed, outcomeOf, payloadTooLarge } from '../commons/http/outcomes.js';
import { outcomeResponse, type HttpRequest, type HttpResponse } from '../commons/http/request.js';
import { deterministicId } from '../commons/ids.js';
import type { StudyDataChanged, StudyStore } from '../commons/store/port.js';
import { readDecision, settleTask } from './core/settle.js';

/** The review function's ports. */
export interface ReviewDeps {
  readonly base: string;
  readonly store: StudyStore;
  readonly events: EventsPort;
  readonly logger: Logger;
  readonly now: () => Date;
}

/** `POST /fhir/Task/{id}/$settle`. */
export const SETTLE_ROUTE = /^\/Task\/([A-Za-z0-9\-.]{1,64})\/\$settle$/;

/** A decision is a few hundred bytes; anything much larger is not one. */
const MAX_BODY_BYTES = 16 * 1024;
const PATIENT_REFERENCE = /^Patient\/([A-Za-z0-9\-.]{1,64})$/;

/**
 * Settles a review Task (issue 11): the investigator's decision is written as study data together
 * with the completed Task, in one atomic commit with its "study data changed" event, so that the
 * subject is recomputed (derive, screen, predict) exactly as when the EHR sends new data.
 * Scope: update on Task (the investigator changes the Task) and create on Observation (the decision
 * record).
 * @param req - The request.
 * @param deps - Ports.
 * @returns The completed Task, or an OperationOutcome.
 */
export async function handleSettle(req: HttpRequest, deps: ReviewDeps): Promise<HttpResponse> {
  try {
    const id = SETTLE_ROUTE.exec(req.path)?.[1];
    if (!id) {
      throw new OperationOutcomeError(notFound);
    }
    if (req.method !== 'POST') {
      throw new OperationOutcomeError(methodNotAllowed(req.method, req.path));
    }
    const principal = principalFromClaims(req.claims ?? {});
    requireScope(principal, 'Task', 'u');
    requireScope(principal, 'Observation', 'c');
    if (req.body && req.body.length > MAX_BODY_BYTES) {
      throw new OperationOutcomeError(payloadTooLarge(MAX_BODY_BYTES));
    }
    const decision = readDecision(req.body && req.body.length > 0 ? parseFhirJson(req.body, { maxDepth: 8 }) : undefined);
    const task = await deps.store.read<Task>('Task', id);
    if (!task) {
      throw new OperationOutcomeError(notFound);
    }
    const now = deps.now();
    const settled = settleTask(task, decision, deps.base, now);
    if (settled.task === task) {
      return { status: 200, body: task };
    }
    const patient = PATIENT_REFERENCE.exec(settled.task.for?.reference ?? '')?.[1];
    if (!patient) {
      throw new OperationOutcomeError(badRequest('This Task names no study subject'));
    }
    const event: StudyDataChanged = {
      eventId: deterministicId('review-settled', id),
      patient,
      kinds: ['Observation', 'Task'],
      occurredAt: now.toISOString(),
      // An investigator's decision is source data: the subject step re-derives and re-screens on it.
      origin: 'source',
      changed: [`Task/${id}`, `${settled.record.resourceType}/${settled.record.id}`].sort(),
    };
    const results = await deps.store.commit([settled.task, settled.record], { atomic: true, events: [event] });
    const failed = results.find((r) => r.status === 'error');
    if (failed) {
      throw failed.error;
    }
    deps.logger.info('Review task settled', { question: settled.task.code?.coding?.[0]?.code });
    try {
      await publishAndAck(deps.store, deps.events, [event]);
    } catch (err) {
      // Committed already: the event stays in the outbox and the relay publishes it later.
      deps.logger.warn('Event publish deferred to the outbox relay', { error: (err as Error).name });
    }
    const stored = results[0];
    return { status: 200, body: stored && stored.status !== 'error' ? stored.resource : settled.task };
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      deps.logger.error('Settle failed', errorLogFields(err));
    }
    return outcomeResponse(outcomeOf(err));
  }
}
