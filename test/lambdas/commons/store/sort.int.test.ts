/**
 * `_sort` in the store (issue 15): a search comes in its index's order, ascending or descending
 * (a DynamoDB Query with ScanIndexForward false), page after page through the cursor, several
 * partitions merged in that order; a sort the index does not keep is refused, never half-done.
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStudyStore } from '../../../../lambdas/commons/store/dynamo-study-store.js';
import { InvalidQueryError } from '../../../../lambdas/commons/store/errors.js';
import type { StoredResource, StoreQuery } from '../../../../lambdas/commons/store/port.js';
import { startDynalite, type LocalDynamo } from '../../../support/dynalite.js';
import { ids, LOINC, observation, SNOMED } from './fixtures.js';

let local: LocalDynamo;
let store: DynamoStudyStore;
let now = Date.parse('2026-01-01T00:00:00.000Z');

const A = { system: LOINC, code: '777-3' };
const B = { system: SNOMED, code: '55561003' };
/** Effective dates, not in id or write order; `s-none` has none. */
const EFFECTIVE: Record<string, string | undefined> = {
  's-1': '2024-05-01',
  's-2': '2024-01-15',
  's-3': '2024-09-30T08:00:00Z',
  's-4': '2024-03-02',
  's-5': '2024-07-07',
  's-6': '2023-12-31',
  's-none': undefined,
};

beforeAll(async () => {
  local = await startDynalite({ prefix: 'sort' });
  const client = DynamoDBDocumentClient.from(local.client, { marshallOptions: { removeUndefinedValues: true } });
  // Each commit a second later than the last: lastUpdated is the write order.
  store = new DynamoStudyStore({ client, tableName: local.tables.study, clock: () => new Date((now += 1000)) });
  for (const [i, [id, effective]] of Object.entries(EFFECTIVE).entries()) {
    await store.commit([observation(id, 'sorted', effective, [i % 2 === 0 ? A : B])], { atomic: true });
  }
  // A new version of the first one written: it moves to the end of the lastUpdated order, and its
  // first version's entry there must not show.
  await store.commit([observation('s-1', 'sorted', EFFECTIVE['s-1'], [A], { status: 'amended' })], { atomic: true });
});

afterAll(async () => {
  await local.stop();
});

/** Every page of a search, `count` a page. */
async function searchAll(query: Omit<StoreQuery, 'count'>, count = 2): Promise<StoredResource[]> {
  const out: StoredResource[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.search({ ...query, count, ...(cursor ? { cursor } : {}) });
    out.push(...page.resources);
    cursor = page.next;
  } while (cursor);
  return out;
}

const byDate = Object.keys(EFFECTIVE)
  .filter((id) => EFFECTIVE[id] !== undefined)
  .sort((a, b) => Date.parse(EFFECTIVE[a]!) - Date.parse(EFFECTIVE[b]!));

describe('DynamoStudyStore search sorted', () => {
  it('pages a patient by clinical date, ascending and descending, the dateless one at the low end', async () => {
    const ascending = await searchAll({ resourceType: 'Observation', patient: 'sorted', sort: { by: 'date', descending: false } });
    expect(ids(ascending)).toEqual(['s-none', ...byDate]);
    const descending = await searchAll({ resourceType: 'Observation', patient: 'sorted', sort: { by: 'date', descending: true } });
    expect(ids(descending)).toEqual([...byDate].reverse().concat('s-none'));
  });

  it('merges two code partitions in descending order, within a date range', async () => {
    const found = await searchAll({ resourceType: 'Observation', codes: [A, B], date: { ge: '2024-01-01' }, sort: { by: 'date', descending: true } }, 3);
    expect(ids(found)).toEqual(byDate.filter((id) => id !== 's-6').reverse());
  });

  it('pages the whole type by lastUpdated descending: newest first, each resource once at its current version', async () => {
    const found = await searchAll({ resourceType: 'Observation', sort: { by: 'lastUpdated', descending: true } });
    expect(ids(found)).toEqual(['s-1', 's-none', 's-6', 's-5', 's-4', 's-3', 's-2']);
    expect(found[0]!.meta.versionId).toBe('2');
    const ascending = await searchAll({ resourceType: 'Observation', sort: { by: 'lastUpdated', descending: false } });
    expect(ids(ascending)).toEqual(ids(found).reverse());
  });

  it('refuses a sort its index does not keep, and a cursor of the other direction', async () => {
    await expect(store.search({ resourceType: 'Observation', patient: 'sorted', count: 2, sort: { by: 'lastUpdated', descending: true } })).rejects.toThrow(InvalidQueryError);
    await expect(store.search({ resourceType: 'Observation', count: 2, sort: { by: 'date', descending: false } })).rejects.toThrow(InvalidQueryError);
    const first = await store.search({ resourceType: 'Observation', patient: 'sorted', count: 2, sort: { by: 'date', descending: false } });
    await expect(store.search({ resourceType: 'Observation', patient: 'sorted', count: 2, cursor: first.next!, sort: { by: 'date', descending: true } })).rejects.toThrow(InvalidQueryError);
  });
});
