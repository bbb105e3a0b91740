/**
 * DynamoDB call counts of the study store (issue 13): a subject's visit bundle is one batched commit
 * and its whole record one read. Counts, not times: on dynalite with no contention they are exact.
 * FHIR R4 transaction semantics (all or nothing, http://hl7.org/fhir/R4/http.html#transaction) are
 * proven in test/lambdas/commons/store/; this only bounds what they cost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStoreScenario, type StoreScenarioResult } from '../../bench/lib/store-scenario.js';
import { startDynalite, type LocalDynamo } from '../support/dynalite.js';

let local: LocalDynamo;
let current: StoreScenarioResult;
let legacy: StoreScenarioResult;

beforeAll(async () => {
  local = await startDynalite({ prefix: 'calls' });
  current = await runStoreScenario(local.clientConfig, 'current');
  legacy = await runStoreScenario(local.clientConfig, 'legacy');
  console.log(JSON.stringify({ current, legacy }, (k, v: unknown) => (k === 'ms' ? Math.round(v as number) : v)));
}, 120_000);

afterAll(async () => {
  await local.stop();
});

describe('Store call counts (issue 13)', () => {
  it('commits a 50-entry visit bundle in at most 40 calls, a third of the per-resource protocol', () => {
    for (const commit of current.visitCommits) expect(commit.calls).toBeLessThanOrEqual(40);
    const later = (r: StoreScenarioResult): number => r.visitCommits.slice(1).reduce((a, c) => a + c.calls, 0);
    expect(later(current) * 3).toBeLessThanOrEqual(later(legacy));
  });

  it('loads a subject of 8 visits in one Query, with what the per-type searches find', () => {
    expect(current.load.calls).toBe(1);
    expect(current.load.byCommand).toEqual({ QueryCommand: 1 });
    expect(current.load.resources).toBe(legacy.load.resources);
    expect(current.load.resources).toBe(1 + 8 * 48);
  });
});
