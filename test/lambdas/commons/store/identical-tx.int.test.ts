import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStudyStore } from '../../../../lambdas/commons/store/dynamo-study-store.js';
import { startDynalite, type LocalDynamo } from '../../../support/dynalite.js';
import { observation, patient } from './fixtures.js';

let local: LocalDynamo;
let store: DynamoStudyStore;

beforeAll(async () => {
  local = await startDynalite({ prefix: 'identical' });
  store = new DynamoStudyStore({ client: local.documentClient, tableName: local.tables.study });
});

afterAll(async () => {
  await local.stop();
});

describe('DynamoStudyStore: identical new transactions at once (issue 14)', () => {
  it.each([1, 2, 3])('round %i: 20 identical transactions of new resources: at least one commits, and the resources have one version', async (round) => {
    const resources = [patient(`same-${round}`), ...Array.from({ length: 6 }, (_, i) => observation(`same-${round}-o${i}`, `same-${round}`, `2024-0${i + 1}-01`))];
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => store.commit(resources, { atomic: true })));
    const committed = outcomes.filter((o) => o.status === 'fulfilled');
    expect(committed.length).toBeGreaterThan(0);
    expect(await store.history('Patient', `same-${round}`)).toHaveLength(1);
  }, 60_000);
});
