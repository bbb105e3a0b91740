import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/local-app.js';
import { labBundle } from './support.js';

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app.close();
});

describe('Identical new transactions posted at once (issue 14: 20 of them could all fail with 409)', () => {
  it('of 20, at least one is answered 200 and none 5xx but 503', async () => {
    const body = JSON.stringify(labBundle('same', 6));
    const answers = await Promise.all(Array.from({ length: 20 }, () => app.fetchFhir('', { method: 'POST', body })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
  }, 120_000);
});
