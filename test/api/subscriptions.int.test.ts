/**
 * Topic-based Subscriptions on the local layer (dynalite, in-process notifier), as the Subscriptions
 * R5 Backport IG (STU 1.1) describes them for FHIR R4: a rest-hook receiver on loopback subscribes,
 * gets the handshake, then one notification Bundle per event, numbered per subscription from 1
 * with no gap, in order, at least once; `$status` and `$events` let it check and catch up.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, Parameters, ParametersParameter, Subscription } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { studyCourseBundle } from '../../local/samples/study-course.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

const BASE = 'https://belimumab-sle.example.org/fhir';
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const TOPIC = (id: string): string => `${BASE}/SubscriptionTopic/${id}`;

/** A rest-hook receiver that refuses the POSTs whose 1-based index is in `refuse`, and keeps the others' bodies. */
interface Receiver {
  readonly url: string;
  readonly received: Bundle[];
  attempts: number;
  refuse: Set<number>;
  close(): void;
}

async function receiver(refuse: number[] = []): Promise<Receiver> {
  const state = { received: [] as Bundle[], attempts: 0, refuse: new Set(refuse) };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      state.attempts++;
      if (state.refuse.has(state.attempts)) {
        res.writeHead(503).end();
        return;
      }
      state.received.push(JSON.parse(body) as Bundle);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return Object.assign(state, { url, close: () => void server.close() });
}

function subscription(topic: string, endpoint: string, options: { content?: string; filters?: string[]; heartbeat?: number } = {}): Subscription {
  return {
    resourceType: 'Subscription',
    meta: { profile: [`${BACKPORT}/backport-subscription`] },
    status: 'requested',
    reason: 'Test subscriber',
    criteria: topic,
    ...(options.filters ? { _criteria: { extension: options.filters.map((f) => ({ url: `${BACKPORT}/backport-filter-criteria`, valueString: f })) } } : {}),
    channel: {
      ...(options.heartbeat ? { extension: [{ url: `${BACKPORT}/backport-heartbeat-period`, valueUnsignedInt: options.heartbeat }] } : {}),
      type: 'rest-hook',
      endpoint,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: options.content ?? 'id-only' }] },
    },
  } as Subscription;
}

const param = (p: Parameters, name: string): ParametersParameter[] => (p.parameter ?? []).filter((x) => x.name === name);
const statusOf = (b: Bundle): Parameters => b.entry![0]!.resource as Parameters;
const typeOf = (b: Bundle): string | undefined => param(statusOf(b), 'type')[0]?.valueCode;
const numbersOf = (b: Bundle): number[] => param(statusOf(b), 'notification-event').map((e) => Number(e.part!.find((p) => p.name === 'event-number')!.valueString));
const eventsOf = (r: Receiver): Bundle[] => r.received.filter((b) => typeOf(b) === 'event-notification');

describe('Subscriptions (R4 backport, rest-hook)', () => {
  let app: TestApp;
  const receivers: Receiver[] = [];
  const hook = async (refuse: number[] = []): Promise<Receiver> => {
    const r = await receiver(refuse);
    receivers.push(r);
    return r;
  };
  const subscribe = async (body: Subscription, scopes = 'system/Subscription.crds system/Observation.rs system/Task.rs') =>
    app.fetchFhir('/Subscription', { method: 'POST', body: JSON.stringify(body), scopes });
  /** A subject: the sample lupus patient, and with `course` its visits (SLEDAI-2K, SRI and a prediction are derived from them). */
  const ingest = async (patientId: string, course = true): Promise<string> => {
    const day0 = course ? '2023-01-09' : '2030-01-01';
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId, day0 })) });
    expect(res.status).toBe(200);
    if (course) {
      const visits = [
        { week: 0, present: ['arthritis', 'rash', 'alopecia'] as const, pga: 1.8, labs: { c3: 0.6, c4: 0.08, dsdna: 120 } },
        { week: 24, present: ['rash'] as const, pga: 1.0, labs: { c3: 0.8 } },
        { week: 52, present: [] as const, pga: 0.4, labs: { c3: 0.95, c4: 0.15 } },
      ];
      const more = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(studyCourseBundle({ patientId, day0, visits })) });
      expect(more.status).toBe(200);
    }
    await app.drainOutbox();
    return (res.body.entry[0].response.location as string).split('/')[1]!;
  };
  /** Runs the retry timer's work until `done` or about 5 s. */
  const settle = async (done: () => boolean): Promise<void> => {
    for (let i = 0; i < 100 && !done(); i++) {
      await new Promise((r) => setTimeout(r, 50));
      await app.tickSubscriptions();
    }
  };

  beforeAll(async () => {
    // Retries 20 ms, 40 ms, 80 ms... apart, driven by tickSubscriptions (the timer is off).
    app = await startTestApp({ subscriptionIntervalMs: 0, env: { SUBSCRIPTION_RETRY_BASE_MS: '20' } });
  });

  afterAll(async () => {
    await app.close();
    for (const r of receivers) r.close();
  });

  let derived: { id: string; receiver: Receiver; full: Receiver; fullId: string; patient: string };

  it('handshakes on creation (requested -> active) and numbers every derived result of an ingest from 1, in order, with no gap', async () => {
    const receiver = await hook();
    const created = await subscribe(subscription(TOPIC('derived-result'), receiver.url));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.status).toBe('active');
    expect(receiver.received).toHaveLength(1);
    const handshake = receiver.received[0]!;
    expect(handshake).toMatchObject({ resourceType: 'Bundle', type: 'history' });
    expect(typeOf(handshake)).toBe('handshake');
    expect(param(statusOf(handshake), 'status')[0]?.valueCode).toBe('requested');
    expect(statusOf(handshake).meta?.profile).toEqual([`${BACKPORT}/backport-subscription-status-r4`]);

    const full = await hook();
    const fullCreated = await subscribe(subscription(TOPIC('derived-result'), full.url, { content: 'full-resource', filters: [`Observation?_profile=${BASE}/StructureDefinition/sledai-2k-score`] }));
    expect(fullCreated.status).toBe(201);

    const patient = await ingest('sub-1');
    const events = eventsOf(receiver);
    expect(events.length).toBeGreaterThan(0);
    const numbers = events.flatMap(numbersOf);
    expect(numbers).toEqual(numbers.map((_n, i) => i + 1));
    for (const bundle of events) {
      const focus = bundle.entry!.slice(1);
      expect(focus).toHaveLength(1);
      // id-only: the focus fullUrl and request, no resource (Backport IG, payload content).
      expect(focus[0]!.resource).toBeUndefined();
      expect(focus[0]!.fullUrl).toMatch(/\/Observation\/[A-Za-z0-9\-.]+$/);
      expect(param(statusOf(bundle), 'events-since-subscription-start')[0]?.valueString).toMatch(/^\d+$/);
    }
    // full-resource, filtered to SLEDAI-2K scores: the resources themselves, pseudonymous, at the notified version.
    const fullEvents = eventsOf(full);
    expect(fullEvents.length).toBeGreaterThan(0);
    expect(fullEvents.length).toBeLessThan(events.length);
    expect(fullEvents.flatMap(numbersOf)).toEqual(fullEvents.map((_b, i) => i + 1));
    for (const bundle of fullEvents) {
      const resource = bundle.entry![1]!.resource as any;
      expect(resource.meta.profile).toContain(`${BASE}/StructureDefinition/sledai-2k-score`);
      expect(resource.subject.reference).toBe(`Patient/${patient}`);
      expect(bundle.entry![1]!.response!.etag).toBe(`W/"${resource.meta.versionId}"`);
      expect(JSON.stringify(resource)).not.toContain('sub-1');
    }
    derived = { id: created.body.id, receiver, full, fullId: fullCreated.body.id, patient };
  });

  it('answers $status with the count of events and $events with what was missed, id-only or full-resource', async () => {
    const total = eventsOf(derived.receiver).length;
    const status = await app.fetchFhir(`/Subscription/${derived.id}/$status`, { scopes: 'system/Subscription.r' });
    expect(status.status).toBe(200);
    expect(status.body.type).toBe('searchset');
    const parameters = status.body.entry[0].resource as Parameters;
    expect(param(parameters, 'type')[0]?.valueCode).toBe('query-status');
    expect(param(parameters, 'status')[0]?.valueCode).toBe('active');
    expect(param(parameters, 'events-since-subscription-start')[0]?.valueString).toBe(String(total));

    const missed = await app.fetchFhir(`/Subscription/${derived.id}/$events?eventsSinceNumber=2&eventsUntilNumber=3`, { scopes: 'system/Subscription.r' });
    expect(missed.status).toBe(200);
    expect(missed.body.type).toBe('history');
    expect(typeOf(missed.body)).toBe('query-event');
    expect(numbersOf(missed.body)).toEqual([2, 3]);
    expect(missed.body.entry.slice(1).map((e: any) => e.fullUrl)).toEqual(eventsOf(derived.receiver).slice(1, 3).map((b) => b.entry![1]!.fullUrl));
    expect(missed.body.entry.slice(1).every((e: any) => e.resource === undefined)).toBe(true);

    const full = await app.fetchFhir(`/Subscription/${derived.id}/$events?eventsSinceNumber=1&content=full-resource`, { scopes: 'system/Subscription.r system/Observation.r' });
    expect(numbersOf(full.body)).toEqual(Array.from({ length: total }, (_v, i) => i + 1));
    expect(full.body.entry.slice(1).every((e: any) => e.resource?.resourceType === 'Observation')).toBe(true);
    // Full resources need the topic's read scope, as subscribing did.
    expect((await app.fetchFhir(`/Subscription/${derived.id}/$events?content=full-resource`, { scopes: 'system/Subscription.r' })).status).toBe(403);
    expect((await app.fetchFhir(`/Subscription/${derived.id}/$events?eventsSinceNumber=x`, { scopes: 'system/Subscription.r' })).status).toBe(400);
  });

  it('delivers every notification, in order, to a receiver that refuses three times and then takes them', async () => {
    // The handshake (POST 1) is taken; the first three notifications after it are refused.
    const flaky = await hook([2, 3, 4]);
    const created = await subscribe(subscription(TOPIC('derived-result'), flaky.url));
    expect(created.body.status).toBe('active');
    await ingest('sub-2');
    const expected = (await app.fetchFhir(`/Subscription/${created.body.id}/$status`, { scopes: 'system/Subscription.r' })).body.entry[0].resource as Parameters;
    const total = Number(param(expected, 'events-since-subscription-start')[0]?.valueString);
    expect(total).toBeGreaterThan(0);
    await settle(() => eventsOf(flaky).length >= total);
    expect(flaky.attempts).toBe(1 + 3 + total);
    expect(eventsOf(flaky).flatMap(numbersOf)).toEqual(Array.from({ length: total }, (_v, i) => i + 1));
    const after = (await app.fetchFhir(`/Subscription/${created.body.id}/$status`, { scopes: 'system/Subscription.r' })).body.entry[0].resource as Parameters;
    expect(param(after, 'error')).toHaveLength(0);
  });

  it('tells the recruitment topic of a patient who becomes a candidate, filtered by state', async () => {
    const team = await hook();
    const eligibleOnly = await hook();
    expect((await subscribe(subscription(TOPIC('recruitment-state-changed'), team.url, { content: 'full-resource', filters: ['Observation?state=candidate,eligible'] }))).status).toBe(201);
    expect((await subscribe(subscription(TOPIC('recruitment-state-changed'), eligibleOnly.url, { filters: ['Observation?state=eligible'] }))).status).toBe(201);
    const patient = await ingest('sub-3', false);
    const events = eventsOf(team);
    expect(events).toHaveLength(1);
    const screening = events[0]!.entry![1]!.resource as any;
    expect(screening.subject.reference).toBe(`Patient/${patient}`);
    expect(screening.valueCodeableConcept.coding[0].code).toBe('candidate');
    expect(eventsOf(eligibleOnly)).toHaveLength(0);
    // The same data again changes no state: no new event.
    await ingest('sub-3', false);
    expect(eventsOf(team)).toHaveLength(1);
  });

  it('refuses a client without read scope on the topic, and Subscriptions the server cannot serve', async () => {
    const r = await hook();
    const noRead = await subscribe(subscription(TOPIC('derived-result'), r.url), 'system/Subscription.c');
    expect(noRead.status).toBe(403);
    expect(noRead.body.resourceType).toBe('OperationOutcome');
    expect((await subscribe(subscription(TOPIC('review-task-opened'), r.url), 'system/Subscription.c system/Observation.r')).status).toBe(403);
    const bad: [string, Subscription][] = [
      ['unknown topic', subscription(`${BASE}/SubscriptionTopic/nothing`, r.url)],
      ['plain http off loopback', subscription(TOPIC('derived-result'), 'http://example.org/hook')],
      ['filter the topic does not offer', subscription(TOPIC('derived-result'), r.url, { filters: ['Observation?code=http://loinc.org|777-3'] })],
      ['unknown payload content', subscription(TOPIC('derived-result'), r.url, { content: 'everything' })],
    ];
    for (const [why, body] of bad) {
      const res = await subscribe(body);
      expect(res.status, why).toBe(400);
      expect(res.body.resourceType, why).toBe('OperationOutcome');
    }
    expect(r.received).toHaveLength(0);
    // An endpoint that refuses the handshake: stored, status error.
    const refusing = await hook([1]);
    const errored = await subscribe(subscription(TOPIC('derived-result'), refusing.url));
    expect(errored.status).toBe(201);
    expect(errored.body.status).toBe('error');
  });

  it('reads, searches and deactivates: an off Subscription gets nothing more', async () => {
    const read = await app.fetchFhir(`/Subscription/${derived.fullId}`, { scopes: 'system/Subscription.r' });
    expect(read.status).toBe(200);
    expect(read.body.criteria).toBe(TOPIC('derived-result'));
    const search = await app.fetchFhir(`/Subscription?status=active&criteria=${encodeURIComponent(TOPIC('recruitment-state-changed'))}`, { scopes: 'system/Subscription.s' });
    expect(search.status).toBe(200);
    expect(search.body.total).toBe(2);
    expect((await app.fetchFhir('/Subscription?endpoint=x', { scopes: 'system/Subscription.s' })).status).toBe(400);
    expect((await app.fetchFhir(`/Subscription/${derived.fullId}`, { method: 'DELETE', scopes: 'system/Subscription.r' })).status).toBe(403);
    expect((await app.fetchFhir(`/Subscription/${derived.fullId}`, { method: 'DELETE', scopes: 'system/Subscription.d' })).status).toBe(200);
    expect((await app.fetchFhir(`/Subscription/${derived.fullId}`, { scopes: 'system/Subscription.r' })).body.status).toBe('off');
    const before = derived.full.received.length;
    await ingest('sub-4', false);
    expect(derived.full.received).toHaveLength(before);
  });

  it('declares Subscription in the CapabilityStatement with the backport profile, each topic, $status and $events', async () => {
    const cs = (await app.fetchFhir('/metadata', { token: null })).body;
    const entry = cs.rest[0].resource.find((r: any) => r.type === 'Subscription');
    expect(entry.supportedProfile).toEqual([`${BACKPORT}/backport-subscription`]);
    expect(entry.extension.map((e: any) => [e.url, e.valueCanonical])).toEqual(
      ['derived-result', 'recruitment-state-changed', 'review-task-opened'].map((id) => [`${BACKPORT}/capabilitystatement-subscriptiontopic-canonical`, TOPIC(id)]),
    );
    expect(entry.operation.map((o: any) => o.definition)).toEqual([
      'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status',
      'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events',
    ]);
    expect(entry.interaction.map((i: any) => i.code).sort()).toEqual(['create', 'delete', 'read', 'search-type']);
  });

  it('sends heartbeats per heartbeatPeriod, unnumbered', async () => {
    const r = await hook();
    const created = await subscribe(subscription(TOPIC('review-task-opened'), r.url, { heartbeat: 1 }));
    expect(created.body.status).toBe('active');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await app.tickSubscriptions();
    const beats = r.received.filter((b) => typeOf(b) === 'heartbeat');
    expect(beats).toHaveLength(1);
    expect(param(statusOf(beats[0]!), 'notification-event')).toHaveLength(0);
  });
});

describe('the recruitment webhook as one subscriber among others', () => {
  it('is a Subscription on the recruitment topic (ALERT_WEBHOOK_FORMAT=fhir-subscription): handshake, then each candidate', async () => {
    const team = await receiver();
    const app = await startTestApp({ subscriptionIntervalMs: 0, env: { ALERT_WEBHOOK_URL: team.url, ALERT_WEBHOOK_FORMAT: 'fhir-subscription' } });
    try {
      expect(team.received.map(typeOf)).toEqual(['handshake']);
      const subscription = await app.fetchFhir('/Subscription/recruitment-alert-webhook', { scopes: 'system/Subscription.r' });
      expect(subscription.body).toMatchObject({ status: 'active', criteria: TOPIC('recruitment-state-changed') });
      const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'team-1', day0: '2030-01-01' })) });
      const patient = (res.body.entry[0].response.location as string).split('/')[1]!;
      await app.drainOutbox();
      // Every POST the webhook got is a notification Bundle; the one event is the candidate's screening.
      expect(team.received.every((b) => b.resourceType === 'Bundle' && b.type === 'history')).toBe(true);
      const events = eventsOf(team);
      expect(events).toHaveLength(1);
      const screening = events[0]!.entry![1]!.resource as any;
      expect(screening.subject.reference).toBe(`Patient/${patient}`);
      expect(screening.valueCodeableConcept.coding[0].code).toBe('candidate');
      expect(JSON.stringify(team.received)).not.toMatch(/team-1|Lovelace|MRN/);
      // The alert is still recorded and published (SNS in AWS, the log line here).
      const comms = (await app.fetchFhir(`/Communication?subject=Patient/${patient}`)).body.entry;
      expect(comms.map((e: any) => e.resource.status)).toEqual(['completed']);
    } finally {
      await app.close();
      team.close();
    }
  });
});
