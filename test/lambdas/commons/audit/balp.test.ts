/**
 * The AuditEvent builder against the elements IHE Basic Audit Log Patterns (BALP 1.1) requires of a
 * server's record of a RESTful access (IHE.BasicAudit.Read, .Query, .Create, .Update, .Delete and
 * their Patient* variants), and FHIR R4's AuditEvent (action, outcome codes 0/4/8/12).
 * @see https://profiles.ihe.net/ITI/BALP/
 */
import { describe, expect, it } from 'vitest';
import type { AccessRecord } from '../../../../lambdas/commons/audit/access-record.js';
import { accessRecordSchema } from '../../../../lambdas/commons/audit/access-record.js';
import { auditEventOf, outcomeOfStatus } from '../../../../lambdas/commons/audit/balp.js';
import { classify } from '../../../../lambdas/commons/audit/classify.js';

const BALP = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition';
const PSEUDONYM = 'S-ABCDEFGHIJKL';
const OBS = '0123456789abcdef0123456789abcdef';

function record(over: Partial<AccessRecord> = {}): AccessRecord {
  return accessRecordSchema.parse({
    requestId: 'req-1',
    recorded: '2030-01-02T03:04:05.000Z',
    method: 'GET',
    path: `/Observation/${OBS}`,
    query: '',
    status: 200,
    clientId: 'stats-app',
    subject: 'user-7',
    issuer: 'https://idp.example.org',
    role: 'statistician',
    tokenId: 'jti-9',
    sourceIp: '10.0.0.1',
    baseUrl: 'https://api.example.org/fhir',
    patients: [PSEUDONYM],
    ...over,
  });
}

describe('BALP required elements', () => {
  it('a read: type rest, subtype read, action R, outcome 0, requestor + client + server agents, observer, data and patient entities', () => {
    const a = auditEventOf(record());
    expect(a.meta?.profile).toEqual([`${BALP}/IHE.BasicAudit.PatientRead`]);
    expect(a.type).toEqual({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' });
    expect(a.subtype?.[0]).toMatchObject({ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' });
    expect(a.action).toBe('R');
    expect(a.outcome).toBe('0');
    expect(a.recorded).toBe('2030-01-02T03:04:05.000Z');
    // BALP: the user (requestor, with the token's id as policy), the client (Source Role ID), the server (Destination Role ID).
    const [user, client, server] = a.agent;
    expect(user).toMatchObject({ requestor: true, who: { identifier: { system: 'https://idp.example.org', value: 'user-7' } }, policy: ['jti-9'], role: [{ text: 'statistician' }] });
    expect(user?.type?.coding?.[0]?.code).toBe('IRCP');
    expect(client).toMatchObject({ requestor: false, who: { identifier: { value: 'stats-app' } }, network: { address: '10.0.0.1', type: '2' } });
    expect(client?.type?.coding?.[0]).toMatchObject({ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110153' });
    expect(server?.type?.coding?.[0]?.code).toBe('110152');
    expect(a.source.observer?.display).toBeTruthy();
    expect(a.source.type?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4' });
    expect(a.entity?.[0]).toMatchObject({ what: { reference: `Observation/${OBS}` }, type: { code: '2' }, role: { code: '4' } });
    expect(a.entity?.find((e) => e.role?.code === '1')).toMatchObject({ what: { reference: `Patient/${PSEUDONYM}` }, type: { code: '1' } });
  });

  it('a search: action E, BALP (Patient)Query, the request line base64 in the query entity', () => {
    const a = auditEventOf(record({ path: '/Observation', query: `patient=${PSEUDONYM}&_count=10` }));
    expect(a.meta?.profile).toEqual([`${BALP}/IHE.BasicAudit.PatientQuery`]);
    expect(a.action).toBe('E');
    expect(a.subtype?.[0]?.code).toBe('search-type');
    const q = a.entity?.find((e) => e.role?.code === '24');
    expect(q?.type?.code).toBe('2');
    expect(Buffer.from(q?.query ?? '', 'base64').toString('utf8')).toBe(`GET https://api.example.org/fhir/Observation?patient=${PSEUDONYM}&_count=10`);
    expect(auditEventOf(record({ path: '/Observation', patients: [] })).meta?.profile).toEqual([`${BALP}/IHE.BasicAudit.Query`]);
  });

  it('create, update, delete: C, U, D with their BALP profiles', () => {
    expect(auditEventOf(record({ method: 'POST', path: '/Subscription', written: ['Subscription/abc/_history/1'], patients: [] }))).toMatchObject({
      action: 'C',
      meta: { profile: [`${BALP}/IHE.BasicAudit.Create`] },
    });
    expect(auditEventOf(record({ method: 'PUT' })).meta?.profile).toEqual([`${BALP}/IHE.BasicAudit.PatientUpdate`]);
    expect(auditEventOf(record({ method: 'DELETE' })).action).toBe('D');
  });

  it('a refusal: outcome 4 with the HTTP status, no profile (BALP profiles describe accesses that happened), the request first', () => {
    const a = auditEventOf(record({ status: 403 }));
    expect(a.outcome).toBe('4');
    expect(a.outcomeDesc).toBe('HTTP 403');
    expect(a.meta).toBeUndefined();
    expect(a.entity?.[0]?.what?.identifier?.value).toBe('req-1');
    expect(a.entity?.[0]?.what?.reference).toBeUndefined();
  });

  it('an unauthenticated request names no one', () => {
    const a = auditEventOf(record({ status: 401, clientId: undefined, subject: undefined, issuer: undefined, role: undefined, tokenId: undefined }));
    expect(a.agent[0]?.who).toEqual({ display: 'unauthenticated' });
    expect(a.agent[1]?.who).toEqual({ display: 'unknown client' });
  });

  it('a bundle: each written resource, its patients once, a transaction told from a batch', () => {
    const a = auditEventOf(
      record({ method: 'POST', path: '/', bundleType: 'transaction-response', written: [`Patient/${PSEUDONYM}/_history/1`, `Observation/${OBS}/_history/2`], patients: [PSEUDONYM] }),
    );
    expect(a.subtype?.[0]?.code).toBe('transaction');
    expect(a.entity?.[0]?.what?.reference).toBe(`Observation/${OBS}/_history/2`);
    expect(a.entity?.filter((e) => e.what?.reference === `Patient/${PSEUDONYM}`)).toHaveLength(1);
    expect(auditEventOf(record({ method: 'POST', path: '/', bundleType: 'batch-response' })).subtype?.[0]?.code).toBe('batch');
  });

  it('is deterministic: the same record, the same AuditEvent and id; another request, another id', () => {
    expect(auditEventOf(record())).toEqual(auditEventOf(record()));
    expect(auditEventOf(record({ requestId: 'req-2' })).id).not.toBe(auditEventOf(record()).id);
  });

  it('maps HTTP statuses to FHIR outcome codes', () => {
    expect([200, 201, 304, 400, 401, 403, 404, 500, 503].map(outcomeOfStatus)).toEqual(['0', '0', '0', '4', '4', '4', '4', '8', '8']);
  });
});

describe('classify (FHIR R4 restful-interaction)', () => {
  it.each([
    ['GET', '/Patient/x', 'read', 'R'],
    ['GET', '/Patient/x/_history/2', 'vread', 'R'],
    ['GET', '/Patient/x/_history', 'history-instance', 'R'],
    ['GET', '/Patient/_history', 'history-type', 'R'],
    ['GET', '/_history', 'history-system', 'R'],
    ['GET', '/Observation', 'search-type', 'E'],
    ['POST', '/Observation/_search', 'search-type', 'E'],
    ['GET', '/', 'search-system', 'E'],
    ['POST', '/Subscription', 'create', 'C'],
    ['PUT', '/Task/x', 'update', 'U'],
    ['DELETE', '/Subscription/x', 'delete', 'D'],
    ['GET', '/Patient/x/$everything', 'operation', 'R'],
    ['GET', '/Group/g/$export', 'operation', 'E'],
    ['POST', '/Task/x/$settle', 'operation', 'E'],
    ['POST', '/', 'batch', 'E'],
  ])('%s %s is %s (%s)', (method, path, interaction, action) => {
    expect(classify(method, path)).toMatchObject({ interaction, action });
  });
});

describe('captureAccess bounds', () => {
  it('always yields a record the audit function accepts, however long the request', async () => {
    const { captureAccess } = await import('../../../../lambdas/commons/audit/capture.js');
    const event = {
      rawPath: `/fhir/Observation/${'a'.repeat(5000)}`,
      rawQueryString: `code=${'x'.repeat(20_000)}`,
      headers: {},
      requestContext: { requestId: 'r'.repeat(500), domainName: 'h'.repeat(1000), http: { method: 'GET', sourceIp: 'i'.repeat(300) }, authorizer: { jwt: { claims: { sub: 's'.repeat(1000) } } } },
    } as never;
    expect(accessRecordSchema.safeParse(captureAccess(event, { statusCode: 404 }, new Date())).success).toBe(true);
    expect(accessRecordSchema.safeParse(captureAccess(event, { statusCode: 200, body: '{}' }, new Date())).success).toBe(true);
  });
});
