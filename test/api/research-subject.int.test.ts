import type { Bundle, BundleEntry, ResearchSubject } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { researchSubjectId } from '../../lambdas/commons/study-ids.js';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { startTestApp, type TestApp } from '../support/local-app.js';

/*
 * Issue 11: the EHR's (or the coordinator's) ResearchSubject for NCT04893161 reaches the layer
 * through the API and is mapped to the pseudonymous subject, so that enrolment, withdrawal (D6:
 * `withdrawn`, or `off-study` with period.end) and completion are data. It lands on the
 * ResearchSubject the screen keeps (same deterministic id); once the study owns the status, the
 * screen no longer writes it.
 */

const BASE = 'https://belimumab-sle.example.org/fhir';
const NCT = { system: 'https://clinicaltrials.gov', value: 'NCT04893161' };

function subjectBundle(patientId: string, subject: Partial<ResearchSubject>, extra: BundleEntry[] = []): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: `urn:uuid:${patientId}`,
        resource: { resourceType: 'Patient', id: patientId, gender: 'female', birthDate: '1990-04-12' },
        request: { method: 'PUT', url: `Patient/${patientId}` },
      },
      {
        fullUrl: `urn:uuid:${patientId}-rs`,
        resource: {
          resourceType: 'ResearchSubject',
          id: `${patientId}-rs`,
          identifier: [{ system: 'http://hospital.example.org/study-enrolment', value: `ENR-${patientId}` }],
          status: 'on-study',
          study: { identifier: NCT, display: 'Belimumab response model' },
          individual: { reference: `urn:uuid:${patientId}`, display: 'Ada Lovelace' },
          assignedArm: 'Belimumab 10 mg/kg',
          actualArm: 'Belimumab 10 mg/kg',
          consent: { reference: 'Consent/c-1' },
          ...subject,
        },
        request: { method: 'PUT', url: `ResearchSubject/${patientId}-rs` },
      },
      ...extra,
    ],
  };
}

describe("The EHR's ResearchSubject through POST /fhir", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  /** Pushes the sample lupus subject (screened on arrival) and answers its pseudonym. */
  const screened = async (patientId: string): Promise<string> => {
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(sampleSubjectBundle({ patientId, day0: '2030-01-01' })) });
    expect(res.status).toBe(200);
    return res.body.entry[0].response.location.split('/')[1] as string;
  };
  const push = async (bundle: Bundle): Promise<any> => {
    const res = await app.fetchFhir('', { method: 'POST', body: JSON.stringify(bundle) });
    expect(res.status).toBe(200);
    await app.drainOutbox();
    return res.body;
  };
  const subjectsOf = async (pseudonym: string): Promise<ResearchSubject[]> =>
    ((await app.fetchFhir(`/ResearchSubject?individual=Patient/${pseudonym}`)).body.entry ?? []).map((e: { resource: ResearchSubject }) => e.resource);

  it('enrolment: maps it onto the screen\'s ResearchSubject (same id), pseudonymous, with nothing else; the screen stops writing it', async () => {
    const pseudonym = await screened('rs-enrol');
    const before = await subjectsOf(pseudonym);
    expect(before).toHaveLength(1);
    expect(before[0]?.status).toBe('potential-candidate');

    const body = await push(subjectBundle('rs-enrol', { status: 'on-study', period: { start: '2030-01-01' } }));
    expect(body.entry[1].response.status).toBe('200 OK');
    const after = await subjectsOf(pseudonym);
    expect(after).toHaveLength(1);
    const subject = after[0]!;
    expect(subject.id).toBe(researchSubjectId(pseudonym));
    expect(subject).toMatchObject({
      status: 'on-study',
      period: { start: '2030-01-01' },
      study: { reference: 'ResearchStudy/nct04893161' },
      individual: { reference: `Patient/${pseudonym}` },
    });
    expect(subject.identifier).toEqual([{ system: `${BASE}/sid/study-subject`, value: pseudonym }]);
    expect(subject.meta?.profile).toEqual([`${BASE}/StructureDefinition/study-research-subject`]);
    const text = JSON.stringify(subject);
    for (const leak of ['Belimumab 10 mg/kg', 'Consent/', 'ENR-', 'Ada', 'rs-enrol']) {
      expect(text).not.toContain(leak);
    }

    // New data for the subject re-screens it: the screening Observation gets a new version, the status stays the study's.
    const screeningVersion = async (): Promise<string> =>
      (await app.fetchFhir(`/Observation?subject=Patient/${pseudonym}&_profile=${BASE}/StructureDefinition/eligibility-screening`)).body.entry[0].resource.meta.versionId;
    const versionBefore = await screeningVersion();
    const lab: BundleEntry = {
      fullUrl: 'urn:uuid:rs-enrol-igg',
      resource: {
        resourceType: 'Observation',
        id: 'rs-enrol-igg',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '2465-3' }] },
        subject: { reference: 'urn:uuid:rs-enrol' },
        // Before the screening date (the sample's day 0 is in the future): IgG < 400 mg/dL makes the patient ineligible (E-4).
        effectiveDateTime: new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 10),
        valueQuantity: { value: 350, unit: 'mg/dl' },
      },
      request: { method: 'PUT', url: 'Observation/rs-enrol-igg' },
    };
    await push({ resourceType: 'Bundle', type: 'transaction', entry: [subjectBundle('rs-enrol', {}).entry![0]!, lab] });
    expect(await screeningVersion()).not.toBe(versionBefore);
    const screening = (await app.fetchFhir(`/Observation?subject=Patient/${pseudonym}&_profile=${BASE}/StructureDefinition/eligibility-screening`)).body.entry[0].resource;
    expect(screening.valueCodeableConcept.coding[0].code).toBe('ineligible');
    expect((await subjectsOf(pseudonym))[0]?.status).toBe('on-study');
  });

  it('withdrawal with period.end and off-study become new versions; a replay changes nothing', async () => {
    const pseudonym = await screened('rs-withdraw');
    await push(subjectBundle('rs-withdraw', { status: 'on-study', period: { start: '2030-01-01' } }));
    const withdrawal = subjectBundle('rs-withdraw', { status: 'withdrawn', period: { start: '2030-01-01', end: '2030-07-30' } });
    await push(withdrawal);
    const withdrawn = (await subjectsOf(pseudonym))[0]!;
    expect(withdrawn).toMatchObject({ status: 'withdrawn', period: { start: '2030-01-01', end: '2030-07-30' } });

    const replay = await push(withdrawal);
    expect(replay.entry[1].response.outcome.issue[0].details.text).toBe('Unchanged');
    const replayed = (await subjectsOf(pseudonym))[0]!;
    expect(replayed.meta?.versionId).toBe(withdrawn.meta?.versionId);

    await push(subjectBundle('rs-withdraw', { status: 'off-study', period: { start: '2030-01-01', end: '2030-12-10' } }));
    const offStudy = (await subjectsOf(pseudonym))[0]!;
    expect(offStudy).toMatchObject({ status: 'off-study', period: { end: '2030-12-10' } });
    const history = (await app.fetchFhir(`/ResearchSubject/${researchSubjectId(pseudonym)}/_history`)).body.entry.map((e: { resource: ResearchSubject }) => e.resource.status);
    expect(history).toEqual(['off-study', 'withdrawn', 'on-study', 'potential-candidate']);
  });

  it('matches the study by a reference to a ResearchStudy in the bundle that carries the NCT identifier', async () => {
    const pseudonym = await screened('rs-ref');
    const study: BundleEntry = {
      fullUrl: 'urn:uuid:rs-ref-study',
      resource: { resourceType: 'ResearchStudy', id: 'local-study-7', identifier: [NCT], status: 'active' },
      request: { method: 'PUT', url: 'ResearchStudy/local-study-7' },
    };
    const body = await push(subjectBundle('rs-ref', { status: 'on-study', study: { reference: 'urn:uuid:rs-ref-study' } }, [study]));
    expect(body.entry[2].response.outcome.issue[0].details.text).toMatch(/^Not stored/);
    expect((await subjectsOf(pseudonym))[0]?.status).toBe('on-study');
  });

  it("answers another study's ResearchSubject as not stored, and leaves the subject as it was", async () => {
    const pseudonym = await screened('rs-other');
    const other = subjectBundle('rs-other', { status: 'on-study', study: { identifier: { system: 'https://clinicaltrials.gov', value: 'NCT01234567' } } });
    const body = await push(other);
    expect(body.entry[1].response.status).toBe('200 OK');
    expect(body.entry[1].response.outcome.issue[0].details.text).toMatch(/^Not stored: ResearchSubject is not for NCT04893161/);
    const local = await push(subjectBundle('rs-other', { status: 'on-study', study: { reference: 'ResearchStudy/unknown-local-study' } }));
    expect(local.entry[1].response.outcome.issue[0].details.text).toMatch(/^Not stored/);
    const subjects = await subjectsOf(pseudonym);
    expect(subjects).toHaveLength(1);
    expect(subjects[0]?.status).toBe('potential-candidate');
  });
});
