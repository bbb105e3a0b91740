import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { SHARED_DATA, startTestApp, type TestApp } from '../support/local-app.js';

const base = 'https://belimumab-sle.example.org/fhir';

/** A webhook that refuses its first `failures` alerts, then takes them. */
function webhook(failures: number): Promise<{ server: Server; url: string; received: any[]; refused: number }> {
  const state = { received: [] as any[], refused: 0 };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (state.refused < failures) {
        state.refused++;
        res.writeHead(503).end();
        return;
      }
      state.received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
      resolve(Object.assign(state, { server, url, get refusedCount() { return state.refused; } }));
    }),
  );
}

describe('Eligibility screening through the local API', () => {
  let app: TestApp;
  let hook: Awaited<ReturnType<typeof webhook>>;

  beforeAll(async () => {
    hook = await webhook(1);
    app = await startTestApp({ env: { ALERT_WEBHOOK_URL: hook.url } });
  });

  afterAll(async () => {
    await app.close();
    hook.server.close();
  });

  const screeningOf = async (patient: string): Promise<any> =>
    (await app.fetchFhir(`/Observation?subject=Patient/${patient}&_profile=${base}/StructureDefinition/eligibility-screening`)).body.entry?.[0]?.resource;

  it('screens a lupus patient with no other call: every criterion explained, a candidate, one alert', async () => {
    // The first publish is refused by the webhook: the alert is recorded, stays in progress, and is
    // sent when the patient is screened again (registry criteria: NCT04893161 record; alerting: issue 4).
    const first = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'scr-1', day0: '2030-01-01' })) });
    expect(first.status).toBe(200);
    const patient = first.body.entry[0].response.location.split('/')[1];
    const screening = await screeningOf(patient);
    expect(screening.component).toHaveLength(19);
    for (const component of screening.component) {
      expect(['met', 'not-met', 'unknown', 'review']).toContain(component.valueCodeableConcept.coding[0].code);
    }
    expect(screening.valueCodeableConcept.coding[0].code).toBe('candidate');
    const subjects = (await app.fetchFhir(`/ResearchSubject?individual=Patient/${patient}`)).body.entry;
    expect(subjects).toHaveLength(1);
    expect(subjects[0].resource.status).toBe('potential-candidate');

    const comms = (await app.fetchFhir(`/Communication?subject=Patient/${patient}`)).body.entry;
    expect(comms).toHaveLength(1);
    expect(comms[0].resource.status).toBe('in-progress');
    expect(hook.received).toHaveLength(0);

    // The same bundle again changes no data and records no new alert; re-screening it delivers the
    // pending one, and the relay after it finds nothing left to send.
    await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'scr-1', day0: '2030-01-01' })) });
    await app.drainOutbox();
    const after = (await app.fetchFhir(`/Communication?subject=Patient/${patient}`)).body.entry;
    expect(after).toHaveLength(1);
    expect(after[0].resource.status).toBe('completed');
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]).toMatchObject({ patient, state: 'candidate' });
    const text = JSON.stringify(hook.received[0]);
    for (const phi of ['Lovelace', 'Ada', 'MRN-scr-1', 'scr-1', '1990-04-12', 'Example Street']) {
      expect(text).not.toContain(phi);
    }
  });

  it('finds a patient with no SLE diagnosis ineligible and sends no alert', async () => {
    const file = readdirSync(join(SHARED_DATA, 'synthea')).find((f) => f.endsWith('.json'))!;
    const res = await app.fetchFhir('', { method: 'POST', body: readFileSync(join(SHARED_DATA, 'synthea', file), 'utf8') });
    const patient = res.body.entry.find((e: any) => e.response.location?.startsWith('Patient/')).response.location.split('/')[1];
    const screening = await screeningOf(patient);
    expect(screening.valueCodeableConcept.coding[0].code).toBe('ineligible');
    const sle = screening.component.find((c: any) => c.code.coding[0].code === 'incl-sle-diagnosis');
    expect(sle.valueCodeableConcept.coding[0].code).toBe('not-met');
    expect((await app.fetchFhir(`/Communication?subject=Patient/${patient}`)).body.entry ?? []).toHaveLength(0);
  });

  it('resolves a pseudonym for the recruitment scope alone, auditing every look-up', async () => {
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'scr-2', day0: '2030-01-01' })) });
    const patient = res.body.entry[0].response.location.split('/')[1];
    const denied = await app.fetchFhir(`/Patient/${patient}/$hospital-identity`, { scopes: 'system/*.cruds' });
    expect(denied.status).toBe(403);
    const resolved = await app.fetchFhir(`/Patient/${patient}/$hospital-identity`, { scopes: 'recruitment/identity.read' });
    expect(resolved.status).toBe(200);
    expect(resolved.body.parameter.find((p: any) => p.name === 'patient').valueReference.reference).toBe('Patient/scr-2');
    const auditSearch = await app.fetchFhir('/AuditEvent?_count=100', { scopes: 'system/AuditEvent.rs' });
    expect(auditSearch.status, JSON.stringify(auditSearch.body)).toBe(200);
    const audits = auditSearch.body.entry.map((e: any) => e.resource);
    expect(audits.filter((a: any) => a.entity[0].what.reference === `Patient/${patient}`)).toHaveLength(1);
  });
});
