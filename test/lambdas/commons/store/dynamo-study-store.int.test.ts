import type { Observation, Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStudyStore } from '../../../../lambdas/commons/store/dynamo-study-store.js';
import { InvalidQueryError, ResourceTooLargeError } from '../../../../lambdas/commons/store/errors.js';
import type { StoredResource, StoreQuery } from '../../../../lambdas/commons/store/port.js';
import { startDynalite, type LocalDynamo } from '../../../support/dynalite.js';
import { ids, LOINC, observation, patient, PROFILE, scanAll, SNOMED } from './fixtures.js';

let local: LocalDynamo;
let store: DynamoStudyStore;

beforeAll(async () => {
  local = await startDynalite();
  store = new DynamoStudyStore({ client: local.documentClient, tableName: local.tables.study });
});

afterAll(async () => {
  await local.stop();
});

describe('DynamoStudyStore: versions', () => {
  it('creates, reads and vreads a resource with store-assigned meta', async () => {
    // Prepare
    const input = patient('crud-1', { gender: 'female', meta: { versionId: '99', lastUpdated: '2000-01-01T00:00:00Z' } });

    // Act
    const [result] = await store.commit([input], { atomic: true });
    const read = await store.read<Patient>('Patient', 'crud-1');

    // Assess
    expect(result?.status).toBe('created');
    expect(read?.meta.versionId).toBe('1');
    expect(read?.meta.lastUpdated).not.toBe('2000-01-01T00:00:00Z');
    expect(read?.gender).toBe('female');
    expect(await store.vread('Patient', 'crud-1', '1')).toEqual(read);
    expect(await store.vread('Patient', 'crud-1', '2')).toBeUndefined();
    expect(await store.read('Patient', 'missing')).toBeUndefined();
  });

  it('makes no new version for unchanged content, whatever the key order and meta', async () => {
    // Prepare
    await store.commit([patient('same-1', { gender: 'male', birthDate: '1980-01-01' })], { atomic: true });

    // Act
    const [again] = await store.commit(
      [{ birthDate: '1980-01-01', gender: 'male', id: 'same-1', resourceType: 'Patient', meta: { versionId: '7' } }],
      { atomic: false },
    );

    // Assess
    expect(again?.status).toBe('unchanged');
    expect(again?.status !== 'error' && again?.resource.meta.versionId).toBe('1');
    expect(await store.history('Patient', 'same-1')).toHaveLength(1);
  });

  it('makes a new version for changed content and keeps the history newest first', async () => {
    // Prepare
    await store.commit([patient('hist-1', { gender: 'male' })], { atomic: true });

    // Act
    const [second] = await store.commit([patient('hist-1', { gender: 'female' })], { atomic: true });
    const [third] = await store.commit([patient('hist-1', { gender: 'other' })], { atomic: false });
    const history = await store.history<Patient>('Patient', 'hist-1');

    // Assess
    expect(second?.status).toBe('updated');
    expect(third?.status).toBe('updated');
    expect(history.map((p) => [p.meta.versionId, p.gender])).toEqual([
      ['3', 'other'],
      ['2', 'female'],
      ['1', 'male'],
    ]);
    expect(history[0]!.meta.lastUpdated >= history[1]!.meta.lastUpdated).toBe(true);
    expect((await store.vread<Patient>('Patient', 'hist-1', '2'))?.gender).toBe('female');
  });

  it('gzips a large resource and rejects one that cannot fit an item', async () => {
    // Prepare
    const big = observation('big-1', 'p-big', '2019-01-01', undefined, { valueString: 'lupus nephritis '.repeat(40_000) });
    const random = Array.from({ length: 600_000 }, () => String.fromCharCode(33 + Math.floor(Math.random() * 90))).join('');
    const huge = observation('huge-1', 'p-big', '2019-01-01', undefined, { valueString: random });

    // Act
    const results = await store.commit([big, huge], { atomic: false });

    // Assess
    expect(results[0]?.status).toBe('created');
    expect((await store.read<Observation>('Observation', 'big-1'))?.valueString).toHaveLength(640_000);
    expect(results[1]?.status).toBe('error');
    expect(results[1]?.status === 'error' && results[1].error).toBeInstanceOf(ResourceTooLargeError);
    await expect(store.commit([huge], { atomic: true })).rejects.toThrow(ResourceTooLargeError);
    expect(await store.read('Observation', 'huge-1')).toBeUndefined();
  });

  it('reports a failed batch entry as an error while the others land', async () => {
    // Prepare
    const bad = { resourceType: 'Observation', id: 'not#valid' } as Observation & { id: string };

    // Act
    const results = await store.commit([observation('batch-ok-1', 'p-b', '2019-01-01'), bad, observation('batch-ok-2', 'p-b', '2019-01-02')], {
      atomic: false,
    });

    // Assess
    expect(results.map((r) => r.status)).toEqual(['created', 'error', 'created']);
    expect(await store.read('Observation', 'batch-ok-2')).toBeDefined();
  });
});

describe('DynamoStudyStore: search', () => {
  const P = 'S-SEARCH00001';
  const Q = 'S-SEARCH00002';

  beforeAll(async () => {
    await store.commit(
      [
        patient(P),
        patient(Q),
        observation('s-1', P, '2021-01-10T08:00:00Z', [{ system: LOINC, code: '718-7' }]),
        observation('s-2', P, '2021-02-10T08:00:00Z', [
          { system: LOINC, code: '2160-0' },
          { system: SNOMED, code: '70901006' },
        ]),
        observation('s-3', P, '2021-03-10', [{ system: LOINC, code: '718-7' }], { meta: { profile: [PROFILE] } }),
        observation('s-4', Q, '2021-02-10T08:00:00+02:00', [{ system: LOINC, code: '718-7' }], { meta: { profile: [PROFILE] } }),
        observation('s-5', Q, undefined, [{ code: 'local-code' }]),
      ],
      { atomic: true },
    );
  });

  const search = async (query: Omit<StoreQuery, 'resourceType' | 'count'> & { count?: number }): Promise<string[]> =>
    ids((await store.search({ resourceType: 'Observation', count: 100, ...query })).resources);

  it('finds a patient compartment, the Patient itself included', async () => {
    // Act
    const observations = await search({ patient: P });
    const patients = ids((await store.search({ resourceType: 'Patient', patient: P, count: 10 })).resources);

    // Assess
    expect(observations).toEqual(['s-1', 's-2', 's-3']);
    expect(patients).toEqual([P]);
  });

  it('finds by any coding, with or without a system', async () => {
    // Assess
    expect(await search({ codes: [{ system: SNOMED, code: '70901006' }] })).toEqual(['s-2']);
    expect(await search({ codes: [{ system: LOINC, code: '2160-0' }] })).toEqual(['s-2']);
    expect(await search({ codes: [{ code: '718-7' }] })).toEqual(['s-1', 's-4', 's-3']);
    expect(await search({ codes: [{ code: 'local-code' }] })).toEqual(['s-5']);
    expect(await search({ codes: [{ system: LOINC, code: 'local-code' }] })).toEqual([]);
    expect(
      await search({
        codes: [
          { system: SNOMED, code: '70901006' },
          { system: LOINC, code: '2160-0' },
          { system: LOINC, code: '718-7' },
        ],
      }),
    ).toEqual(['s-1', 's-4', 's-2', 's-3']);
  });

  it('finds by date ranges with ge, gt, le and lt', async () => {
    // Assess: s-4 is 2021-02-10T06:00Z, s-2 2021-02-10T08:00Z
    expect(await search({ date: { ge: '2021-02-10T08:00:00Z' } })).toEqual(['s-2', 's-3']);
    expect(await search({ date: { gt: '2021-02-10T08:00:00Z' } })).toEqual(['s-3']);
    expect(await search({ date: { ge: '2021', le: '2021-02-10T06:00:00Z' } })).toEqual(['s-1', 's-4']);
    expect(await search({ date: { ge: '2021', lt: '2021-02-10T06:00:00Z' } })).toEqual(['s-1']);
    expect(await search({ date: { lt: '2021-02-10T06:00:00Z' } })).toContain('s-1');
    expect(await search({ date: { lt: '2021-02-10T06:00:00Z' } })).not.toContain('s-4');
    expect(await search({ date: { ge: '2021-02', lt: '2021-03' } })).toEqual(['s-4', 's-2']);
    expect(await search({ date: { gt: '2020', le: '2021-02' } })).toEqual(['s-1', 's-4', 's-2']);
    expect(await search({ patient: P, date: { gt: '2021-01-31', le: '2021-03-10' } })).toEqual(['s-2', 's-3']);
    expect(await search({ codes: [{ code: '718-7' }], date: { ge: '2021-02-01' } })).toEqual(['s-4', 's-3']);
    await expect(search({ date: { ge: 'yesterday' } })).rejects.toThrow(InvalidQueryError);
  });

  it('finds by profile, ids and lastUpdated', async () => {
    // Prepare
    const s1 = await store.read('Observation', 's-1');
    const lastUpdated = s1!.meta.lastUpdated;

    // Assess
    expect(await search({ profile: PROFILE })).toEqual(['s-4', 's-3']);
    expect(await search({ profile: PROFILE, patient: Q })).toEqual(['s-4']);
    expect(await search({ ids: ['s-3', 's-1', 'nope'] })).toEqual(['s-1', 's-3']);
    expect(await search({ ids: ['s-3', 's-1'], codes: [{ code: '718-7' }], date: { lt: '2021-03-01' } })).toEqual(['s-1']);
    expect((await search({ lastUpdated: { ge: lastUpdated, le: lastUpdated } })).sort()).toEqual(['s-1', 's-2', 's-3', 's-4', 's-5']);
    expect(await search({ lastUpdated: { gt: lastUpdated } })).not.toContain('s-1');
  });

  it('drops stale index entries once the resource no longer matches', async () => {
    // Prepare
    await store.commit([observation('stale-1', 'S-STALE', '2020-05-05', [{ system: LOINC, code: 'old-code' }])], { atomic: true });

    // Act
    await store.commit([observation('stale-1', 'S-STALE', '2020-06-06', [{ system: LOINC, code: 'new-code' }])], { atomic: true });

    // Assess
    expect(await search({ codes: [{ code: 'old-code' }] })).toEqual([]);
    expect(await search({ codes: [{ code: 'new-code' }] })).toEqual(['stale-1']);
    expect(await search({ patient: 'S-STALE' })).toEqual(['stale-1']);
    expect(await search({ date: { ge: '2020-05-01', lt: '2020-06-01' } })).toEqual([]);
    const items = await scanAll(local.documentClient, local.tables.study);
    expect(items.filter((i) => String(i.pk).includes('old-code'))).toHaveLength(0);
  });

  it('pages through results with no duplicates and no misses', async () => {
    // Prepare: 57 observations, some on the same instant, a third of them updated once
    const patientId = 'S-PAGING00001';
    const all = Array.from({ length: 57 }, (_, i) =>
      observation(`pg-${String(i).padStart(3, '0')}`, patientId, `2022-01-${String(1 + (i % 20)).padStart(2, '0')}T10:00:00Z`),
    );
    await store.commit(all, { atomic: true });
    await store.commit(
      all.filter((_, i) => i % 3 === 0).map((o) => ({ ...o, status: 'amended' as const })),
      { atomic: false },
    );

    for (const query of [{ patient: patientId }, { date: { ge: '2022-01-01', lt: '2022-02-01' } }, { ids: all.map((o) => o.id) }]) {
      // Act
      const seen: StoredResource[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.search({ resourceType: 'Observation', count: 10, ...query, ...(cursor ? { cursor } : {}) });
        seen.push(...page.resources);
        cursor = page.next;
        pages++;
      } while (cursor);

      // Assess
      expect(pages).toBe(6);
      expect(new Set(ids(seen)).size).toBe(57);
      expect(ids(seen).sort()).toEqual(all.map((o) => o.id).sort());
    }
  });
});
