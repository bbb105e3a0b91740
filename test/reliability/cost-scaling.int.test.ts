/**
 * Cost scaling (issue 14): for each hostile shape a sender can give a body, bodies of about 1 kB,
 * 10 kB, 100 kB and 1 MB go through the local layer. The time and the peak heap per byte of the
 * largest must stay within a small factor of the smallest, and of a valid bundle of the same size
 * sent in the same run: ratios, never absolute times, so a loaded machine slows both sides alike.
 * Every hostile body is refused with a 4xx OperationOutcome and nothing of it is stored.
 *
 * Before the fix a 100 kB transaction whose Observation.code was a string took 77-93 s to be refused
 * (an issue per character), `[` x 5000 answered 500 (recursion in the syntax diagnostics), and an
 * Observation with 100,000 codings wrote 200,000 index items.
 */
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Bundle, BundleEntry, Observation } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../lambdas/commons/limits.js';
import { startTestApp, type TestApp } from '../support/local-app.js';
import { labBundle, printSummary, snapshotDiff, snapshotStore, type StoreSnapshot } from './support.js';

const SMALL = 1_000;
const LARGE = 1_000_000;
const SIZES = [SMALL, 10_000, 100_000, LARGE] as const;
/** Largest per-byte cost of the 1 MB body over the 1 kB body (fixed costs make the ratio small when cost is linear). */
const MAX_PER_BYTE_GROWTH = 3;
/** Largest time of a hostile 1 MB body over a valid 1 MB bundle's (the hostile one is refused, so it should cost less). */
const MAX_OVER_VALID = 3;
/**
 * Largest peak heap of a hostile 1 MB body over a valid one's: 1 MB of `{}` items is 300,000 objects
 * once parsed, where a valid bundle of that size is mostly long strings, so JSON.parse alone makes this
 * ratio about 2 (linear all the same).
 */
const MAX_HEAP_OVER_VALID = 4;
/** Tries per measurement; the least is kept (noise only ever adds). */
const TRIES = 2;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let app: TestApp;
let before: StoreSnapshot;

interface Sent {
  readonly status: number;
  readonly body: any;
}

/** A hostile shape: builds a request of about `size` bytes. */
interface Shape {
  readonly name: string;
  readonly send: (size: number) => Promise<Sent>;
  /** Sizes at which the request is not hostile and may be answered 2xx. */
  readonly mayAnswer?: (size: number) => boolean;
}

const post = (body: string): Promise<Sent> => app.fetchFhir('', { method: 'POST', body });

/** Entries per body: enough to be a real transaction, few enough to stay under MAX_ENTRIES. */
const entriesFor = (size: number): number => Math.max(1, Math.min(50, Math.floor(size / 2_000)));

/**
 * A transaction of one Patient and `entriesFor(size)` lab Observations, each made hostile by `spoil`
 * with a payload of the length that brings the body to about `size` bytes.
 */
function transaction(size: number, spoil: (o: Record<string, unknown>, payload: number, i: number) => void): string {
  const n = entriesFor(size);
  const bundle = labBundle(`cost-${randomUUID()}`, n);
  const overhead = JSON.stringify(bundle).length;
  const payload = Math.max(1, Math.floor((size - overhead) / n));
  bundle.entry!.slice(1).forEach((e, i) => spoil(e.resource as unknown as Record<string, unknown>, payload, i));
  return JSON.stringify(bundle);
}

const SHAPES: readonly Shape[] = [
  { name: 'string where an object belongs', send: (size) => post(transaction(size, (o, n) => (o.code = 'x'.repeat(n)))) },
  {
    name: 'object where a string belongs',
    send: (size) => post(transaction(size, (o, n) => (o.status = Object.fromEntries(Array.from({ length: Math.max(1, Math.floor(n / 12)) }, (_, k) => [`k${k}`, 1]))))),
  },
  // Items that are empty objects, so that the body is refused at every size: by validation while the
  // array is short, by MAX_ARRAY_ITEMS once it is long.
  { name: 'long arrays', send: (size) => post(transaction(size, (o, n) => (o.category = Array.from({ length: Math.max(1, Math.floor(n / 3)) }, () => ({}))))) },
  {
    // Codes with a leading space (not a FHIR code): refused by validation while few, by the limits once many.
    name: 'many codings',
    send: (size) =>
      post(transaction(size, (o, n) => (o.code = { coding: Array.from({ length: Math.max(2, Math.floor(n / 42)) }, (_, k) => ({ system: 'http://loinc.org', code: ` ${k}` })) }))),
  },
  { name: 'deep nesting (invalid JSON)', send: (size) => post('['.repeat(size)) },
  {
    name: 'deep nesting (valid JSON)',
    send: (size) => {
      const depth = Math.floor((size - 60) / 2);
      return post(`{"resourceType":"Bundle","type":"transaction","entry":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    },
  },
  {
    name: 'huge numbers',
    send: (size) => post(transaction(size, (o, n) => (o.valueQuantity = { value: `@@${Math.max(400, n)}@@`, unit: 'g/dL' })).replace(/"@@(\d+)@@"/g, (_m, n: string) => '9'.repeat(Number(n)))),
  },
  { name: 'long ids', send: (size) => post(transaction(size, (o, n) => (o.id = 'a'.repeat(Math.max(65, n))))) },
  // A GET stores nothing: a query string within MAX_QUERY_CHARS may well be answered 200.
  { name: 'long query strings', send: (size) => app.fetchFhir(`/Observation?code=${'7'.repeat(size)}`), mayAnswer: (size) => size <= DEFAULT_LIMITS.MAX_QUERY_CHARS },
];

/** A valid transaction of about `size` bytes: lab Observations padded with a note. */
function validBundle(size: number): string {
  return transaction(size, (o, n) => {
    (o as unknown as Observation).note = [{ text: 'lorem ipsum '.repeat(Math.max(1, Math.floor(n / 12))) }];
  });
}

interface Cost {
  readonly ms: number;
  readonly heap: number;
  readonly status: number;
}

/** Time and peak heap growth of one request, the least of TRIES tries. */
async function measure(send: () => Promise<Sent>, check: (sent: Sent) => void): Promise<Cost> {
  let best: Cost | undefined;
  for (let t = 0; t < TRIES; t++) {
    gc();
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 1);
    const started = performance.now();
    const sent = await send();
    const ms = performance.now() - started;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    check(sent);
    const cost = { ms, heap: Math.max(1, peak - base), status: sent.status };
    best = best ? { ms: Math.min(best.ms, cost.ms), heap: Math.min(best.heap, cost.heap), status: cost.status } : cost;
  }
  return best as Cost;
}

const refused = (shape: Shape, size: number) => (sent: Sent): void => {
  if (shape.mayAnswer?.(size)) {
    expect(sent.status, `${shape.name} at ${size} bytes`).toBeLessThan(500);
    return;
  }
  expect(sent.status, `${shape.name} at ${size} bytes`).toBeGreaterThanOrEqual(400);
  expect(sent.status, `${shape.name} at ${size} bytes: ${JSON.stringify(sent.body)?.slice(0, 300)}`).toBeLessThan(500);
  // Node answers an over-long request line itself (431), before the layer: no body then.
  if (sent.status !== 431) expect(sent.body?.resourceType).toBe('OperationOutcome');
};

const costs = new Map<string, Map<number, Cost>>();
const statuses = new Map<string, number[]>();

beforeAll(async () => {
  app = await startTestApp({ consumers: [] });
  // Warm every path once (JIT, definitions), so that the smallest size is not charged for it.
  expect((await post(validBundle(1_000))).status).toBe(200);
  for (const shape of SHAPES) await shape.send(1_000);
  before = await snapshotStore(app);
}, 60_000);

afterAll(async () => {
  const figures: Record<string, string | number> = {};
  const valid = costs.get('valid');
  for (const [name, bySize] of costs) {
    const small = bySize.get(SMALL)!;
    const large = bySize.get(LARGE)!;
    const validLarge = valid?.get(LARGE);
    const key = name.replace(/[^a-z]+/gi, '-');
    figures[`${key}.timePerByte1MB/1kB`] = ((large.ms / LARGE) / (small.ms / SMALL)).toFixed(4);
    if (validLarge && name !== 'valid') {
      figures[`${key}.time/valid`] = (large.ms / validLarge.ms).toFixed(3);
      figures[`${key}.heap/valid`] = (large.heap / validLarge.heap).toFixed(3);
    }
    figures[`${key}.statuses`] = (statuses.get(name) ?? []).join('/');
    // Reported, not asserted (absolute times depend on the machine): the issue's 100 kB case took 77-93 s.
    figures[`${key}.ms100kB`] = Math.round(bySize.get(100_000)?.ms ?? 0);
  }
  printSummary('cost scaling', figures);
  await app?.close();
});

describe('cost scaling of hostile bodies (issue 14)', () => {
  it('answers a valid bundle at every size (the reference of the ratios)', async () => {
    const bySize = new Map<number, Cost>();
    for (const size of SIZES) {
      bySize.set(size, await measure(() => post(validBundle(size)), (sent) => expect(sent.status, JSON.stringify(sent.body).slice(0, 300)).toBe(200)));
    }
    costs.set('valid', bySize);
    statuses.set('valid', [...bySize.values()].map((c) => c.status));
  }, 60_000);

  for (const shape of SHAPES) {
    it(`refuses ${shape.name} with a 4xx OperationOutcome at a cost per byte that does not grow with size`, async () => {
      const bySize = new Map<number, Cost>();
      for (const size of SIZES) bySize.set(size, await measure(() => shape.send(size), refused(shape, size)));
      costs.set(shape.name, bySize);
      statuses.set(shape.name, [...bySize.values()].map((c) => c.status));
      const small = bySize.get(SMALL)!;
      const large = bySize.get(LARGE)!;
      expect((large.ms / LARGE) / (small.ms / SMALL)).toBeLessThan(MAX_PER_BYTE_GROWTH);
      expect((large.heap / LARGE) / (small.heap / SMALL)).toBeLessThan(MAX_PER_BYTE_GROWTH);
      const valid = costs.get('valid')?.get(LARGE);
      expect(valid, 'the valid reference runs first').toBeDefined();
      expect(large.ms / valid!.ms).toBeLessThan(MAX_OVER_VALID);
      expect(large.heap / valid!.heap).toBeLessThan(MAX_HEAP_OVER_VALID);
    }, 60_000);
  }

  it('stored nothing of a hostile body (only the valid references)', async () => {
    const changed = snapshotDiff(before, await snapshotStore(app));
    // Each valid reference stores its Patient, its Observations and the Provenance of the bundle; nothing else may appear.
    const validResources = SIZES.reduce((sum, size) => sum + TRIES * (2 + entriesFor(size)), 0);
    expect(changed.filter((c) => !/^(Patient|Observation|Provenance)\//.test(c))).toEqual([]);
    expect(changed.length).toBe(validResources);
  }, 60_000);
});

/** The limits a hostile body meets, named in their refusals. */
describe('refusals name the limit they apply', () => {
  it('names MAX_CODINGS_PER_RESOURCE for an Observation with too many codings (422)', async () => {
    const bundle: Bundle = labBundle(`cost-${randomUUID()}`, 1);
    const entry = bundle.entry![1] as BundleEntry<Observation>;
    entry.resource!.code = { coding: Array.from({ length: DEFAULT_LIMITS.MAX_CODINGS_PER_RESOURCE + 1 }, (_, k) => ({ system: 'http://loinc.org', code: `${k}-1` })) };
    const sent = await post(JSON.stringify(bundle));
    expect(sent.status).toBe(422);
    expect(sent.body.issue[0].details.text).toContain('MAX_CODINGS_PER_RESOURCE');
  });

  it('caps validation issues at MAX_ISSUES and says it stopped', async () => {
    // 500 strings where CodeableConcepts belong: one issue each, so more than the cap.
    const sent = await post(transaction(2_000, (o) => (o.category = Array.from({ length: 500 }, () => 'laboratory'))));
    expect(sent.status).toBe(400);
    expect(sent.body.issue, JSON.stringify(sent.body).slice(0, 500)).toHaveLength(DEFAULT_LIMITS.MAX_ISSUES + 1);
    expect(sent.body.issue.at(-1).details.text).toContain('MAX_ISSUES');
  });

  // Issue 14: the body travels JSON-escaped inside the Lambda event, so a 6 MB raw limit could never fire
  // in AWS; the limit is on the body as delivered, and the local run delivers it the same way.
  it('answers 413 for a body that fits raw but not escaped inside the event (MAX_EVENT_BODY_BYTES)', async () => {
    const quotes = '\\"'.repeat(Math.ceil(DEFAULT_LIMITS.MAX_EVENT_BODY_BYTES / 3));
    const body = `{"resourceType":"Bundle","type":"batch","entry":[],"id":"${quotes}"}`;
    expect(body.length).toBeLessThan(DEFAULT_LIMITS.MAX_EVENT_BODY_BYTES);
    const sent = await post(body);
    expect(sent.status).toBe(413);
    expect(sent.body.issue[0].details.text).toContain('as delivered');
  }, 30_000);
});

