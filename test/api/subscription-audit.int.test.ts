/**
 * Issue 17 for outbound subscription notifications: every POST the notifier makes to a subscriber
 * (handshake, heartbeat, event-notification; delivered or not) leaves exactly one AuditEvent, IHE
 * BALP 1.1's "Privacy Disclosure at Source" pattern (type DICOM 110106 Export, subtype ISO 21089
 * `disclose` for data, source = this server, recipient = the subscriber's host), recorded through the
 * same in-process audit queue as the API accesses. The subscriber's channel headers (its token), the
 * endpoint's path and query never enter the trail. Backport IG rest-hook channel, R4.
 * @see https://profiles.ihe.net/ITI/BALP/StructureDefinition-IHE.BasicAudit.PrivacyDisclosure.Source.html
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent, Subscription } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { studyCourseBundle } from '../../local/samples/study-course.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

const BASE = 'https://belimumab-sle.example.org/fhir';
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const TOPIC = (id: string): string => `${BASE}/SubscriptionTopic/${id}`;
const DISCLOSURE = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PrivacyDisclosure.Source';
/** What the subscriber puts in its channel: none of it may reach the trail. */
const TOKEN = 'Bearer SUBSCRIBER-SECRET-TOKEN';
const PATH_SECRET = 'hook-path-secret';
const QUERY_SECRET = 'query-secret-key';

/** A rest-hook receiver on loopback: answers 503 to the POSTs whose 1-based index is in `refuse`, never answers with `hang`. */
interface Receiver {
  readonly url: string;
  readonly host: string;
  attempts: number;
  readonly headers: IncomingHttpHeaders[];
  close(): void;
}

async function receiver(options: { refuse?: number[]; hang?: boolean } = {}): Promise<Receiver> {
  const state = { attempts: 0, headers: [] as IncomingHttpHeaders[] };
  const refuse = new Set(options.refuse ?? []);
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.attempts++;
      state.headers.push(req.headers);
      if (options.hang) return;
      res.writeHead(refuse.has(state.attempts) ? 503 : 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, { url: `http://${host}/${PATH_SECRET}?key=${QUERY_SECRET}`, host, close: () => {
      server.closeAllConnections();
      server.close();
    },
  });
}

function subscription(topic: string, endpoint: string, options: { content?: string; filters?: string[]; heartbeat?: number; timeout?: number } = {}): Subscription {
  const channelExtensions = [
    ...(options.heartbeat ? [{ url: `${BACKPORT}/backport-heartbeat-period`, valueUnsignedInt: options.heartbeat }] : []),
    ...(options.timeout ? [{ url: `${BACKPORT}/backport-timeout`, valueUnsignedInt: options.timeout }] : []),
  ];
  return {
    resourceType: 'Subscription',
    meta: { profile: [`${BACKPORT}/backport-subscription`] },
    status: 'requested',
    reason: 'Audit test subscriber',
    criteria: topic,
    ...(options.filters ? { _criteria: { extension: options.filters.map((f) => ({ url: `${BACKPORT}/backport-filter-criteria`, valueString: f })) } } : {}),
    channel: {
      ...(channelExtensions.length ? { extension: channelExtensions } : {}),
      type: 'rest-hook',
      endpoint,
      header: [`Authorization: ${TOKEN}`],
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: options.content ?? 'id-only' }] },
    },
  } as Subscription;
}

let app: TestApp;
const receivers: Receiver[] = [];
const hook = async (options: { refuse?: number[]; hang?: boolean } = {}): Promise<Receiver> => {
  const r = await receiver(options);
  receivers.push(r);
  return r;
};
const subscribe = async (body: Subscription): Promise<{ status: number; body: any }> =>
  app.fetchFhir('/Subscription', { method: 'POST', body: JSON.stringify(body), scopes: 'system/Subscription.crds system/Observation.rs system/Task.rs' });

/** The AuditEvents of one Subscription's notifications, read from the store itself (a read through the API is an access too). */
async function notificationAudits(subscriptionId: string): Promise<AuditEvent[]> {
  await app.flushAudit();
  const store = app.runtime.serve().store;
  const out: AuditEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.search({ resourceType: 'AuditEvent', count: 1000, ...(cursor ? { cursor } : {}) });
    for (const r of page.resources as AuditEvent[]) {
      if (r.type.code === '110106' && r.entity?.some((e) => e.what?.reference === `Subscription/${subscriptionId}`)) out.push(r);
    }
    cursor = page.next;
  } while (cursor);
  return out.sort((a, b) => a.recorded.localeCompare(b.recorded));
}

const detailOf = (a: AuditEvent, type: string): string | undefined =>
  a.entity?.flatMap((e) => e.detail ?? []).find((d) => d.type === type)?.valueString;
const notificationType = (a: AuditEvent): string | undefined => detailOf(a, 'notification-type');
const eventNumbers = (a: AuditEvent): number[] => (a.entity ?? []).flatMap((e) => e.detail ?? []).filter((d) => d.type === 'event-number').map((d) => Number(d.valueString));

/** What must hold of every notification AuditEvent: the BALP disclosure shape, and nothing of the channel. */
function expectDisclosureShape(a: AuditEvent, r: Receiver): void {
  expect(a.type).toMatchObject({ code: '110106', display: 'Export' });
  expect(a.action).toBe('R');
  const source = a.agent.find((g) => g.type?.coding?.[0]?.code === '110153');
  expect(source?.who).toEqual(a.source.observer);
  expect(source?.requestor).toBe(true);
  expect(a.agent.find((g) => g.type?.coding?.[0]?.code === '110152')).toMatchObject({ who: { display: r.host }, requestor: false, network: { address: '127.0.0.1', type: '2' } });
  const text = JSON.stringify(a);
  for (const secret of ['SUBSCRIBER-SECRET-TOKEN', 'Authorization', PATH_SECRET, QUERY_SECRET]) expect(text).not.toContain(secret);
}

beforeAll(async () => {
  // Retries 20 ms, 40 ms... apart, driven by tickSubscriptions (the timer is off).
  app = await startTestApp({ subscriptionIntervalMs: 0, env: { SUBSCRIPTION_RETRY_BASE_MS: '20' } });
});

afterAll(async () => {
  await app?.close();
  for (const r of receivers) r.close();
});

describe('one AuditEvent per notification POST (issue 17, BALP disclosure)', () => {
  it('records the handshake, each refused attempt and each delivered event-notification, once each, with its outcome', async () => {
    // POST 1 (handshake) taken, POSTs 2 and 3 (the first event, twice) refused, then all taken.
    const r = await hook({ refuse: [2, 3] });
    const created = await subscribe(subscription(TOPIC('derived-result'), r.url, { content: 'full-resource', filters: [`Observation?_profile=${BASE}/StructureDefinition/sledai-2k-score`] }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;

    const day0 = '2023-01-09';
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'audit-sub-1', day0 })) });
    expect(res.status).toBe(200);
    const patient = (res.body.entry[0].response.location as string).split('/')[1]!;
    const visits = [
      { week: 0, present: ['arthritis', 'rash'] as const, pga: 1.8, labs: { c3: 0.6 } },
      { week: 24, present: [] as const, pga: 0.4, labs: { c3: 0.95 } },
    ];
    expect((await app.fetchFhir('', { method: 'POST', body: JSON.stringify(studyCourseBundle({ patientId: 'audit-sub-1', day0, visits })) })).status).toBe(200);
    await app.drainOutbox();
    const status = await app.fetchFhir(`/Subscription/${id}/$status`, { scopes: 'system/Subscription.r' });
    const total = Number(status.body.entry[0].resource.parameter.find((p: any) => p.name === 'events-since-subscription-start').valueString);
    expect(total).toBeGreaterThan(0);
    for (let i = 0; i < 100 && r.attempts < 1 + 2 + total; i++) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      await app.tickSubscriptions();
    }
    expect(r.attempts).toBe(1 + 2 + total);
    // The receiver did get the subscriber's header: the trail must not.
    expect(r.headers.every((h) => h.authorization === TOKEN)).toBe(true);

    const audits = await notificationAudits(id);
    expect(audits).toHaveLength(r.attempts);
    for (const a of audits) expectDisclosureShape(a, r);

    const [handshake, ...rest] = audits;
    expect(notificationType(handshake!)).toBe('handshake');
    expect(handshake!.outcome).toBe('0');
    expect(handshake!.subtype?.map((c) => c.code)).toEqual(['handshake']);

    const failed = rest.filter((a) => a.outcome !== '0');
    expect(failed.map((a) => [a.outcome, a.outcomeDesc, eventNumbers(a), detailOf(a, 'attempt')])).toEqual([
      ['8', 'HTTP 503', [1], '1'],
      ['8', 'HTTP 503', [1], '2'],
    ]);
    expect(failed.every((a) => a.meta?.profile === undefined)).toBe(true);

    const delivered = rest.filter((a) => a.outcome === '0');
    // Each event once, in order; the first on its third attempt.
    expect(delivered.flatMap(eventNumbers)).toEqual(Array.from({ length: total }, (_v, i) => i + 1));
    expect(detailOf(delivered[0]!, 'attempt')).toBe('3');
    for (const a of delivered) {
      expect(a.meta?.profile).toEqual([DISCLOSURE]);
      expect(a.subtype?.map((c) => c.code)).toEqual(['disclose', 'event-notification']);
      // full-resource: the one patient whose score was sent, by pseudonym, and the Observation at the version sent.
      expect(a.entity?.filter((e) => e.role?.code === '1').map((e) => e.what?.reference)).toEqual([`Patient/${patient}`]);
      expect(a.entity?.some((e) => /^Observation\/[A-Za-z0-9\-.]+\/_history\/\d+$/.test(e.what?.reference ?? ''))).toBe(true);
      expect(detailOf(a, 'topic')).toBe(TOPIC('derived-result'));
    }
    expect(new Set(audits.map((a) => a.id)).size).toBe(audits.length);

    // Nothing more to send: another tick and a second flush record nothing.
    await app.tickSubscriptions();
    expect(await notificationAudits(id)).toHaveLength(audits.length);
  });

  it('records a handshake that timed out and one that found no endpoint, as serious failures', async () => {
    const silent = await hook({ hang: true });
    const timedOut = await subscribe(subscription(TOPIC('review-task-opened'), silent.url, { timeout: 1 }));
    expect(timedOut.status).toBe(201);
    expect(timedOut.body.status).toBe('error');
    const [late] = await notificationAudits(timedOut.body.id);
    expect(late).toMatchObject({ outcome: '8', outcomeDesc: 'No answer within the subscription timeout' });
    expectDisclosureShape(late!, silent);

    // A port nobody listens on (the receiver closed).
    const gone = await receiver();
    gone.close();
    const refused = await subscribe(subscription(TOPIC('review-task-opened'), gone.url));
    expect(refused.body.status).toBe('error');
    const audits = await notificationAudits(refused.body.id);
    expect(audits.map((a) => [a.outcome, a.outcomeDesc, notificationType(a)])).toEqual([['8', 'No connection to the endpoint', 'handshake']]);
  });

  it('records each heartbeat', async () => {
    const r = await hook();
    const created = await subscribe(subscription(TOPIC('review-task-opened'), r.url, { heartbeat: 1 }));
    expect(created.body.status).toBe('active');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await app.tickSubscriptions();
    expect(r.attempts).toBe(2);
    const audits = await notificationAudits(created.body.id);
    expect(audits.map(notificationType)).toEqual(['handshake', 'heartbeat']);
    expect(audits.every((a) => a.outcome === '0' && a.meta?.profile === undefined && !a.entity?.some((e) => e.role?.code === '1'))).toBe(true);
  });
});
