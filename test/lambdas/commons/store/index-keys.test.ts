import type { Encounter, MedicationRequest, ResearchSubject } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import {
  indexEntries,
  indexFacts,
  instantRange,
  matchesQuery,
  parseIndexSk,
  planSearch,
  sortKeyBounds,
} from '../../../../lambdas/commons/store/index-keys.js';
import { InvalidQueryError } from '../../../../lambdas/commons/store/errors.js';
import { LOINC, observation, patient, PROFILE } from './fixtures.js';

describe('Function: indexFacts', () => {
  it('reads patient, codings, date and profiles of an Observation', () => {
    // Prepare
    const obs = observation('o1', 'S-1', '2021-03-04T10:00:00+02:00', [{ system: LOINC, code: '718-7' }, { code: 'x' }, { system: LOINC, code: '718-7' }], {
      meta: { profile: [PROFILE], lastUpdated: '2024-01-01T00:00:00Z' },
    });

    // Act
    const facts = indexFacts(obs);

    // Assess
    expect(facts).toEqual({
      patient: 'S-1',
      codings: [{ system: LOINC, code: '718-7' }, { code: 'x' }],
      date: '2021-03-04T08:00:00.000Z',
      profiles: [PROFILE],
      lastUpdated: '2024-01-01T00:00:00.000Z',
      status: 'final',
    });
  });

  it('puts a Patient in its own compartment and follows each type’s date and code elements', () => {
    // Prepare
    const encounter: Encounter = {
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      type: [{ coding: [{ system: 'urn:t', code: 'infusion' }] }],
      subject: { reference: 'https://fhir.example.org/Patient/S-2/_history/3' },
      period: { start: '2022-05' },
    };
    const request: MedicationRequest = {
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/S-3' },
      medicationCodeableConcept: { coding: [{ system: 'http://www.whocc.no/atc', code: 'L04AA26' }] },
      authoredOn: '2022-06-01',
    };
    const subject: ResearchSubject = {
      resourceType: 'ResearchSubject',
      status: 'on-study',
      study: { reference: 'ResearchStudy/NCT04893161' },
      individual: { reference: 'Patient/S-4' },
      period: { start: '2022-07-01T09:00:00Z' },
    };

    // Assess
    expect(indexFacts(patient('S-1')).patient).toBe('S-1');
    expect(indexFacts(patient('S-1')).date).toBeUndefined();
    expect(indexFacts(encounter)).toMatchObject({ patient: 'S-2', date: '2022-05-01T00:00:00.000Z' });
    expect(indexFacts(encounter).codings.map((c) => c.code)).toEqual(['infusion', 'AMB']);
    expect(indexFacts(request)).toMatchObject({ patient: 'S-3', date: '2022-06-01T00:00:00.000Z', codings: [{ code: 'L04AA26' }] });
    expect(indexFacts(subject)).toMatchObject({ patient: 'S-4', date: '2022-07-01T09:00:00.000Z' });
  });
});

describe('Function: instantRange', () => {
  it('returns the instants a partial date covers', () => {
    expect(instantRange('2021')).toEqual({ start: '2021-01-01T00:00:00.000Z', end: '2021-12-31T23:59:59.999Z' });
    expect(instantRange('2021-02')).toEqual({ start: '2021-02-01T00:00:00.000Z', end: '2021-02-28T23:59:59.999Z' });
    expect(instantRange('2021-02-03')).toEqual({ start: '2021-02-03T00:00:00.000Z', end: '2021-02-03T23:59:59.999Z' });
    expect(instantRange('2021-02-03T04:05:06Z')).toEqual({ start: '2021-02-03T04:05:06.000Z', end: '2021-02-03T04:05:06.999Z' });
    expect(instantRange('2021-02-03T04:05:06.1234-01:30')?.start).toBe('2021-02-03T05:35:06.123Z');
    expect(instantRange('2021-02-30')).toBeUndefined();
    expect(instantRange('tomorrow')).toBeUndefined();
  });
});

describe('Function: sortKeyBounds', () => {
  it('turns ge/gt/le/lt into one inclusive key range', () => {
    // Prepare
    const at = (instant: string, id: string): string => `${instant}#${id}#aaaaaaaaaaaaaaaaaaaa`;
    const key = at('2021-02-03T00:00:00.000Z', 'x');
    const inBounds = (range: Parameters<typeof sortKeyBounds>[0], sk: string, after?: string): boolean => {
      const b = sortKeyBounds(range, after);
      return b !== undefined && sk >= b.lo && sk <= b.hi;
    };

    // Assess
    expect(inBounds({ ge: '2021-02-03' }, key)).toBe(true);
    expect(inBounds({ gt: '2021-02-03T00:00:00Z' }, key)).toBe(false);
    expect(inBounds({ gt: '2021-02-02' }, key)).toBe(true);
    expect(inBounds({ le: '2021-02-03T00:00:00Z' }, key)).toBe(true);
    expect(inBounds({ lt: '2021-02-03T00:00:00Z' }, key)).toBe(false);
    expect(inBounds({ le: '2021-02' }, key)).toBe(true);
    expect(inBounds({ ge: '2000' }, `#x#aaaaaaaaaaaaaaaaaaaa`)).toBe(false);
    expect(inBounds(undefined, `#x#aaaaaaaaaaaaaaaaaaaa`)).toBe(true);
    expect(inBounds(undefined, key, key)).toBe(false);
    expect(inBounds(undefined, at('2021-02-03T00:00:00.000Z', 'y'), key)).toBe(true);
    expect(sortKeyBounds({ ge: '2022', lt: '2021' })).toBeUndefined();
    expect(() => sortKeyBounds({ ge: 'now' })).toThrow(InvalidQueryError);
  });
});

describe('Function: planSearch', () => {
  it('drives by ids, then patient, codes, profile, date, lastUpdated', () => {
    expect(planSearch({ resourceType: 'Observation', count: 1, ids: ['b', 'a', 'b'], patient: 'S-1' })).toEqual({ kind: 'ids', ids: ['a', 'b'] });
    expect(planSearch({ resourceType: 'Observation', count: 1, patient: 'S-1', codes: [{ code: 'x' }] })).toMatchObject({ name: 'patient' });
    expect(planSearch({ resourceType: 'Observation', count: 1, codes: [{ code: 'x' }, { system: 's', code: 'x' }] })).toMatchObject({
      name: 'code',
      partitions: ['IX#Observation#CA#x', 'IX#Observation#CS#s|x'],
    });
    expect(planSearch({ resourceType: 'Observation', count: 1, profile: PROFILE, date: { ge: '2020' } })).toMatchObject({ name: 'profile', range: { ge: '2020' } });
    expect(planSearch({ resourceType: 'Observation', count: 1, date: { ge: '2020' }, lastUpdated: { ge: '2024' } })).toMatchObject({ name: 'date' });
    expect(planSearch({ resourceType: 'Observation', count: 1, lastUpdated: { ge: '2024' } })).toMatchObject({ name: 'lastUpdated', range: { ge: '2024' } });
  });
});

describe('Function: indexEntries', () => {
  it('writes one entry per coding and one any-system entry per code, all naming the transaction', () => {
    // Prepare
    const facts = indexFacts(observation('o1', 'S-1', '2021-01-01', [{ system: LOINC, code: 'a' }, { system: 'urn:x', code: 'a' }]));

    // Act
    const entries = indexEntries('Observation', 'o1', 'txtxtxtxtxtxtxtxtxtx', facts);

    // Assess
    expect(entries.map((e) => e.pk).sort()).toEqual([
      'IX#Observation#CA#a',
      `IX#Observation#CS#${encodeURIComponent(LOINC)}|a`,
      'IX#Observation#CS#urn%3Ax|a',
      'IX#Observation#DT',
      'IX#Observation#PT#S-1',
      'IX#Observation#ST#final',
    ]);
    expect(entries.every((e) => parseIndexSk(e.sk).id === 'o1' && parseIndexSk(e.sk).tx === 'txtxtxtxtxtxtxtxtxtx')).toBe(true);
  });

  it('keeps a status in its own key space: a code equal to a status is not found by status, nor the status by code', () => {
    const obs = observation('o1', 'S-1', '2021-01-01', [{ code: 'final' }]);
    const entries = indexEntries('Observation', 'o1', 'txtxtxtxtxtxtxtxtxtx', indexFacts(obs)).map((e) => e.pk);
    expect(entries).toContain('IX#Observation#ST#final');
    expect(entries).toContain('IX#Observation#CA#final');
    expect(planSearch({ resourceType: 'Observation', count: 1, statuses: ['final', 'amended'] })).toEqual({
      kind: 'index',
      name: 'status',
      partitions: ['IX#Observation#ST#final', 'IX#Observation#ST#amended'],
      range: undefined,
    });
    const coded = observation('o2', 'S-1', '2021-01-01', [{ code: 'amended' }]);
    expect(matchesQuery(coded, { resourceType: 'Observation', count: 1, statuses: ['amended'] })).toBe(false);
    expect(matchesQuery(coded, { resourceType: 'Observation', count: 1, statuses: ['final', 'amended'] })).toBe(true);
    expect(matchesQuery(coded, { resourceType: 'Observation', count: 1, codes: [{ code: 'final' }] })).toBe(false);
  });

  it('indexes the targets of a Provenance, versions dropped, for _revinclude', () => {
    const provenance = {
      resourceType: 'Provenance' as const,
      id: 'pv1',
      recorded: '2024-01-01T00:00:00Z',
      target: [{ reference: 'Observation/o1/_history/2' }, { reference: 'Patient/S-1' }, { reference: 'https://elsewhere.example/Observation/x' }],
      agent: [{ who: { display: 'lis' } }],
    };
    const facts = indexFacts(provenance);
    expect(facts.targets).toEqual(['Observation/o1', 'Patient/S-1']);
    expect(indexEntries('Provenance', 'pv1', 'txtxtxtxtxtxtxtxtxtx', facts).map((e) => e.pk)).toContain('IX#Provenance#TG#Observation%2Fo1');
    expect(planSearch({ resourceType: 'Provenance', count: 1, targets: ['Observation/o1'] })).toMatchObject({ name: 'target', partitions: ['IX#Provenance#TG#Observation%2Fo1'] });
    expect(matchesQuery(provenance, { resourceType: 'Provenance', count: 1, targets: ['Observation/o2', 'Patient/S-1'] })).toBe(true);
    expect(matchesQuery(provenance, { resourceType: 'Provenance', count: 1, targets: ['Observation/o2'] })).toBe(false);
    // Only a Provenance's targets: an Observation's references are not reverse-indexed.
    expect(indexFacts(observation('o1', 'S-1', '2021-01-01')).targets).toBeUndefined();
  });

  it('re-checks every filter on the resource', () => {
    const obs = observation('o1', 'S-1', '2021-01-01', [{ system: LOINC, code: 'a' }]);
    expect(matchesQuery(obs, { resourceType: 'Observation', count: 1, patient: 'S-1', codes: [{ code: 'a' }], date: { ge: '2021' } })).toBe(true);
    expect(matchesQuery(obs, { resourceType: 'Observation', count: 1, codes: [{ system: 'urn:other', code: 'a' }] })).toBe(false);
    expect(matchesQuery(obs, { resourceType: 'Observation', count: 1, date: { gt: '2021-01-01' } })).toBe(false);
    expect(matchesQuery(obs, { resourceType: 'Condition', count: 1 })).toBe(false);
  });
});
