import type { Resource } from '@medplum/fhirtypes';
import type { StudyStore } from '../../lambdas/commons/store/port.js';

/** How a seed went: what was committed, in how many commits, and how long it took. */
export interface SeedReport {
  readonly resources: number;
  readonly commits: number;
  readonly seconds: number;
}

/**
 * Seeds the store through its port, as the ingest commits (one batched commit per call), for tests
 * that need many resources: records are generated lazily and grouped into chunks of about `chunk`
 * resources (a record is never split, so a patient's resources land together), and up to
 * `concurrency` chunks are in flight at once — the commits overlap their round trips to DynamoDB
 * (dynalite over loopback), which a single sequential loop leaves idle.
 * @param store - The store.
 * @param records - How many records, and record `i` (the resources of one generated patient).
 * @param options - Resources per commit (default 1,000) and commits in flight (default 3).
 * @returns Counts and the wall time.
 * @throws When a commit fails (atomic commits: a chunk lands whole or the seed stops).
 */
export async function seedStore(
  store: StudyStore,
  records: { count: number; record: (i: number) => (Resource & { id: string })[] },
  options: { chunk?: number; concurrency?: number } = {},
): Promise<SeedReport> {
  const chunkSize = options.chunk ?? 1000;
  const started = performance.now();
  let next = 0;
  let resources = 0;
  let commits = 0;
  // Each worker takes the next records until its chunk is full, commits it, and goes on: generation stays lazy.
  const worker = async (): Promise<void> => {
    while (next < records.count) {
      const chunk: (Resource & { id: string })[] = [];
      while (chunk.length < chunkSize && next < records.count) chunk.push(...records.record(next++));
      await store.commit(chunk, { atomic: true });
      resources += chunk.length;
      commits++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 3) }, worker));
  return { resources, commits, seconds: (performance.now() - started) / 1000 };
}
