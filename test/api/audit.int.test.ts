/**
 * Issue 17: an audit trail of every access. Each API access, whatever its route and outcome, leaves
 * exactly one AuditEvent following IHE Basic Audit Log Patterns (BALP 1.1: type `rest`, subtype the
 * FHIR interaction, action, outcome, the requestor agent, the source, the entities), and only a scope
 * naming AuditEvent reads them.
 * @see https://profiles.ihe.net/ITI/BALP/
 */
import type { AuditEvent } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signLocalToken } from '../../local/keys.js';
import { writeAuditEvents } from '../../lambdas/commons/audit/write.js';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

const REST = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const INTERACTION = 'http://hl7.org/fhir/restful-interaction';
const BALP = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition';

let app: TestApp;
let patient: string;
let observation: string;

/** Every AuditEvent, read from the store itself (a read through the API would be an access too). */
async function storedAudits(): Promise<Map<string, AuditEvent>> {
  await app.flushAudit();
  const store = app.runtime.serve().store;
  const all = new Map<string, AuditEvent>();
  let cursor: string | undefined;
  do {
    const page = await store.search({ resourceType: 'AuditEvent', count: 1000, ...(cursor ? { cursor } : {}) });
    for (const r of page.resources) all.set(r.id, r as AuditEvent);
    cursor = page.next;
  } while (cursor);
  return all;
}

/** Runs one access and returns the one AuditEvent it left (failing if it left none or several). */
async function auditOf(access: () => Promise<unknown>): Promise<AuditEvent> {
  const before = await storedAudits();
  await access();
  const added = [...(await storedAudits()).values()].filter((a) => !before.has(a.id as string));
  expect(added, JSON.stringify(added.map((a) => a.subtype))).toHaveLength(1);
  return added[0] as AuditEvent;
}

const query = (a: AuditEvent): string => {
  const q = a.entity?.find((e) => e.role?.code === '24')?.query;
  return q ? Buffer.from(q, 'base64').toString('utf8') : '';
};
const patientsOf = (a: AuditEvent): string[] => (a.entity ?? []).filter((e) => e.role?.code === '1').map((e) => e.what?.reference ?? '');
const requestor = (a: AuditEvent) => a.agent.find((g) => g.requestor);
const client = (a: AuditEvent) => a.agent.find((g) => g.type?.coding?.[0]?.code === '110153');

/** BALP's elements every AuditEvent here must carry. */
function expectBalp(a: AuditEvent, interaction: string, action: string, outcome: string): void {
  expect(a.type).toMatchObject({ system: REST, code: 'rest' });
  expect(a.subtype?.[0]).toMatchObject({ system: INTERACTION, code: interaction });
  expect(a.action).toBe(action);
  expect(a.outcome).toBe(outcome);
  expect(Date.parse(a.recorded)).not.toBeNaN();
  expect(a.source.observer).toBeDefined();
  expect(a.agent.filter((g) => g.requestor)).toHaveLength(1);
  expect(a.agent.some((g) => g.type?.coding?.[0]?.code === '110152')).toBe(true);
  expect(query(a)).not.toBe('');
}

beforeAll(async () => {
  app = await startTestApp({ consumers: [] });
  const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'audit-1', day0: '2030-01-01' })) });
  expect(res.status).toBe(200);
  patient = res.body.entry[0].response.location.split('/')[1];
  observation = res.body.entry.find((e: any) => e.response.location?.startsWith('Observation/')).response.location.split('/')[1];
});

afterAll(async () => {
  await app?.close();
});

describe('one BALP AuditEvent per access (issue 17)', () => {
  it('records a read with the reader, the resource and its patient (BALP PatientRead)', async () => {
    const a = await auditOf(() => app.fetchFhir(`/Observation/${observation}`, { scopes: 'system/Observation.rs' }));
    expectBalp(a, 'read', 'R', '0');
    expect(a.meta?.profile).toEqual([`${BALP}/IHE.BasicAudit.PatientRead`]);
    expect(a.entity?.[0]?.what?.reference).toBe(`Observation/${observation}`);
    expect(patientsOf(a)).toEqual([`Patient/${patient}`]);
    expect(requestor(a)?.who?.identifier?.value).toBe('local-dev');
    expect(client(a)?.who?.identifier?.value).toBe('local-dev');
  });

  it('records a search with its query and the patients of the answer (BALP PatientQuery)', async () => {
    const a = await auditOf(() => app.fetchFhir(`/Observation?patient=Patient/${patient}&code=http://loinc.org|777-3&_count=5`));
    expectBalp(a, 'search-type', 'E', '0');
    expect(a.meta?.profile).toEqual([`${BALP}/IHE.BasicAudit.PatientQuery`]);
    expect(query(a)).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/fhir\/Observation\?patient=Patient%2F/);
    expect(patientsOf(a)).toEqual([`Patient/${patient}`]);
  });

  it('records a history read', async () => {
    const a = await auditOf(() => app.fetchFhir(`/Patient/${patient}/_history`));
    expectBalp(a, 'history-instance', 'R', '0');
    expect(a.entity?.[0]?.what?.reference).toBe(`Patient/${patient}`);
  });

  it('records a bundle POST (batch or transaction: action E) with every resource it wrote and its patient', async () => {
    let location = '';
    const a = await auditOf(async () => {
      const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'audit-2', day0: '2030-02-01' })) });
      location = res.body.entry[0].response.location;
    });
    expect(['batch', 'transaction']).toContain(a.subtype?.[0]?.code);
    expect(a.action).toBe('E');
    expect(a.outcome).toBe('0');
    const written = (a.entity ?? []).filter((e) => e.role?.code === '4').map((e) => e.what?.reference);
    expect(written.length).toBeGreaterThan(0);
    expect(patientsOf(a)).toEqual([`Patient/${location.split('/')[1]}`]);
  });

  it('records a request without a valid token as a minor failure with no agent identity (401)', async () => {
    const a = await auditOf(async () => expect((await app.fetchFhir('/Observation', { token: null })).status).toBe(401));
    expectBalp(a, 'search-type', 'E', '4');
    expect(a.outcomeDesc).toBe('HTTP 401');
    expect(requestor(a)?.who).toEqual({ display: 'unauthenticated' });
  });

  it('records a refusal for a missing scope with who was refused (403)', async () => {
    const token = await signLocalToken(app.dataDir, 'system/Condition.rs', { subject: 'app-without-observations' });
    const a = await auditOf(async () => expect((await app.fetchFhir(`/Observation/${observation}`, { token })).status).toBe(403));
    expectBalp(a, 'read', 'R', '4');
    expect(a.meta?.profile).toBeUndefined();
    expect(requestor(a)?.who?.identifier?.value).toBe('app-without-observations');
    // Nothing was read: the request leads, the resource it named follows.
    expect(a.entity?.[0]?.what?.reference).toBeUndefined();
    expect(a.entity?.some((e) => e.what?.reference === `Observation/${observation}`)).toBe(true);
  });

  it('records an identity look-up once (the identity route writes no AuditEvent of its own)', async () => {
    const token = await signLocalToken(app.dataDir, 'recruitment/identity.read', { subject: 'recruiter-1' });
    const a = await auditOf(async () => expect((await app.fetchFhir(`/Patient/${patient}/$hospital-identity`, { token })).status).toBe(200));
    expectBalp(a, 'operation', 'R', '0');
    expect(a.subtype?.[1]?.code).toBe('hospital-identity');
    expect(a.entity?.[0]?.what?.reference).toBe(`Patient/${patient}`);
    expect(requestor(a)?.who?.identifier?.value).toBe('recruiter-1');
    // The hospital's own Patient id in the answer never enters the trail.
    expect(JSON.stringify(a)).not.toContain('audit-1');
  });

  it('records $settle, refused and not found', async () => {
    const task = '0123456789abcdef0123456789abcdef';
    const decision = JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'decision', valueCode: 'present' }] });
    const refused = await auditOf(() => app.fetchFhir(`/Task/${task}/$settle`, { method: 'POST', body: decision, scopes: 'system/*.rs' }));
    expectBalp(refused, 'operation', 'E', '4');
    expect(refused.outcomeDesc).toBe('HTTP 403');
    expect(refused.entity?.some((e) => e.what?.reference === `Task/${task}`)).toBe(true);
    const missing = await auditOf(() => app.fetchFhir(`/Task/${task}/$settle`, { method: 'POST', body: decision }));
    expectBalp(missing, 'operation', 'E', '4');
    expect(missing.outcomeDesc).toBe('HTTP 404');
  });

  it('keeps hospital identifiers and free text of a query out of the trail', async () => {
    const a = await auditOf(() => app.fetchFhir('/Patient?identifier=urn:oid:1.2.3|MRN-0042&name=Doe&_count=1'));
    expect(query(a)).toContain('identifier=urn%3Aoid%3A1.2.3%7C%5Bredacted%5D');
    expect(query(a)).toContain('name=%5Bredacted%5D');
    expect(JSON.stringify(a)).not.toMatch(/MRN-0042|Doe/);
    const missing = await auditOf(() => app.fetchFhir('/Patient/MRN-0042'));
    expect(missing.outcome).toBe('4');
    expect(JSON.stringify(missing)).not.toContain('MRN-0042');
  });

  it('writes nothing new when a record is delivered again (the audit queue delivers at least once)', async () => {
    const record = {
      requestId: 'redelivered-1',
      recorded: '2030-01-01T00:00:00.000Z',
      method: 'GET',
      path: `/Patient/${patient}`,
      query: '',
      status: 200,
      subject: 'local-dev',
      baseUrl: app.baseUrl,
      written: [],
      patients: [patient],
    };
    const store = app.runtime.serve().store;
    const [first] = await writeAuditEvents(store, [record]);
    const [again] = await writeAuditEvents(store, [record, record]);
    expect(first?.status).toBe('created');
    expect(again?.status).toBe('unchanged');
  });
});

describe('many accesses at once (issue 17: every access, exactly once)', () => {
  it('records 60 concurrent accesses of mixed outcomes as 60 AuditEvents', async () => {
    const before = await storedAudits();
    const token = await app.token('system/*.rs');
    const paths = [`/Observation/${observation}`, '/Observation?_count=2', `/Patient/${patient}/_history`, '/Patient/MRN-1', '/AuditEvent', '/Nope'];
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => app.fetchFhir(paths[i % paths.length] as string, i % 10 === 9 ? { token: null } : { token })),
    );
    expect([...new Set(results.map((r) => r.status))]).toEqual(expect.arrayContaining([200, 401, 403, 404]));
    const added = [...(await storedAudits()).values()].filter((a) => !before.has(a.id as string));
    expect(added).toHaveLength(60);
    expect(added.filter((a) => a.outcome === '4')).toHaveLength(results.filter((r) => r.status >= 400).length);
  });
});

describe('reading the trail (issue 17)', () => {
  it('is refused to wildcard scopes, and the refusal is itself recorded once', async () => {
    for (const scopes of ['system/*.rs', 'system/*.cruds', 'user/*.rs']) {
      const a = await auditOf(async () => expect((await app.fetchFhir('/AuditEvent', { scopes })).status, scopes).toBe(403));
      expect(a.outcome).toBe('4');
    }
  });

  it('is served to a scope naming AuditEvent, and that read leaves one AuditEvent, not a chain', async () => {
    const before = await storedAudits();
    const res = await app.fetchFhir('/AuditEvent?_count=1000', { scopes: 'system/AuditEvent.rs' });
    expect(res.status).toBe(200);
    // A reader sees every access answered before its own read.
    expect(res.body.entry.length).toBe(before.size);
    const after = await storedAudits();
    const added = [...after.values()].filter((a) => !before.has(a.id as string));
    expect(added).toHaveLength(1);
    expect(query(added[0] as AuditEvent)).toContain('/fhir/AuditEvent?_count=1000');
    // Nothing more appears later: recording a read writes to the store, not through the API.
    expect((await storedAudits()).size).toBe(after.size);
  });
});
