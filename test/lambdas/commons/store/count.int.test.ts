import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStudyStore } from '../../../../lambdas/commons/store/dynamo-study-store.js';
import type { StoreQuery } from '../../../../lambdas/commons/store/port.js';
import { startDynalite, type LocalDynamo } from '../../../support/dynalite.js';
import { LOINC, observation, patient, PROFILE, SNOMED } from './fixtures.js';

let local: LocalDynamo;
let store: DynamoStudyStore;
/** Every command the store sent since the last reset (a wrapper on the client's `send`). */
let sent: unknown[] = [];

beforeAll(async () => {
  local = await startDynalite({ prefix: 'count' });
  const client = DynamoDBDocumentClient.from(local.client, { marshallOptions: { removeUndefinedValues: true } });
  const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
  client.send = ((command: unknown) => {
    sent.push(command);
    return send(command);
  }) as typeof client.send;
  store = new DynamoStudyStore({ client, tableName: local.tables.study });
});

afterAll(async () => {
  await local.stop();
});

/** What search returns over all its pages. */
async function searchAll(query: StoreQuery): Promise<number> {
  let total = 0;
  let cursor: string | undefined;
  do {
    const page = await store.search({ ...query, count: 50, ...(cursor ? { cursor } : {}) });
    total += page.resources.length;
    cursor = page.next;
  } while (cursor);
  return total;
}

const A = { system: LOINC, code: '777-3' };
const B = { system: SNOMED, code: '55561003' };
const withProfile = { meta: { profile: [PROFILE] } };

describe('DynamoStudyStore.count', () => {
  const queries: [string, StoreQuery][] = [
    ['all Observations', { resourceType: 'Observation', count: 10 }],
    ['all Patients', { resourceType: 'Patient', count: 10 }],
    ['a patient', { resourceType: 'Observation', patient: 'c1', count: 10 }],
    ['a patient in a date range', { resourceType: 'Observation', patient: 'c1', date: { ge: '2024-03-01', lt: '2024-06-01' }, count: 10 }],
    ['one code', { resourceType: 'Observation', codes: [A], count: 10 }],
    ['one code of any system', { resourceType: 'Observation', codes: [{ code: A.code }], count: 10 }],
    ['either of two codes (two partitions)', { resourceType: 'Observation', codes: [A, B], count: 10 }],
    ['a profile', { resourceType: 'Observation', profile: PROFILE, count: 10 }],
    ['a date range', { resourceType: 'Observation', date: { gt: '2024-02-01' }, count: 10 }],
    ['a lastUpdated range', { resourceType: 'Observation', lastUpdated: { ge: '2000-01-01' }, count: 10 }],
    ['ids, one of them missing', { resourceType: 'Observation', ids: ['c1-o1', 'c1-o2', 'nobody'], count: 10 }],
    ['a patient and a code (checked on the resource)', { resourceType: 'Observation', patient: 'c1', codes: [B], count: 10 }],
    ['one code and another (checked on the resource)', { resourceType: 'Observation', codes: [A], andCodes: [[B]], count: 10 }],
    ['nothing', { resourceType: 'Observation', codes: [{ system: LOINC, code: 'none' }], count: 10 }],
  ];

  beforeAll(async () => {
    const month = (i: number): string => `2024-${String((i % 12) + 1).padStart(2, '0')}-15`;
    await store.commit([patient('c1'), patient('c2')], { atomic: true });
    await store.commit(
      [
        ...Array.from({ length: 12 }, (_, i) => observation(`c1-o${i}`, 'c1', month(i), i % 3 === 0 ? [A, B] : [A], i % 2 ? withProfile : {})),
        ...Array.from({ length: 7 }, (_, i) => observation(`c2-o${i}`, 'c2', month(i + 5), [B])),
        observation('c2-undated', 'c2', undefined, [A]),
      ],
      { atomic: false },
    );
  });

  it.each(queries)('equals the number of search results: %s', async (_name, query) => {
    expect(await store.count(query)).toBe(await searchAll(query));
  });

  it('does not count old versions after updates that move resources between codes, dates and profiles', async () => {
    await store.commit(
      [
        observation('c1-o1', 'c1', '2023-01-01', [B]),
        observation('c1-o2', 'c1', '2024-04-20', [A], withProfile),
        observation('c2-o0', 'c1', '2024-05-05', [A, B]),
        observation('c2-o1', 'c2', undefined, [A]),
      ],
      { atomic: true },
    );
    expect(await store.count({ resourceType: 'Observation', codes: [A], count: 10 })).toBe(12 - 1 + 1 + 1 + 1);
    for (const [name, query] of queries) {
      expect(await store.count(query), name).toBe(await searchAll(query));
    }
  });

  it('counts 3,000 matches from the index with far fewer calls than reading them', async () => {
    // Patients of one profile: the fewest index entries a resource has, so the 3,000 are written fast.
    const BULK = 'https://example.org/fhir/StructureDefinition/bulk-patient';
    for (let i = 0; i < 3000; i += 500) {
      await store.commit(Array.from({ length: 500 }, (_, j) => patient(`bulk-${i + j}`, { meta: { profile: [BULK] } })), { atomic: true });
    }
    const query: StoreQuery = { resourceType: 'Patient', profile: BULK, count: 1000 };

    sent = [];
    const counted = await store.count(query);
    const countCalls = sent.length;
    const countSelects = sent.map((c) => (c instanceof QueryCommand ? c.input.Select : c?.constructor.name));
    sent = [];
    const read = await searchAll({ ...query, count: 1000 });
    const readCalls = sent.length;

    console.log(`[store] counting 3,000 matches: ${countCalls} DynamoDB call(s); reading them: ${readCalls}`);
    expect(counted).toBe(3000);
    expect(read).toBe(3000);
    // Index entries only: every call is a COUNT query, none reads a resource.
    expect(countSelects.every((s) => s === 'COUNT')).toBe(true);
    expect(countCalls * 100).toBeLessThan(readCalls);
  }, 120_000);
});
