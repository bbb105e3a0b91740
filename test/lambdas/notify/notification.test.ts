/**
 * Notification Bundles as the Subscriptions R5 Backport IG (STU 1.1) gives them for R4: a `history`
 * Bundle led by the `backport-subscription-status-r4` Parameters (event numbers as strings), then the
 * focus per payload content; and the retry schedule (exponential backoff) of the notifier.
 */
import type { Bundle, Observation, Parameters } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { validateBase } from '../../../lambdas/commons/fhir/validate-base.js';
import { retryDelayMs } from '../../../lambdas/notify/deliver.js';
import { notificationBundle, statusBundle, type StatusFacts } from '../../../lambdas/subscriptions/core/notification.js';

const base = 'https://api.example/fhir';
const event = { number: 7, timestamp: '2026-12-04T10:00:00.000Z', focus: 'Observation/o1', focusVersion: '2' };
const focus: Observation = { resourceType: 'Observation', id: 'o1', meta: { versionId: '2', lastUpdated: event.timestamp }, status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } };
const facts = (content: StatusFacts['content'], type: StatusFacts['type'] = 'event-notification'): StatusFacts => ({
  subscriptionId: 's1',
  status: 'active',
  topic: 'https://study.example/fhir/SubscriptionTopic/derived-result',
  type,
  eventsSinceStart: 9,
  events: type === 'event-notification' || type === 'query-event' ? [event] : [],
  base,
  content,
});
const errorsOf = (b: Bundle) => validateBase(b).filter((i) => i.severity === 'error' || i.severity === 'fatal');
const param = (p: Parameters, name: string) => (p.parameter ?? []).filter((x) => x.name === name);

describe('notification Bundles', () => {
  it('leads with the status Parameters: subscription, topic, status, type, events since start, the event with number, timestamp and focus', () => {
    const bundle = notificationBundle(facts('id-only'), new Map(), new Date(event.timestamp));
    expect(bundle.type).toBe('history');
    expect(errorsOf(bundle)).toEqual([]);
    const status = bundle.entry![0]!.resource as Parameters;
    expect(status.meta?.profile).toEqual(['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4']);
    expect(bundle.entry![0]!.request).toEqual({ method: 'GET', url: `${base}/Subscription/s1/$status` });
    expect(param(status, 'subscription')[0]?.valueReference?.reference).toBe(`${base}/Subscription/s1`);
    expect(param(status, 'events-since-subscription-start')[0]?.valueString).toBe('9');
    const [notification] = param(status, 'notification-event');
    expect(notification?.part).toEqual([
      { name: 'event-number', valueString: '7' },
      { name: 'timestamp', valueInstant: event.timestamp },
      { name: 'focus', valueReference: { reference: `${base}/Observation/o1` } },
    ]);
  });

  it('carries the focus as its content says: id-only no resource, full-resource the version notified, empty nothing', () => {
    const idOnly = notificationBundle(facts('id-only'), new Map([['Observation/o1/2', focus]]), new Date());
    expect(idOnly.entry![1]).toEqual({ fullUrl: `${base}/Observation/o1`, request: { method: 'PUT', url: 'Observation/o1' }, response: { status: '200', etag: 'W/"2"' } });
    const full = notificationBundle(facts('full-resource'), new Map([['Observation/o1/2', focus]]), new Date());
    expect(full.entry![1]!.resource).toEqual(focus);
    expect(errorsOf(full)).toEqual([]);
    const empty = notificationBundle(facts('empty'), new Map(), new Date());
    expect(empty.entry).toHaveLength(1);
    const status = empty.entry![0]!.resource as Parameters;
    expect(param(status, 'topic')).toHaveLength(0);
    expect(param(status, 'notification-event')[0]?.part?.map((p) => p.name)).toEqual(['event-number', 'timestamp']);
  });

  it('sends handshakes and heartbeats without event numbers, and $status as a searchset', () => {
    const handshake = notificationBundle({ ...facts('id-only', 'handshake'), status: 'requested', eventsSinceStart: 0 }, new Map(), new Date());
    expect(handshake.entry).toHaveLength(1);
    expect(param(handshake.entry![0]!.resource as Parameters, 'notification-event')).toHaveLength(0);
    const status = statusBundle([{ ...facts('id-only', 'query-status'), error: '3 failed delivery attempts' }], new Date());
    expect(status.type).toBe('searchset');
    expect(errorsOf(status)).toEqual([]);
    expect(param(status.entry![0]!.resource as Parameters, 'error')[0]?.valueCodeableConcept?.text).toContain('3 failed');
  });
});

describe('retries', () => {
  it('back off exponentially from the base delay, capped at an hour', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 1000))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(40, 30_000)).toBe(3_600_000);
  });
});
