import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'fhir-kit-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { SHARED_DATA, startTestApp, type TestApp } from '../support/local-app.js';

const SYNTHEA_DIR = join(SHARED_DATA, 'synthea');
const syntheaFiles = readdirSync(SYNTHEA_DIR).filter((f) => f.endsWith('.json'));
const readSynthea = (file: string): any => JSON.parse(readFileSync(join(SYNTHEA_DIR, file), 'utf8'));

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app.close();
});

async function countStored(): Promise<number> {
  let total = 0;
  for (const type of ['Patient', 'Observation', 'Condition', 'Encounter', 'MedicationRequest', 'Provenance']) {
    const { body } = await app.fetchFhir(`/${type}?_count=1000`);
    total += body.entry?.length ?? 0;
  }
  return total;
}

describe('Ingest and serve through the local API', () => {
  it('answers the CapabilityStatement without a token, listing every profile including the four derived ones', async () => {
    const { status, body } = await app.fetchFhir('/metadata', { token: null });
    expect(status).toBe(200);
    const profiles = body.rest[0].resource.flatMap((r: any) => r.supportedProfile ?? []);
    for (const id of ['sledai-2k-score', 'sri4-response', 'response-prediction', 'eligibility-screening']) {
      expect(profiles.some((p: string) => p.endsWith(`/StructureDefinition/${id}`))).toBe(true);
    }
  });

  it('refuses a request with no token (401) and one with too little scope (403)', async () => {
    expect((await app.fetchFhir('/Observation', { token: null })).status).toBe(401);
    expect((await app.fetchFhir('/Observation', { token: 'not-a-jwt' })).status).toBe(401);
    const readOnly = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'p-scope', day0: '2024-06-03' })), scopes: 'system/*.rs' });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.resourceType).toBe('OperationOutcome');
  });

  describe('a Synthea transaction bundle', () => {
    const file = syntheaFiles[0]!;
    const bundle = readSynthea(file);
    const patient = bundle.entry.find((e: any) => e.resource.resourceType === 'Patient').resource;
    let first: any;

    beforeAll(async () => {
      first = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(bundle) });
    });

    it('is answered entry by entry', () => {
      expect(first.status).toBe(200);
      expect(first.body.type).toBe('transaction-response');
      expect(first.body.entry).toHaveLength(bundle.entry.length);
      const claimIndex = bundle.entry.findIndex((e: any) => e.resource.resourceType === 'Claim');
      expect(first.body.entry[claimIndex].response.status).toBe('200 OK');
      expect(first.body.entry[claimIndex].response.outcome.issue[0].details.text).toMatch(/not used/);
    });

    it('stores platelets and leukocytes with a study profile, LOINC codes and UCUM units', async () => {
      const { body } = await app.fetchFhir('/Observation?code=http://loinc.org|777-3,http://loinc.org|6690-2');
      const expected = bundle.entry.filter((e: any) => ['777-3', '6690-2'].includes(e.resource.code?.coding?.[0]?.code)).length;
      expect(expected).toBeGreaterThan(0);
      expect(body.entry).toHaveLength(expected);
      const counted = await app.fetchFhir('/Observation?code=http://loinc.org|777-3,http://loinc.org|6690-2&_summary=count');
      expect(counted.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: expected });
      expect(counted.body.entry).toBeUndefined();
      for (const { resource } of body.entry) {
        expect(resource.meta.profile[0]).toMatch(/\/StructureDefinition\//);
        expect(resource.code.coding[0].system).toBe('http://loinc.org');
        expect(resource.valueQuantity).toMatchObject({ system: 'http://unitsofmeasure.org', code: '10*3/uL' });
        expect(resource.subject.reference).toMatch(/^Patient\//);
        expect(resource.meta.source).toBeTruthy();
        // The hospital's record id is kept only as a keyed hash (issue 12): HMAC-SHA-256, 64 hex characters.
        expect(resource.identifier).toEqual([{ system: 'https://belimumab-sle.example.org/fhir/sid/source-record', value: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
      }
    });

    it('keeps nothing that names or identifies the patient in any study resource', async () => {
      const identifying = [
        ...patient.name.flatMap((n: any) => [n.family, ...(n.given ?? [])]),
        ...patient.identifier.map((i: any) => i.value),
        ...patient.address.flatMap((a: any) => [...(a.line ?? []), a.postalCode].filter(Boolean)),
        ...(patient.telecom ?? []).map((t: any) => t.value),
        patient.id,
      ];
      for (const type of ['Patient', 'Observation', 'Condition', 'Encounter', 'MedicationRequest', 'Provenance']) {
        const { body } = await app.fetchFhir(`/${type}?_count=1000`);
        const text = JSON.stringify(body.entry ?? []);
        for (const value of identifying) {
          expect(text, `${type} contains '${value}'`).not.toContain(value);
        }
      }
      const { body } = await app.fetchFhir('/Patient');
      expect(body.entry).toHaveLength(1);
      expect(Object.keys(body.entry[0].resource).sort()).toEqual(['birthDate', 'gender', 'id', 'identifier', 'meta', 'resourceType'].sort());
    });

    it('changes no version when the same bundle is posted again', async () => {
      const again = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(bundle) });
      expect(again.status).toBe(200);
      const locations = (b: any) => b.entry.map((e: any) => e.response.location ?? null);
      expect(locations(again.body)).toEqual(locations(first.body));
      expect(again.body.entry.filter((e: any) => e.response.status === '201 Created')).toHaveLength(0);
    });

    it('serves read, vread and history of a stored resource', async () => {
      const location: string = first.body.entry.find((e: any) => e.response.location?.startsWith('Observation/')).response.location;
      const [type, id, , vid] = location.split('/');
      expect((await app.fetchFhir(`/${type}/${id}`)).body.id).toBe(id);
      expect((await app.fetchFhir(`/${type}/${id}/_history/${vid}`)).body.meta.versionId).toBe(vid);
      expect((await app.fetchFhir(`/${type}/${id}/_history`)).body.entry).toHaveLength(1);
      expect((await app.fetchFhir(`/${type}/does-not-exist`)).status).toBe(404);
    });

    it('is readable by a third-party FHIR client (fhir-kit-client)', async () => {
      const client = new Client({ baseUrl: app.baseUrl, bearerToken: await app.token('system/*.rs') });
      const searched: any = await client.search({ resourceType: 'Observation', searchParams: { code: 'http://loinc.org|777-3', _count: '1' } });
      expect(searched.resourceType).toBe('Bundle');
      expect(searched.entry.length).toBeGreaterThan(0);
      const next: any = await client.nextPage({ bundle: searched });
      expect(next.resourceType).toBe('Bundle');
      expect(next.entry[0].resource.id).not.toBe(searched.entry[0].resource.id);
      const read: any = await client.read({ resourceType: 'Observation', id: searched.entry[0].resource.id });
      expect(read.id).toBe(searched.entry[0].resource.id);
    });
  });

  describe('bad input', () => {
    const cases: [string, string, number][] = [
      ['broken JSON', '{"resourceType": "Bundle", "type": "batch", ', 400],
      ['a Bundle with no type', JSON.stringify({ resourceType: 'Bundle', entry: [] }), 400],
      ['a Bundle with an invalid type', JSON.stringify({ resourceType: 'Bundle', type: 'shopping-list', entry: [] }), 400],
      ['a bare Patient', JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Doe' }] }), 400],
      ['a document Bundle', JSON.stringify({ resourceType: 'Bundle', type: 'document', entry: [] }), 400],
      ['an empty body', '', 400],
      ['deep nesting', `{"resourceType":"Bundle","type":"batch","x":${'['.repeat(500)}${']'.repeat(500)}}`, 400],
    ];
    it.each(cases)('refuses %s with a 4xx OperationOutcome and stores nothing', async (_name, body, status) => {
      const before = await countStored();
      const res = await app.fetchFhir('', { method: 'POST', body });
      expect(res.status).toBe(status);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(await countStored()).toBe(before);
    });

    it('refuses an oversized body with 413', async () => {
      const res = await app.fetchFhir('', { method: 'POST', body: `{"resourceType":"Bundle","type":"batch","pad":"${'x'.repeat(6 * 1024 * 1024)}"}` });
      expect(res.status).toBe(413);
    });

    it('fails a whole transaction when one entry has an unknown local code, storing none of it', async () => {
      const bundle: any = sampleSubjectBundle({ patientId: 'p-unknown-code', day0: '2024-06-03' });
      bundle.entry.find((e: any) => e.resource.resourceType === 'Observation').resource.code.coding[0].code = 'NOPE';
      const before = await countStored();
      const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(bundle) });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toMatch(/not in the study's ConceptMap/);
      expect(await countStored()).toBe(before);
    });

    it('answers a batch entry by entry: the bad entry fails, the others land', async () => {
      const bundle: any = sampleSubjectBundle({ patientId: 'p-batch', day0: '2024-06-03', bundleType: 'batch' });
      const bad = bundle.entry.findIndex((e: any) => e.resource.resourceType === 'Observation');
      bundle.entry[bad].resource.valueQuantity = { value: 1, unit: 'parsecs' };
      const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(bundle) });
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('batch-response');
      expect(res.body.entry[bad].response.status).toBe('422 Unprocessable Entity');
      expect(res.body.entry.filter((e: any) => e.response.status === '201 Created').length).toBeGreaterThan(5);
    });
  });

  describe('a lupus subject from the sample hospital', () => {
    let response: any;
    beforeAll(async () => {
      response = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId: 'p-lupus', day0: '2024-06-03' })) });
    });
    // Study resources no longer carry the hospital's ids (issue 12): the subject's pseudonym tells them apart.
    const isLupus = (r: any): boolean =>
      r.subject?.reference === response.body.entry.find((e: any) => e.response.location?.startsWith('Patient/')).response.location.split('/_history')[0];

    it('translates local codes through the ConceptMap and converts units to the profile unit', async () => {
      expect(response.status).toBe(200);
      const c3 = await app.fetchFhir('/Observation?code=http://loinc.org|4485-9&date=2024-05-31');
      const mine = c3.body.entry.filter((e: any) => isLupus(e.resource));
      expect(mine).toHaveLength(1);
      const resource = mine[0].resource;
      expect(resource.valueQuantity).toMatchObject({ value: 62, code: 'mg/dL' });
      expect(resource.referenceRange[0].low).toMatchObject({ value: 90, code: 'mg/dL' });
      expect(resource.code.coding[1].code).toBe('C3');
      expect(resource.valueQuantity.extension[0].valueQuantity).toMatchObject({ value: 0.62, unit: 'g/L' });
      expect(JSON.stringify(resource)).not.toContain('Jane Roe');
    });

    it('assigns study visits from day 0, the first belimumab infusion', async () => {
      const { body } = await app.fetchFhir('/Observation?code=http://loinc.org|777-3&_count=10');
      const visits = body.entry
        .filter((e: any) => isLupus(e.resource))
        .map((e: any) => ({ date: e.resource.effectiveDateTime.slice(0, 10), visit: e.resource.extension.find((x: any) => x.url.endsWith('/study-visit')).valueCoding.code }))
        .sort((a: any, b: any) => a.date.localeCompare(b.date));
      expect(visits.map((v: any) => v.visit)).toEqual(['screening', 'week-2', 'week-4']);
    });

    it('records the belimumab dose in mg and mg/kg from the body weight', async () => {
      const { body } = await app.fetchFhir('/MedicationAdministration?code=http://www.nlm.nih.gov/research/umls/rxnorm|1092437');
      const admins = body.entry.map((e: any) => e.resource).filter((r: any) => isLupus(r));
      expect(admins).toHaveLength(3);
      for (const admin of admins) {
        expect(admin.dosage.dose).toMatchObject({ value: 620, code: 'mg' });
        expect(admin.extension.find((x: any) => x.url.endsWith('/belimumab-dose-per-kg')).valueQuantity.value).toBe(10);
        expect(JSON.stringify(admin)).not.toContain('Dr. Who');
      }
    });

    it('keeps one Provenance per accepted bundle pointing at what it stored', async () => {
      const { body } = await app.fetchFhir('/Provenance?_count=100');
      const provenance = body.entry.map((e: any) => e.resource).find((p: any) => p.target.some((t: any) => t.reference.startsWith('MedicationAdministration/')));
      expect(provenance.target.length).toBeGreaterThan(10);
    });
  });
});
