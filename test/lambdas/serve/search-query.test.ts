import { OperationOutcomeError } from '@medplum/core';
import { describe, expect, it } from 'vitest';
import { toStoreQuery } from '../../../lambdas/serve/core/search-query.js';

describe('Function: toStoreQuery', () => {
  it('reads patient, code tokens, profile and count', () => {
    const q = toStoreQuery('Observation', {
      patient: 'Patient/S-ABC',
      code: 'http://loinc.org|777-3,6690-2',
      _profile: 'https://belimumab-sle.example.org/fhir/StructureDefinition/study-lab-observation',
      _count: '10',
    });
    expect(q).toEqual({
      resourceType: 'Observation',
      count: 10,
      patient: 'S-ABC',
      codes: [{ system: 'http://loinc.org', code: '777-3' }, { code: '6690-2' }],
      profile: 'https://belimumab-sle.example.org/fhir/StructureDefinition/study-lab-observation',
    });
  });

  it('turns a day into the interval it covers for eq', () => {
    expect(toStoreQuery('Observation', { date: '2015-03-12' }).date).toEqual({
      ge: '2015-03-12T00:00:00.000Z',
      lt: '2015-03-13T00:00:00.000Z',
    });
  });

  it('reads prefixes: gt a month starts after it, le a year ends with it', () => {
    expect(toStoreQuery('Observation', { date: ['gt2015-03', 'le2016'] }).date).toEqual({
      ge: '2015-04-01T00:00:00.000Z',
      lt: '2017-01-01T00:00:00.000Z',
    });
  });

  it('keeps the narrower bound when two filters overlap', () => {
    expect(toStoreQuery('Observation', { date: ['ge2015-01-01', 'ge2015-06-01'] }).date).toEqual({ ge: '2015-06-01T00:00:00.000Z' });
  });

  it('reads _lastUpdated with a time zone', () => {
    expect(toStoreQuery('Observation', { _lastUpdated: 'ge2020-01-01T10:00:00+02:00' }).lastUpdated).toEqual({ ge: '2020-01-01T08:00:00.000Z' });
  });

  it.each([
    [{ foo: 'bar' }, /not supported/],
    [{ date: 'ap2015' }, /not supported/],
    [{ date: 'yesterday' }, /Invalid date/],
    [{ _count: '0' }, /_count/],
    [{ _count: '5000' }, /_count/],
    [{ patient: "x' OR 1=1" }, /Invalid patient/],
  ])('refuses %j with a 400 outcome', (query, message) => {
    expect(() => toStoreQuery('Observation', query)).toThrow(OperationOutcomeError);
    expect(() => toStoreQuery('Observation', query)).toThrow(message);
  });
});
