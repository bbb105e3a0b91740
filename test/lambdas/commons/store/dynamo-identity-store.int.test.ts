import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoIdentityStore, randomPseudonym } from '../../../../lambdas/commons/store/dynamo-identity-store.js';
import { startDynalite, type LocalDynamo } from '../../../support/dynalite.js';
import { scanAll } from './fixtures.js';

let local: LocalDynamo;

beforeAll(async () => {
  local = await startDynalite();
});

afterAll(async () => {
  await local.stop();
});

describe('DynamoIdentityStore', () => {
  it('creates a random pseudonym on first sight and returns it afterwards', async () => {
    // Prepare
    const identity = new DynamoIdentityStore({ client: local.client, tableName: local.tables.identity });

    // Act
    const first = await identity.pseudonymFor('HOSP-0001');
    const again = await identity.pseudonymFor('HOSP-0001');
    const other = await identity.pseudonymFor('HOSP-0002');

    // Assess
    expect(first).toMatch(/^S-[A-Z2-7]{12}$/);
    expect(again).toBe(first);
    expect(other).not.toBe(first);
    expect(await identity.resolve(first)).toBe('HOSP-0001');
    expect(await identity.resolve('S-AAAAAAAAAAAA')).toBeUndefined();
  });

  it('gives 20 concurrent callers the same pseudonym and leaves no unused one behind', async () => {
    // Prepare
    const stores = Array.from({ length: 20 }, () => new DynamoIdentityStore({ client: local.documentClient, tableName: local.tables.identity }));

    // Act
    const pseudonyms = await Promise.all(stores.map((s) => s.pseudonymFor('HOSP-RACE')));

    // Assess
    expect(new Set(pseudonyms).size).toBe(1);
    const items = await scanAll(local.documentClient, local.tables.identity);
    expect(items.filter((i) => i.hospitalKey === 'HOSP-RACE')).toHaveLength(1);
    expect(await stores[0]!.resolve(pseudonyms[0]!)).toBe('HOSP-RACE');
  });

  it('draws again when a pseudonym is already taken', async () => {
    // Prepare
    const taken = await new DynamoIdentityStore({ client: local.client, tableName: local.tables.identity }).pseudonymFor('HOSP-TAKEN');
    const draws = [taken, 'S-FRESHFRESH23'];
    const identity = new DynamoIdentityStore({ client: local.client, tableName: local.tables.identity, newPseudonym: () => draws.shift()! });

    // Act
    const pseudonym = await identity.pseudonymFor('HOSP-NEW');

    // Assess
    expect(pseudonym).toBe('S-FRESHFRESH23');
    expect(await identity.resolve(taken)).toBe('HOSP-TAKEN');
  });

  it('makes pseudonyms that do not repeat', () => {
    // Act
    const many = new Set(Array.from({ length: 10_000 }, randomPseudonym));

    // Assess
    expect(many.size).toBe(10_000);
  });
});
