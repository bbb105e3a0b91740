/**
 * The AuditEvent of an outbound subscription notification (issue 17) against IHE BALP 1.1's
 * "Privacy Disclosure at Source" pattern (IHE.BasicAudit.PrivacyDisclosure.Source: type DICOM 110106
 * Export, action R, subtype ISO 21089 `disclose`, a source agent 110153 that is the observer
 * (val-audit-source) and a recipient agent 110152, each with who and network, 2..* entities with
 * exactly one patient), FHIR R4 AuditEvent (outcome 0/4/8, valid against the base definition), and
 * the Subscriptions Backport IG's notification types. And the record it is built from: no channel
 * header, endpoint path or query, user info; the same attempt one id, each retry its own.
 * @see https://profiles.ihe.net/ITI/BALP/StructureDefinition-IHE.BasicAudit.PrivacyDisclosure.Source.html
 */
import type { AuditEvent, Bundle, Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { accessRecordSchema } from '../../../../lambdas/commons/audit/access-record.js';
import { AUDIT_SOURCE_NAME, auditEventOf } from '../../../../lambdas/commons/audit/balp.js';
import { DISCLOSURE_SOURCE_PROFILE, outcomeOfDelivery } from '../../../../lambdas/commons/audit/notification-balp.js';
import { notificationAccessSchema, type NotificationAccess } from '../../../../lambdas/commons/audit/notification-record.js';
import { validateBase } from '../../../../lambdas/commons/fhir/validate-base.js';
import { notificationRecordOf, type Attempt } from '../../../../lambdas/notify/attempt-record.js';
import type { PostOutcome } from '../../../../lambdas/notify/rest-hook.js';
import { notificationBundle, type StatusFacts } from '../../../../lambdas/subscriptions/core/notification.js';

const BASE = 'https://api.example.org/fhir';
const PSEUDONYM = 'S-ABCDEFGHIJKL';
const OBS = '0123456789abcdef0123456789abcdef';
const SUB = 'fedcba9876543210fedcba9876543210';
const TOPIC = 'https://belimumab-sle.example.org/fhir/SubscriptionTopic/derived-result';
/** A webhook URL with secrets where such URLs keep them: user info, path, query. */
const ENDPOINT = 'https://hookuser:hookpass@hooks.example.net:8443/services/T0/SECRETPATH?token=QUERYTOKEN';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

const observation: Observation = { resourceType: 'Observation', id: OBS, meta: { versionId: '2' }, status: 'final', code: { text: 'SLEDAI-2K' }, subject: { reference: `Patient/${PSEUDONYM}` } };

function attempt(over: { type?: StatusFacts['type']; content?: StatusFacts['content']; outcome?: PostOutcome; attempt?: number; startedAt?: Date } = {}): Attempt {
  const type = over.type ?? 'event-notification';
  const content = over.content ?? 'full-resource';
  const facts: StatusFacts = {
    subscriptionId: SUB,
    status: 'active',
    topic: TOPIC,
    type,
    eventsSinceStart: 7,
    events: type === 'event-notification' ? [{ number: 7, timestamp: '2030-01-02T03:04:05.000Z', focus: `Observation/${OBS}`, focusVersion: '2' }] : [],
    base: BASE,
    content,
  };
  const resources = new Map(content === 'full-resource' && type === 'event-notification' ? [[`Observation/${OBS}/2`, observation]] : []);
  const startedAt = over.startedAt ?? new Date('2030-01-02T03:04:05.000Z');
  const bundle: Bundle = notificationBundle(facts, resources, startedAt);
  return { facts, endpoint: ENDPOINT, attempt: over.attempt ?? 1, startedAt, endedAt: new Date(startedAt.getTime() + 40), bundle, resources, outcome: over.outcome ?? { ok: true, status: 200 } };
}

/** As the audit writer sees it: through the queue's schema (the log line's parse in AWS). */
const eventOf = (a: Attempt): AuditEvent & { id: string } => auditEventOf(accessRecordSchema.parse(notificationRecordOf(a)));
const agentOf = (a: AuditEvent, code: string) => a.agent.find((g) => g.type?.coding?.some((c) => c.system === DCM && c.code === code));
const errorsOf = (a: AuditEvent) => validateBase(a).filter((i) => i.severity === 'error' || i.severity === 'fatal');

describe('BALP Privacy Disclosure at Source, for a notification', () => {
  it('a delivered event-notification: Export, R, disclose, source = observer, recipient, one patient and the data disclosed; profile claimed', () => {
    const a = eventOf(attempt());
    expect(a.meta?.profile).toEqual([DISCLOSURE_SOURCE_PROFILE]);
    expect(a.type).toEqual({ system: DCM, code: '110106', display: 'Export' });
    expect(a.action).toBe('R');
    expect(a.subtype).toContainEqual(expect.objectContaining({ system: 'http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle', code: 'disclose' }));
    expect(a.subtype).toContainEqual(expect.objectContaining({ system: 'http://hl7.org/fhir/subscription-notification-type', code: 'event-notification' }));
    expect(a.recorded).toBe('2030-01-02T03:04:05.040Z');
    expect(a.outcome).toBe('0');
    expect(a.outcomeDesc).toBeUndefined();
    // agent[source]: who and network, and who = source.observer (val-audit-source); the server pushed on its own: the requestor.
    const source = agentOf(a, '110153');
    expect(source?.who).toEqual(a.source.observer);
    expect(a.source.observer).toEqual({ display: AUDIT_SOURCE_NAME });
    expect(source?.network).toEqual({ address: BASE, type: '5' });
    expect(a.agent.filter((g) => g.requestor)).toEqual([source]);
    // agent[recipient]: the subscriber's host, and its Subscription.
    const recipient = agentOf(a, '110152');
    expect(recipient).toMatchObject({ who: { display: 'hooks.example.net:8443' }, name: `Subscription/${SUB}`, requestor: false, network: { address: 'hooks.example.net', type: '1' } });
    // entity 2..*, exactly one patient (audit-entity-type 1, object-role 1, Reference(Patient)), then the data.
    const patients = (a.entity ?? []).filter((e) => e.type?.code === '1' && e.role?.code === '1');
    expect(patients.map((e) => e.what?.reference)).toEqual([`Patient/${PSEUDONYM}`]);
    expect(a.entity?.map((e) => e.what?.reference ?? e.what?.identifier?.value)).toEqual([
      `Patient/${PSEUDONYM}`,
      `Observation/${OBS}/_history/2`,
      `Subscription/${SUB}`,
      expect.stringMatching(new RegExp(`^notify:${SUB}:event-notification:7:1:\\d+$`)),
    ]);
    expect(a.entity?.[1]?.detail).toEqual([{ type: 'event-number', valueString: '7' }]);
    const details = Object.fromEntries((a.entity?.[2]?.detail ?? []).map((d) => [d.type, d.valueString]));
    expect(details).toMatchObject({ topic: TOPIC, 'notification-type': 'event-notification', 'payload-content': 'full-resource', 'events-since-subscription-start': '7', attempt: '1' });
    expect(details['bundle-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(errorsOf(a)).toEqual([]);
  });

  it('outcome by HTTP status or its absence: 2xx 0; redirect or 4xx 4; 5xx, timeout, no connection 8, with outcomeDesc', () => {
    expect([200, 202, 299, 302, 400, 410, 500, 503].map(outcomeOfDelivery)).toEqual(['0', '0', '0', '4', '4', '4', '8', '8']);
    expect(outcomeOfDelivery(undefined)).toBe('8');
    const refused = eventOf(attempt({ outcome: { ok: false, error: 'HTTP 503', status: 503 } }));
    expect(refused).toMatchObject({ outcome: '8', outcomeDesc: 'HTTP 503' });
    // A failure claims no profile (whether the receiver kept anything is unknown), as balp.ts does for refusals.
    expect(refused.meta).toBeUndefined();
    expect(eventOf(attempt({ outcome: { ok: false, error: 'HTTP 404', status: 404 } }))).toMatchObject({ outcome: '4', outcomeDesc: 'HTTP 404' });
    expect(eventOf(attempt({ outcome: { ok: false, error: 'TimeoutError', noAnswer: 'timeout' } }))).toMatchObject({ outcome: '8', outcomeDesc: 'No answer within the subscription timeout' });
    expect(eventOf(attempt({ outcome: { ok: false, error: 'TypeError', noAnswer: 'network' } }))).toMatchObject({ outcome: '8', outcomeDesc: 'No connection to the endpoint' });
    expect(errorsOf(refused)).toEqual([]);
  });

  it('handshakes and heartbeats: the same pattern without disclose, patient or profile (status only, no patient data)', () => {
    for (const type of ['handshake', 'heartbeat'] as const) {
      const a = eventOf(attempt({ type }));
      expect(a.type.code).toBe('110106');
      expect(a.subtype?.map((c) => c.code)).toEqual([type]);
      expect(a.meta).toBeUndefined();
      expect(a.entity?.some((e) => e.role?.code === '1')).toBe(false);
      expect(a.entity?.[0]?.what?.reference).toBe(`Subscription/${SUB}`);
      expect(errorsOf(a)).toEqual([]);
    }
  });

  it('id-only names the focus but no patient it does not disclose; a Patient focus is the patient', () => {
    const idOnly = eventOf(attempt({ content: 'id-only' }));
    expect(idOnly.entity?.some((e) => e.role?.code === '1')).toBe(false);
    expect(idOnly.meta).toBeUndefined();
    const record: NotificationAccess = { ...notificationRecordOf(attempt({ content: 'id-only' })), events: [{ number: 3, focus: `Patient/${PSEUDONYM}`, focusVersion: '1' }] };
    const patient = auditEventOf(record);
    expect(patient.meta?.profile).toEqual([DISCLOSURE_SOURCE_PROFILE]);
    expect((patient.entity ?? []).filter((e) => e.role?.code === '1').map((e) => e.what?.reference)).toEqual([`Patient/${PSEUDONYM}/_history/1`]);
  });
});

describe('the notification record', () => {
  it('keeps the endpoint host only: no user info, path, query, channel header or receiver answer', () => {
    const record = notificationRecordOf(attempt());
    expect(record.endpointHost).toBe('hooks.example.net:8443');
    const text = JSON.stringify([record, auditEventOf(record)]);
    for (const secret of ['hookuser', 'hookpass', 'SECRETPATH', 'QUERYTOKEN', '/services/']) expect(text).not.toContain(secret);
    // The record has no field for headers at all; unknown fields are dropped by the queue's schema.
    expect(Object.keys(notificationAccessSchema.parse({ ...record, headers: ['Authorization: Bearer X'] }))).not.toContain('headers');
  });

  it('is one AuditEvent per attempt: the same record the same id; a retry, another event or another instant another id', () => {
    const first = notificationRecordOf(attempt());
    expect(auditEventOf(first)).toEqual(auditEventOf(accessRecordSchema.parse(JSON.parse(JSON.stringify(first)))));
    const ids = new Set([
      auditEventOf(first).id,
      auditEventOf(notificationRecordOf(attempt({ attempt: 2 }))).id,
      auditEventOf(notificationRecordOf(attempt({ startedAt: new Date('2030-01-02T03:05:05.000Z') }))).id,
      auditEventOf(notificationRecordOf(attempt({ type: 'heartbeat' }))).id,
    ]);
    expect(ids.size).toBe(4);
  });

  it('travels on the same queue and log line as API accesses: the shared schema tells them apart', () => {
    const notification = accessRecordSchema.parse(notificationRecordOf(attempt()));
    expect('kind' in notification && notification.kind).toBe('notification');
    const api = accessRecordSchema.parse({ requestId: 'r', recorded: '2030-01-02T03:04:05.000Z', method: 'GET', path: '/Observation', query: '', status: 200, baseUrl: BASE });
    expect('kind' in api).toBe(false);
    expect(auditEventOf(api).type.code).toBe('rest');
  });
});
