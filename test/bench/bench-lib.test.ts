import { describe, expect, it } from 'vitest';
import { row } from '../../bench/lib/figure.js';
import { labBundle, visitBundle } from '../../bench/lib/generate.js';
import { MemoryIdentityStore, MemoryStudyStore } from '../../bench/lib/memory-store.js';
import { median, quantile } from '../../bench/lib/stats.js';

describe('bench helpers', () => {
  it('computes medians and type-7 quantiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.99)).toBeCloseTo(4.96);
  });

  it('states ratios as times slower than each baseline, for rates and for times', () => {
    const rate = row({ group: 'g', figure: 'f', unit: 'resources/s', samples: [100, 200, 300], baselines: [{ name: 'floor', median: 2000 }], meets: (m) => 2000 / m <= 10 }, true);
    expect(rate.median).toBe(200);
    expect(rate.ratios[0]?.value).toBe(10);
    expect(rate.met).toBe(true);
    const time = row({ group: 'g', figure: 'f', unit: 'ms', samples: [30], baselines: [{ name: 'bare', median: 10 }] }, false);
    expect(time.ratios[0]?.value).toBe(3);
    expect(time.met).toBeUndefined();
  });

  it('generates bundles of the requested size', () => {
    expect(labBundle(1000, 5).entry).toHaveLength(1000);
    expect(visitBundle(0, 0, 50).entry).toHaveLength(50);
  });

  it('keeps what it commits and finds it by patient and code', async () => {
    const store = new MemoryStudyStore();
    const [result] = await store.commit(
      [{ resourceType: 'Observation', id: 'o1', status: 'final', subject: { reference: 'Patient/p1' }, code: { coding: [{ system: 'http://loinc.org', code: '777-3' }] } }],
      { atomic: true },
    );
    expect(result?.status).toBe('created');
    const page = await store.search({ resourceType: 'Observation', patient: 'p1', codes: [{ system: 'http://loinc.org', code: '777-3' }], count: 10 });
    expect(page.resources.map((r) => r.id)).toEqual(['o1']);
    const identity = new MemoryIdentityStore();
    const pseudonym = await identity.pseudonymFor('key');
    expect(await identity.pseudonymFor('key')).toBe(pseudonym);
    expect(await identity.resolve(pseudonym)).toBe('key');
  });
});
