import type { AuditEvent, AuditEventAgent, AuditEventEntity, AuditEventEntityDetail, Coding } from '@medplum/fhirtypes';
import { deterministicId } from '../ids.js';
import type { NotificationAccess } from './notification-record.js';
import { AUDIT_SOURCE_NAME } from './source.js';

/*
 * The AuditEvent of an outbound subscription notification: this server pushes data to a subscriber,
 * which BALP records with its "Privacy Disclosure at Source" pattern
 * (IHE.BasicAudit.PrivacyDisclosure.Source, https://profiles.ihe.net/ITI/BALP/StructureDefinition-IHE.BasicAudit.PrivacyDisclosure.Source.html):
 * - type DICOM 110106 "Export", action R, a subtype ISO 21089 `disclose`;
 * - agent `source` (DICOM 110153 Source Role ID) with who and network, and who = source.observer
 *   (invariant val-audit-source): this server, and here also the requestor, since nobody asked for
 *   the push at the time it happened;
 * - agent `recipient` (DICOM 110152 Destination Role ID) with who and network: the subscriber's host;
 * - entity 2..*, exactly one of them the patient (audit-entity-type 1, object-role 1, Reference(Patient)),
 *   the others the data disclosed.
 * The profile is claimed (meta.profile) only where the event meets it: a delivered event-notification
 * about exactly one patient. Handshakes and heartbeats carry no patient data (status only): same
 * pattern, no `disclose` subtype, no profile. A failed attempt keeps the pattern with its outcome and
 * no profile, like the API's refusals (balp.ts): whether the receiver kept anything is unknown.
 */

const BALP = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition';
/** The BALP profile of a disclosure recorded by the party that sent the data. */
export const DISCLOSURE_SOURCE_PROFILE = `${BALP}/IHE.BasicAudit.PrivacyDisclosure.Source`;
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const LIFECYCLE = 'http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle';
/** R4B/R5 CodeSystem the Backport IG's notification `type` codes come from. */
const NOTIFICATION_TYPE = 'http://hl7.org/fhir/subscription-notification-type';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const BALP_ENTITY_TYPE = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';

const coding = (system: string, code: string, display: string): Coding => ({ system, code, display });
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * The outcome of a delivery attempt: success for a 2xx (the receiver took it); minor failure for a
 * redirect (not followed) or a 4xx (the receiver refused it); serious failure for a 5xx, a timeout or
 * a connection failure (the data may or may not have arrived). FHIR R4 `audit-event-outcome`.
 * @param status - The receiver's HTTP status, absent without an answer.
 * @returns The outcome code.
 */
export function outcomeOfDelivery(status: number | undefined): '0' | '4' | '8' {
  if (status === undefined || status >= 500) return '8';
  return status >= 200 && status < 300 ? '0' : '4';
}

/** `outcomeDesc` of a failed attempt: the status or why there was none, never the receiver's answer. */
function failureOf(record: NotificationAccess): string {
  if (record.status !== undefined) return `HTTP ${record.status}`;
  return record.noAnswer === 'timeout' ? 'No answer within the subscription timeout' : 'No connection to the endpoint';
}

/** The recipient's network address: the host without its port (BALP: a machine name or an IP address). */
function networkOf(host: string): NonNullable<AuditEventAgent['network']> {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return { address: name, type: IPV4.test(name) || name.includes(':') ? '2' : '1' };
}

const detail = (type: string, valueString: string): AuditEventEntityDetail => ({ type, valueString });

/**
 * The AuditEvent of one notification attempt. Pure: the same record gives the same AuditEvent, id
 * included (from the attempt key), so a record delivered twice writes nothing new.
 *
 * Entities: the patients first (BALP's patient slice), then the focus of each event at the version
 * notified (the data disclosed, with its event number), then the Subscription (topic, notification
 * type, payload content, events since start, attempt, Bundle id as details), then the attempt key
 * (BALP's transaction entity).
 * @param record - The attempt.
 * @returns The AuditEvent.
 */
export function notificationAuditEventOf(record: NotificationAccess): AuditEvent & { id: string } {
  const outcome = outcomeOfDelivery(record.status);
  const patients = [...new Set([...record.patients, ...record.events.filter((e) => e.focus.startsWith('Patient/')).map((e) => e.focus.slice('Patient/'.length))])];
  const isEvent = record.type === 'event-notification';
  const profiled = outcome === '0' && isEvent && patients.length === 1;

  const patientEntities: AuditEventEntity[] = patients.map((p) => ({ what: { reference: `Patient/${p}` }, type: coding(ENTITY_TYPE, '1', 'Person'), role: coding(OBJECT_ROLE, '1', 'Patient') }));
  const focusEntities: AuditEventEntity[] = record.events.map((e) => ({
    what: { reference: `${e.focus}/_history/${e.focusVersion}` },
    type: e.focus.startsWith('Patient/') ? coding(ENTITY_TYPE, '1', 'Person') : coding(ENTITY_TYPE, '2', 'System Object'),
    role: e.focus.startsWith('Patient/') ? coding(OBJECT_ROLE, '1', 'Patient') : coding(OBJECT_ROLE, '4', 'Domain Resource'),
    detail: [detail('event-number', String(e.number))],
  }));
  const subscription: AuditEventEntity = {
    what: { reference: `Subscription/${record.subscription}` },
    type: coding(ENTITY_TYPE, '2', 'System Object'),
    role: coding(OBJECT_ROLE, '4', 'Domain Resource'),
    detail: [
      detail('topic', record.topic),
      detail('notification-type', record.type),
      detail('payload-content', record.content),
      detail('events-since-subscription-start', String(record.eventsSinceStart)),
      detail('attempt', String(record.attempt)),
      ...(record.bundleId ? [detail('bundle-id', record.bundleId)] : []),
    ],
  };
  const transaction: AuditEventEntity = { what: { identifier: { value: record.requestId } }, type: coding(BALP_ENTITY_TYPE, 'XrequestId', 'X-Request-Id') };

  const agent: AuditEventAgent[] = [
    {
      type: { coding: [coding(DCM, '110153', 'Source Role ID')] },
      who: { display: AUDIT_SOURCE_NAME },
      requestor: true,
      network: { address: record.baseUrl, type: '5' },
    },
    {
      type: { coding: [coding(DCM, '110152', 'Destination Role ID')] },
      // The subscriber as far as the trail may say: its host, and the Subscription that names it (an entity too).
      who: { display: record.endpointHost },
      name: `Subscription/${record.subscription}`,
      requestor: false,
      network: networkOf(record.endpointHost),
    },
  ];

  return {
    resourceType: 'AuditEvent',
    id: deterministicId('audit', record.requestId),
    ...(profiled ? { meta: { profile: [DISCLOSURE_SOURCE_PROFILE] } } : {}),
    type: coding(DCM, '110106', 'Export'),
    subtype: [...(isEvent ? [coding(LIFECYCLE, 'disclose', 'Disclose Record Lifecycle Event')] : []), coding(NOTIFICATION_TYPE, record.type, record.type)],
    action: 'R',
    recorded: record.recorded,
    outcome,
    ...(outcome === '0' ? {} : { outcomeDesc: failureOf(record) }),
    agent,
    source: { site: record.baseUrl, observer: { display: AUDIT_SOURCE_NAME }, type: [coding(SOURCE_TYPE, '4', 'Application Server')] },
    entity: [...patientEntities.filter((p) => !focusEntities.some((f) => f.what?.reference?.startsWith(`${p.what?.reference}/`))), ...focusEntities, subscription, transaction],
  };
}
