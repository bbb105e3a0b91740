/**
 * SMART v2 `user/` scopes of the study app's roles (SMART App Launch 2, "Scopes for requesting FHIR
 * resources"), on every route: each role's token, as the local authorization server issues it for a
 * wide request (`user/*.cruds recruitment/identity.read`), gets 200 on what its job needs and 403 on
 * the rest. The expected grants are written here by hand from the issue (not read from roles.json or
 * computed by `can`), so a wrong grant in either shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantFor, type RoleId } from '../../lambdas/commons/auth/roles.js';
import { STORE_TYPES } from '../../lambdas/commons/study-types.js';
import { signUserToken } from '../../local/auth/access-token.js';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

/** By hand, per role: the interaction letters on each type; `identity` for the recruitment reveal. */
const GRANTS: Record<RoleId, { types: Record<string, string>; identity: boolean }> = {
  recruitment: {
    types: {
      Patient: 'rs',
      Observation: 'rs',
      ResearchSubject: 'rs',
      Task: 'rs',
      Communication: 'rs',
      Group: 'rs',
      // Evidence a criterion cites, opened by reference, never searched.
      Condition: 'r',
      AllergyIntolerance: 'r',
      MedicationAdministration: 'r',
      MedicationRequest: 'r',
      MedicationStatement: 'r',
      Encounter: 'r',
    },
    identity: true,
  },
  investigator: {
    types: {
      Patient: 'rs',
      Observation: 'crs',
      Condition: 'rs',
      AllergyIntolerance: 'rs',
      MedicationAdministration: 'rs',
      MedicationRequest: 'rs',
      MedicationStatement: 'rs',
      Encounter: 'rs',
      ResearchSubject: 'rs',
      Task: 'rus',
      Provenance: 'rs',
      Group: 'rs',
      Library: 'rs',
    },
    identity: false,
  },
  statistician: { types: { ResearchSubject: 'rs', Observation: 'rs', Group: 'rs', Library: 'rs' }, identity: false },
};

/** The patient compartment as `$everything` reads it (R4 patient-operation-everything). */
const COMPARTMENT = ['Observation', 'Condition', 'Encounter', 'AllergyIntolerance', 'MedicationAdministration', 'MedicationRequest', 'MedicationStatement', 'ResearchSubject', 'Communication', 'Task'];
const CONFORMANCE_READS: Record<string, string> = { Group: 'nct04893161-eligibility', StructureDefinition: 'sledai-2k-score', CodeSystem: 'study-assessments', ValueSet: '', ConceptMap: '', ResearchStudy: '', PlanDefinition: '', ObservationDefinition: '', Library: '' };

interface Case {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  /** Whether the role may; `ok` is the status when it may. */
  readonly allowed: (role: RoleId) => boolean;
  readonly ok: number;
}

let app: TestApp;
let pseudonym = '';
const ids = new Map<string, string>();
let taskId = '';
const tokens = new Map<RoleId, string>();
const ROLES: RoleId[] = ['recruitment', 'statistician', 'investigator'];

const has = (role: RoleId, type: string, letter: string): boolean => (GRANTS[role].types[type] ?? '').includes(letter);

beforeAll(async () => {
  app = await startTestApp();
  const pushed = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'us-1', day0: '2024-06-03' })) });
  expect(pushed.status).toBe(200);
  pseudonym = pushed.body.entry[0].response.location.split('/')[1];
  // One stored resource of each type (the sample's record, its screening, alert, Task, Provenance; one AuditEvent).
  expect((await app.fetchFhir(`/Patient/${pseudonym}/$hospital-identity`, { scopes: 'recruitment/identity.read' })).status).toBe(200);
  for (const type of STORE_TYPES) {
    const found = await app.fetchFhir(`/${type}?_count=1`, { scopes: `system/*.rs system/AuditEvent.rs` });
    const id = found.body?.entry?.[0]?.resource?.id;
    if (id) ids.set(type, id);
  }
  for (const [type, id] of Object.entries(CONFORMANCE_READS)) {
    const found = id ? { body: { entry: [{ resource: { id } }] } } : await app.fetchFhir(`/${type}?_count=1`, { scopes: 'system/*.rs' });
    ids.set(type, found.body.entry[0].resource.id);
  }
  const tasks = await app.fetchFhir(`/Task?patient=Patient/${pseudonym}&status=requested`, { scopes: 'system/*.rs' });
  taskId = tasks.body.entry.find((e: any) => e.resource.code.coding[0].code === 'review-eligibility-criterion').resource.id;
  for (const role of ROLES) {
    const scope = grantFor(role, 'openid fhirUser user/*.cruds recruitment/identity.read').join(' ');
    tokens.set(role, (await signUserToken(app.dataDir, { role, scope, clientId: 'study-app' })).token);
  }
}, 120_000);

afterAll(async () => {
  await app?.close();
});

function cases(): Case[] {
  const out: Case[] = [];
  const types = [...STORE_TYPES, ...Object.keys(CONFORMANCE_READS)];
  for (const type of types) {
    const stored = (STORE_TYPES as readonly string[]).includes(type);
    out.push({ name: `search ${type}`, method: 'GET', path: `/${type}?_count=1`, allowed: (r) => has(r, type, 's'), ok: 200 });
    out.push({ name: `POST ${type}/_search`, method: 'POST', path: `/${type}/_search`, body: '_count=1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, allowed: (r) => has(r, type, 's'), ok: 200 });
    const id = ids.get(type);
    if (id) {
      out.push({ name: `read ${type}`, method: 'GET', path: `/${type}/${id}`, allowed: (r) => has(r, type, 'r'), ok: 200 });
      if (stored) {
        out.push({ name: `history ${type}/{id}`, method: 'GET', path: `/${type}/${id}/_history`, allowed: (r) => has(r, type, 'r'), ok: 200 });
        out.push({ name: `vread ${type}/{id}/_history/1`, method: 'GET', path: `/${type}/${id}/_history/1`, allowed: (r) => has(r, type, 'r'), ok: 200 });
      }
    }
    if (stored) out.push({ name: `history ${type}`, method: 'GET', path: `/${type}/_history?_count=1`, allowed: (r) => has(r, type, 'r'), ok: 200 });
  }
  const observation = JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'x' } });
  out.push(
    { name: 'metadata', method: 'GET', path: '/metadata', allowed: () => true, ok: 200 },
    { name: 'system history', method: 'GET', path: '/_history?_count=1', allowed: () => true, ok: 200 },
    {
      name: 'Patient $everything',
      method: 'GET',
      path: `/Patient/${pseudonym}/$everything`,
      allowed: (r) => has(r, 'Patient', 'r') && COMPARTMENT.every((t) => has(r, t, 's')),
      ok: 200,
    },
    { name: 'Observation $validate', method: 'POST', path: '/Observation/$validate', body: observation, allowed: (r) => has(r, 'Observation', 'c') || has(r, 'Observation', 'r'), ok: 200 },
    // The EHR feed stays with backends: no role writes through POST /fhir, whatever it may create elsewhere.
    { name: 'POST /fhir batch', method: 'POST', path: '', body: JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: [{ resource: JSON.parse(observation), request: { method: 'POST', url: 'Observation' } }] }), allowed: () => false, ok: 200 },
    { name: 'POST /fhir/Bundle', method: 'POST', path: '/Bundle', body: JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'urn:uuid:0f3e6a52-1111-4111-8111-111111111112', resource: JSON.parse(observation) }] }), allowed: () => false, ok: 200 },
    // Bulk export and subscriptions are backend services' (system/ scopes).
    { name: 'GET $export', method: 'GET', path: '/$export', headers: { prefer: 'respond-async', accept: 'application/fhir+json' }, allowed: () => false, ok: 202 },
    {
      name: 'POST Subscription',
      method: 'POST',
      path: '/Subscription',
      body: JSON.stringify({ resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: 'Observation', channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/hook', payload: 'application/fhir+json' } }),
      allowed: () => false,
      ok: 201,
    },
    { name: 'Patient $hospital-identity', method: 'GET', path: `/Patient/${pseudonym}/$hospital-identity`, allowed: (r) => GRANTS[r].identity, ok: 200 },
  );
  return out;
}

describe('User scopes of the app roles on every route (SMART App Launch 2 user/ scopes)', () => {
  it('answers each role 200 where its job needs it and 403 elsewhere', async () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const role of ROLES) {
      for (const c of cases()) {
        const res = await app.fetchFhir(c.path, { method: c.method, token: tokens.get(role)!, ...(c.body ? { body: c.body } : {}), ...(c.headers ? { headers: c.headers } : {}) });
        checked++;
        const want = c.allowed(role) ? c.ok : 403;
        if (res.status !== want) wrong.push(`${role}: ${c.name} → ${res.status}, expected ${want}`);
        else if (want === 403 && res.body?.resourceType !== 'OperationOutcome') wrong.push(`${role}: ${c.name} → 403 without an OperationOutcome`);
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(150);
  });

  it('lets the investigator alone settle a review Task ($settle: Task update + Observation create)', async () => {
    const body = JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'decision', valueCode: 'met' }, { name: 'reason', valueString: 'ACR 1997 criteria documented' }] });
    for (const role of ['recruitment', 'statistician'] as const) {
      const res = await app.fetchFhir(`/Task/${taskId}/$settle`, { method: 'POST', body, token: tokens.get(role)! });
      expect(res.status, role).toBe(403);
    }
    const settled = await app.fetchFhir(`/Task/${taskId}/$settle`, { method: 'POST', body, token: tokens.get('investigator')! });
    expect(settled.status).toBe(200);
    expect(settled.body.status).toBe('completed');
  });

  it('grants nothing to patient/ scopes, user/ wildcards or user/ scopes with a query restriction (defence against a misconfigured issuer)', async () => {
    for (const scope of ['patient/*.cruds', 'user/*.cruds', 'user/Observation.rs?category=laboratory']) {
      const { token } = await signUserToken(app.dataDir, { role: 'investigator', scope, clientId: 'study-app' });
      expect((await app.fetchFhir('/Observation?_count=1', { token })).status, scope).toBe(403);
    }
  });

  it('keeps the EHR feed from any user/ token, whatever it may create', async () => {
    const { token } = await signUserToken(app.dataDir, { role: 'investigator', scope: 'user/*.cruds user/Bundle.cruds user/Patient.c user/Observation.c', clientId: 'study-app' });
    const batch = JSON.stringify(sampleSubjectBundle({ patientId: 'us-2', day0: '2024-06-03', bundleType: 'batch' }));
    for (const path of ['', '/Bundle']) {
      const res = await app.fetchFhir(path, { method: 'POST', body: batch, token });
      expect(res.status, path).toBe(403);
    }
  });
});
