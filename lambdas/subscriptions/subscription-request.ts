import { randomUUID } from 'node:crypto';
import { badRequest, notFound, OperationOutcomeError } from '@medplum/core';
import type { Bundle, OperationOutcome, Resource, Subscription } from '@medplum/fhirtypes';
import { principalFromClaims, requireScope, type Principal } from '../commons/auth/index.js';
import { parseFhirJson } from '../commons/fhir/parse-body.js';
import { validateBase } from '../commons/fhir/validate-base.js';
import { errorLogFields, methodNotAllowed, outcomeOf, payloadTooLarge } from '../commons/http/outcomes.js';
import { outcomeResponse, type HttpRequest, type HttpResponse } from '../commons/http/request.js';
import type { StoredResource } from '../commons/store/port.js';
import { focusResources, sendStatusOnly, setStatus, type DeliveryDeps } from '../notify/deliver.js';
import { notificationBundle, statusBundle, type StatusFacts } from './core/notification.js';
import { BACKPORT_SUBSCRIPTION, checkSubscription, specOf, SubscriptionInvalidError, type PayloadContent } from './core/subscription.js';
import { readTypesOf, type Topic } from './core/topics.js';

/** The subscriptions function's ports: the notifier's (the handshake is a delivery) and the endpoint policy. */
export interface SubscriptionsDeps extends DeliveryDeps {
  /** `http://127.0.0.1` endpoints too: the local run only. */
  readonly allowLoopbackHttp: boolean;
}

/** `/Subscription`, `/Subscription/{id}`, `/Subscription/{id}/$status`, `/Subscription/{id}/$events`. */
export const SUBSCRIPTION_ROUTE = /^\/Subscription(?:\/([A-Za-z0-9\-.]{1,64})(?:\/\$(status|events))?)?\/?$/;

/** A Subscription is a few kilobytes; anything much larger is not one. */
const MAX_BODY_BYTES = 64 * 1024;
/** `$events` answers at most this many events per call; ask again from the last number + 1. */
export const MAX_EVENTS_PER_CALL = 100;
const SEARCH_PARAMS = new Set(['status', 'criteria', '_id']);
const HANDSHAKE_TIMEOUT_SECONDS = 10;
const NUMBER = /^\d{1,12}$/;

/**
 * The Subscriptions API (Subscriptions R5 Backport IG, STU 1.1, on R4): create (with the handshake),
 * read, search, deactivate (DELETE), `$status` and `$events`.
 * Scopes: `system/Subscription.c` plus read on the topic's resource types to create (a subscriber is
 * told of resources it may read, and `full-resource` sends them); `.r` to read, `$status` and
 * `$events`; `.s` to search; `.d` to deactivate.
 * @param req - The request.
 * @param deps - Ports.
 * @returns The answer.
 */
export async function handleSubscriptions(req: HttpRequest, deps: SubscriptionsDeps): Promise<HttpResponse> {
  try {
    const match = SUBSCRIPTION_ROUTE.exec(req.path);
    if (!match) throw new OperationOutcomeError(notFound);
    const [, id, operation] = match;
    const principal = principalFromClaims(req.claims ?? {});
    if (operation) {
      if (req.method !== 'GET' && req.method !== 'POST') throw new OperationOutcomeError(methodNotAllowed(req.method, req.path));
      requireScope(principal, 'Subscription', 'r');
      const subscription = await readSubscription(id!, deps);
      return operation === 'status' ? await status(subscription, deps) : await events(subscription, req, principal, deps);
    }
    if (id) {
      if (req.method === 'GET') {
        requireScope(principal, 'Subscription', 'r');
        const subscription = await readSubscription(id, deps);
        return { status: 200, body: subscription, headers: { etag: `W/"${subscription.meta.versionId}"`, 'last-modified': new Date(subscription.meta.lastUpdated).toUTCString() } };
      }
      if (req.method === 'DELETE') {
        requireScope(principal, 'Subscription', 'd');
        const subscription = await readSubscription(id, deps);
        if (subscription.status !== 'off') await setStatus(deps.store, subscription, 'off');
        deps.logger.info('Subscription deactivated', { subscription: id });
        return { status: 200, body: informational('Subscription deactivated: its status is off and nothing more is sent; the record and its events stay readable') };
      }
      throw new OperationOutcomeError(methodNotAllowed(req.method, req.path));
    }
    if (req.method === 'POST') return await create(req, principal, deps);
    if (req.method === 'GET') {
      requireScope(principal, 'Subscription', 's');
      return await search(req, deps);
    }
    throw new OperationOutcomeError(methodNotAllowed(req.method, req.path));
  } catch (err) {
    if (err instanceof SubscriptionInvalidError) return outcomeResponse(badRequest(err.message, err.expression));
    if (!(err instanceof OperationOutcomeError)) deps.logger.error('Subscription request failed', errorLogFields(err));
    return outcomeResponse(outcomeOf(err));
  }
}

async function create(req: HttpRequest, principal: Principal, deps: SubscriptionsDeps): Promise<HttpResponse> {
  requireScope(principal, 'Subscription', 'c');
  if (req.body && req.body.length > MAX_BODY_BYTES) throw new OperationOutcomeError(payloadTooLarge(MAX_BODY_BYTES));
  if (!req.body || req.body.length === 0) throw new OperationOutcomeError(badRequest('A Subscription is required'));
  const parsed = parseFhirJson(req.body, { maxDepth: 16 });
  if (parsed.resourceType !== 'Subscription') throw new OperationOutcomeError(badRequest('The body must be a Subscription'));
  const problems = validateBase(parsed).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (problems.length > 0) throw new OperationOutcomeError({ resourceType: 'OperationOutcome', id: 'invalid-resource', issue: problems });
  const { topic } = checkSubscription(parsed, deps.topics, { allowLoopbackHttp: deps.allowLoopbackHttp });
  // Told of a resource is as good as reading it: the client must be allowed to read what the topic is about.
  for (const type of readTypesOf(topic)) requireScope(principal, type, 'r');
  const stored = await registerSubscription(parsed, { id: randomUUID(), base: req.baseUrl }, deps);
  const id = stored.id;
  deps.logger.info('Subscription created', { subscription: id, topic: topic.id, status: stored.status, client: principal.clientId });
  return {
    status: 201,
    body: stored,
    headers: { location: `${req.baseUrl}/Subscription/${id}/_history/${stored.meta.versionId}`, etag: `W/"${stored.meta.versionId}"` },
  };
}

/**
 * Stores a checked Subscription as `requested`, opens its ledger, sends the handshake and sets it
 * `active` (the endpoint took it) or `error` (Backport IG: handshake on creation). Also how the layer
 * registers its own subscribers (the recruitment webhook, lambdas/commons/alerts/subscriber.ts).
 * @param subscription - The Subscription (passed {@link checkSubscription}).
 * @param options - Its id and the API base URL its notifications name.
 * @param deps - Ports.
 * @returns The stored Subscription, active or error.
 */
export async function registerSubscription(subscription: Subscription, options: { readonly id: string; readonly base: string }, deps: SubscriptionsDeps): Promise<StoredResource<Subscription>> {
  const { meta: _meta, error: _error, id: _id, ...content } = subscription;
  const [result] = await deps.store.commit([{ ...content, id: options.id, meta: { profile: [BACKPORT_SUBSCRIPTION] }, status: 'requested' }], { atomic: true });
  if (!result || result.status === 'error') throw result?.error ?? new Error('Subscription not stored');
  const stored = result.resource as StoredResource<Subscription>;
  await deps.ledger.open(options.id, options.base, deps.now().toISOString());
  const spec = specOf(stored, deps.topics);
  // Bounded by the API's own deadline (29 s): the handshake gets at most HANDSHAKE_TIMEOUT_SECONDS.
  const shook = spec ? await sendStatusOnly({ resource: stored, spec: { ...spec, timeout: Math.min(spec.timeout, HANDSHAKE_TIMEOUT_SECONDS) } }, 'handshake', deps) : false;
  return setStatus(deps.store, stored, shook ? 'active' : 'error', shook ? undefined : 'The handshake was not accepted by the endpoint');
}

async function readSubscription(id: string, deps: SubscriptionsDeps): Promise<StoredResource<Subscription>> {
  const subscription = await deps.store.read<Subscription>('Subscription', id);
  if (!subscription) throw new OperationOutcomeError(notFound);
  return subscription;
}

async function search(req: HttpRequest, deps: SubscriptionsDeps): Promise<HttpResponse> {
  for (const name of Object.keys(req.query)) {
    if (!SEARCH_PARAMS.has(name)) throw new OperationOutcomeError(badRequest(`Unknown or unsupported search parameter: ${name}`, name));
  }
  const values = (name: string): string[] | undefined => {
    const raw = req.query[name];
    return raw === undefined ? undefined : (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(','));
  };
  const [statuses, criteria, ids] = [values('status'), values('criteria'), values('_id')];
  const all: StoredResource<Subscription>[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.search({ resourceType: 'Subscription', count: 500, ...(cursor ? { cursor } : {}) });
    all.push(...(page.resources as StoredResource<Subscription>[]));
    cursor = page.next;
  } while (cursor);
  const matches = all.filter(
    (s) => (!statuses || statuses.includes(s.status)) && (!criteria || criteria.includes(s.criteria)) && (!ids || ids.includes(s.id)),
  );
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    total: matches.length,
    link: [{ relation: 'self', url: `${req.baseUrl}/Subscription` }],
    ...(matches.length > 0 ? { entry: matches.map((s) => ({ fullUrl: `${req.baseUrl}/Subscription/${s.id}`, resource: s, search: { mode: 'match' as const } })) } : {}),
  };
  return { status: 200, body: bundle };
}

async function facts(subscription: StoredResource<Subscription>, deps: SubscriptionsDeps): Promise<Omit<StatusFacts, 'type'>> {
  const state = await deps.ledger.state(subscription.id);
  const spec = specOf(subscription, deps.topics);
  return {
    subscriptionId: subscription.id,
    status: subscription.status,
    topic: subscription.criteria,
    eventsSinceStart: await deps.ledger.lastNumber(subscription.id),
    base: state?.base ?? '',
    content: spec?.content ?? 'id-only',
    ...(state && state.failures > 0 ? { error: `${state.failures} failed delivery attempts; last: ${state.lastError ?? 'unknown'}; next not before ${state.nextAttemptAt ?? 'now'}` } : {}),
  };
}

/** `$status`: one status Parameters (type query-status) in a searchset Bundle. */
async function status(subscription: StoredResource<Subscription>, deps: SubscriptionsDeps): Promise<HttpResponse> {
  return { status: 200, body: statusBundle([{ ...(await facts(subscription, deps)), type: 'query-status' }], deps.now()) };
}

/** `$events`: the recorded events in a range, as a notification Bundle of type query-event. */
async function events(subscription: StoredResource<Subscription>, req: HttpRequest, principal: Principal, deps: SubscriptionsDeps): Promise<HttpResponse> {
  const params = operationParameters(req);
  const number = (name: string): number | undefined => {
    const value = params.get(name);
    if (value === undefined) return undefined;
    if (!NUMBER.test(value)) throw new OperationOutcomeError(badRequest(`${name} must be an event number`, name));
    return Number(value);
  };
  const base = await facts(subscription, deps);
  const since = number('eventsSinceNumber') ?? 1;
  const until = number('eventsUntilNumber') ?? base.eventsSinceStart;
  const content = (params.get('content') ?? base.content) as PayloadContent;
  if (!['empty', 'id-only', 'full-resource'].includes(content)) throw new OperationOutcomeError(badRequest('content is empty, id-only or full-resource', 'content'));
  if (content === 'full-resource') {
    const topic: Topic | undefined = deps.topics.find((t) => t.url === subscription.criteria);
    for (const type of topic ? readTypesOf(topic) : []) requireScope(principal, type, 'r');
  }
  const recorded = await deps.ledger.events(subscription.id, since, until, MAX_EVENTS_PER_CALL);
  const resources = content === 'full-resource' ? await focusResources(deps.store, recorded) : new Map<string, Resource>();
  return { status: 200, body: notificationBundle({ ...base, content, type: 'query-event', events: recorded }, resources, deps.now()) };
}

/** Operation parameters from the query string, or from a Parameters body (POST). */
function operationParameters(req: HttpRequest): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(req.query)) {
    if (typeof value === 'string') out.set(name, value);
    else if (Array.isArray(value) && value[0] !== undefined) throw new OperationOutcomeError(badRequest(`${name} may be given once`, name));
  }
  if (req.method === 'POST' && req.body && req.body.length > 0) {
    if (req.body.length > MAX_BODY_BYTES) throw new OperationOutcomeError(payloadTooLarge(MAX_BODY_BYTES));
    const body = parseFhirJson(req.body, { maxDepth: 8 });
    if (body.resourceType !== 'Parameters') throw new OperationOutcomeError(badRequest('The body must be a Parameters'));
    for (const p of body.parameter ?? []) {
      const value = p.valueString ?? p.valueCode ?? (p.valueInteger !== undefined ? String(p.valueInteger) : undefined);
      if (p.name && value !== undefined) out.set(p.name, value);
    }
  }
  return out;
}

function informational(text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text } }] };
}
