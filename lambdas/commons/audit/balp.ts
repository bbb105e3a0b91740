import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from '@medplum/fhirtypes';
import { deterministicId } from '../ids.js';
import type { AccessRecord } from './access-record.js';
import { classify, type Classified } from './classify.js';
import { notificationAuditEventOf } from './notification-balp.js';
import { AUDIT_SOURCE_NAME } from './source.js';

/*
 * IHE Basic Audit Log Patterns (BALP 1.1) AuditEvents, as the server (the "Destination Role ID")
 * records them: type `rest`, subtype the FHIR interaction, the action, the outcome, three agents
 * (the user or client on whose behalf the token was issued, `requestor`; the client application,
 * DICOM Source Role ID; this server, Destination Role ID), the server as observer, and the entities:
 * the resources read or written, the query (base64, BALP Query), and each patient involved (BALP
 * Patient* profiles).
 * @see https://profiles.ihe.net/ITI/BALP/
 */

const BALP = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition';
const AUDIT_EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const BALP_ENTITY_TYPE = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';

/** The observer and server agent: this layer (source.ts, shared with notification-balp.ts). */
export { AUDIT_SOURCE_NAME };

/** FHIR R4 AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure, 12 major failure. */
export type AuditOutcome = '0' | '4' | '8' | '12';

/**
 * The outcome of an HTTP status: success below 400 (304 included), minor failure for a client error
 * (refusals 401/403, not found, bad input: the request failed, the server did not), serious failure
 * for a server error (the request failed and the server is at fault). 12 (major failure: the
 * service itself is unavailable) is not something an answer can report about itself.
 * @param status - HTTP status.
 * @returns The outcome code.
 */
export function outcomeOfStatus(status: number): AuditOutcome {
  if (status < 400) return '0';
  return status < 500 ? '4' : '8';
}

/** BALP profiles (successful interactions only: the profiles describe an access that happened). */
function profileOf(what: Classified, withPatient: boolean): string | undefined {
  const base = ((): string | undefined => {
    switch (what.action) {
      case 'C':
        return 'Create';
      case 'R':
        return what.interaction === 'operation' ? undefined : 'Read';
      case 'U':
        return 'Update';
      case 'D':
        return 'Delete';
      case 'E':
        return what.interaction.startsWith('search') ? 'Query' : undefined;
    }
  })();
  return base ? `${BALP}/IHE.BasicAudit.${withPatient ? 'Patient' : ''}${base}` : undefined;
}

const coding = (system: string, code: string, display: string): Coding => ({ system, code, display });

/**
 * The AuditEvent of one access (an outbound notification: see notification-balp.ts). Pure: the
 * same record gives the same AuditEvent, id included, so a record delivered twice writes nothing new.
 *
 * Entities, in this order: on a success, what was accessed (the resource the path names, or each
 * resource written) first, then the request (BALP's transaction entity: the request id; and the
 * query: the request line, base64); on a failure the request first (nothing was accessed), then what
 * it named. Then each patient (BALP Patient* profiles).
 * @param record - The access.
 * @returns The AuditEvent.
 */
export function auditEventOf(record: AccessRecord): AuditEvent & { id: string } {
  // An outbound subscription notification: BALP's disclosure pattern (notification-balp.ts).
  if ('kind' in record) return notificationAuditEventOf(record);
  const what = classify(record.method, record.path, record.bundleType);
  const outcome = outcomeOfStatus(record.status);
  const succeeded = outcome === '0';
  const patients = [...new Set(record.patients)];
  const profile = succeeded ? profileOf(what, patients.length > 0) : undefined;

  const data: AuditEventEntity[] = [];
  if (what.resourceType && what.id && !record.path.includes('[redacted]')) {
    const reference = `${what.resourceType}/${what.id}${what.versionId ? `/_history/${what.versionId}` : ''}`;
    data.push(
      what.resourceType === 'Patient'
        ? { what: { reference }, type: coding(ENTITY_TYPE, '1', 'Person'), role: coding(OBJECT_ROLE, '1', 'Patient') }
        : { what: { reference }, type: coding(ENTITY_TYPE, '2', 'System Object'), role: coding(OBJECT_ROLE, '4', 'Domain Resource') },
    );
  }
  for (const reference of record.written) {
    if (reference.startsWith('Patient/')) continue; // listed as a patient below
    data.push({ what: { reference }, type: coding(ENTITY_TYPE, '2', 'System Object'), role: coding(OBJECT_ROLE, '4', 'Domain Resource') });
  }
  const requestLine = `${record.method} ${record.baseUrl}${record.path === '/' ? '' : record.path}${record.query ? `?${record.query}` : ''}`;
  const query: AuditEventEntity = {
    type: coding(ENTITY_TYPE, '2', 'System Object'),
    role: coding(OBJECT_ROLE, '24', 'Query'),
    query: Buffer.from(requestLine, 'utf8').toString('base64'),
  };
  const named = new Set(data.map((e) => e.what?.reference));
  const patientEntities: AuditEventEntity[] = patients
    .filter((p) => !named.has(`Patient/${p}`))
    .map((p) => ({ what: { reference: `Patient/${p}` }, type: coding(ENTITY_TYPE, '1', 'Person'), role: coding(OBJECT_ROLE, '1', 'Patient') }));
  // BALP's transaction entity: the request id, which also finds the request in the logs.
  const transaction: AuditEventEntity = { what: { identifier: { value: record.requestId } }, type: coding(BALP_ENTITY_TYPE, 'XrequestId', 'X-Request-Id') };
  const entity = succeeded ? [...data, transaction, query, ...patientEntities] : [transaction, query, ...data, ...patientEntities];

  const agent: AuditEventAgent[] = [
    {
      type: { coding: [coding(PARTICIPATION, 'IRCP', 'information recipient')] },
      who: record.subject
        ? { identifier: { ...(record.issuer ? { system: record.issuer } : {}), value: record.subject } }
        : { display: 'unauthenticated' },
      ...(record.role ? { role: [{ text: record.role }] } : {}),
      ...(record.tokenId ? { policy: [record.tokenId] } : {}),
      requestor: true,
    },
    {
      type: { coding: [coding(DCM, '110153', 'Source Role ID')] },
      who: record.clientId ? { identifier: { ...(record.issuer ? { system: record.issuer } : {}), value: record.clientId } } : { display: 'unknown client' },
      requestor: false,
      ...(record.sourceIp ? { network: { address: record.sourceIp, type: '2' as const } } : {}),
    },
    {
      type: { coding: [coding(DCM, '110152', 'Destination Role ID')] },
      who: { display: AUDIT_SOURCE_NAME },
      requestor: false,
      network: { address: record.baseUrl, type: '5' as const },
    },
  ];

  return {
    resourceType: 'AuditEvent',
    id: deterministicId('audit', record.requestId),
    ...(profile ? { meta: { profile: [profile] } } : {}),
    type: coding(AUDIT_EVENT_TYPE, 'rest', 'Restful Operation'),
    subtype: [
      coding(RESTFUL_INTERACTION, what.interaction, what.interaction),
      ...(what.operation ? [{ code: what.operation.slice(1), display: what.operation }] : []),
    ],
    action: what.action,
    recorded: record.recorded,
    outcome,
    ...(succeeded ? {} : { outcomeDesc: `HTTP ${record.status}` }),
    agent,
    source: { site: record.baseUrl, observer: { display: AUDIT_SOURCE_NAME }, type: [coding(SOURCE_TYPE, '4', 'Application Server')] },
    entity,
  };
}
