/**
 * The import worker core's checkpoints (the Bulk Data async pattern run in Lambda's 15-minute slices, as
 * the export worker): a worker out of time stops after a committed chunk and leaves (file, byte offset,
 * counts); the next run starts reading at that byte, so every resource is committed once and the
 * per-file outcome of the status manifest counts each line once. The ingest core is stubbed here (its
 * own tests and test/api/bulk-import.int.test.ts run it for real): this is about where reading resumes.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Bundle } from '@medplum/fhirtypes';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { newJob, type Job } from '../../../lambdas/commons/jobs/job.js';
import { JobCancelledError, type JobPatch, type JobStore } from '../../../lambdas/commons/jobs/port.js';
import type { ImportParams } from '../../../lambdas/import/core/manifest.js';
import { runImport, type ImportWorkerDeps } from '../../../lambdas/import/core/run-import.js';
import { splitLines, type ImportSource, type NdjsonLine } from '../../../lambdas/import/core/source.js';

const committed: Bundle[] = [];
vi.mock('../../../lambdas/ingest/core/ingest-bundle.js', () => ({
  ingestBundle: (bundle: Bundle) => {
    committed.push(bundle);
    return Promise.resolve({ response: { resourceType: 'Bundle', type: 'transaction-response', entry: (bundle.entry ?? []).map(() => ({ response: { status: '201 Created' } })) }, changed: [], unchanged: [] });
  },
}));
vi.mock('../../../lambdas/commons/events/relay.js', () => ({ publishAndAck: () => Promise.resolve() }));

const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
const T0 = new Date('2026-01-01T00:00:00Z');

class MemoryJobs implements JobStore {
  public readonly jobs = new Map<string, Job>();
  create(job: Job): Promise<void> {
    this.jobs.set(job.id, job);
    return Promise.resolve();
  }
  get(id: string): Promise<Job | undefined> {
    return Promise.resolve(this.jobs.get(id));
  }
  update(id: string, patch: JobPatch): Promise<Job> {
    const job = this.jobs.get(id);
    if (!job || (job.status !== 'accepted' && job.status !== 'in-progress')) return Promise.reject(new JobCancelledError(id));
    // Stored as JSON, as DynamoDB keeps it: nothing the worker holds in memory leaks into the record.
    const next = JSON.parse(JSON.stringify({ ...job, ...patch })) as Job;
    this.jobs.set(id, next);
    return Promise.resolve(next);
  }
  cancel(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

/** Files as strings, streamed in small chunks (lines split across them), recording where each read starts. */
class MemorySource implements Pick<ImportSource, 'lines'> {
  public readonly reads: { location: string; from: number }[] = [];
  public constructor(private readonly files: Record<string, string>) {}
  lines(location: string, fromByte: number): AsyncIterable<NdjsonLine> {
    this.reads.push({ location, from: fromByte });
    const bytes = Buffer.from(this.files[location]!, 'utf8').subarray(fromByte);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    return splitLines(Readable.from(chunks), fromByte);
  }
}

const obs = (n: number): string => JSON.stringify({ resourceType: 'Observation', id: `o${n}`, status: 'final', code: { text: 'é' } });
const pat = (n: number): string => JSON.stringify({ resourceType: 'Patient', id: `p${n}` });

function job(jobs: MemoryJobs, params: ImportParams): Job {
  const j = newJob({ kind: 'import', owner: 'client', request: 'http://x/fhir/$import', params }, T0);
  void jobs.create(j);
  return j;
}

const idsCommitted = (): string[] => committed.flatMap((b) => (b.entry ?? []).map((e) => e.resource!.id!));

beforeEach(() => {
  committed.length = 0;
});

describe('Function: runImport checkpoints', () => {
  it('stops after a committed chunk when time runs short and resumes at its byte offset, each resource committed once', async () => {
    // Prepare: two files; the first with a bad line after the first chunk and CRLF endings.
    const files = {
      'imports/obs.ndjson': [obs(1), obs(2), obs(3), 'not json', obs(4), obs(5), obs(6), obs(7)].join('\r\n') + '\r\n',
      'imports/pat.ndjson': [pat(1), pat(2)].join('\n'),
    };
    const source = new MemorySource(files);
    const jobs = new MemoryJobs();
    const j = job(jobs, { inputs: [{ type: 'Observation', url: 's3://b/imports/obs.ndjson', path: 'imports/obs.ndjson' }, { type: 'Patient', url: 's3://b/imports/pat.ndjson', path: 'imports/pat.ndjson' }] });
    let slices = 1;
    const deps = (): ImportWorkerDeps => ({ ingest: {} as never, events: { publish: () => Promise.resolve() }, jobs, logger, now: () => T0, chunkSize: 3, source, timeLeft: () => slices-- > 0 });
    // Act: the first slice has time for one chunk after the first.
    const first = await runImport(j.id, deps());
    // Assess: stopped after two chunks (6 resources), at the byte after o7's predecessor line.
    expect(first).toBe('continue');
    const stopped = jobs.jobs.get(j.id)!;
    expect(stopped.status).toBe('in-progress');
    const expectedOffset = Buffer.byteLength([obs(1), obs(2), obs(3), 'not json', obs(4), obs(5), obs(6)].join('\r\n') + '\r\n');
    expect(stopped.checkpoint).toEqual({ file: 0, offset: expectedOffset, done: 6 });
    expect(stopped.inputs![0]).toMatchObject({ read: 7, accepted: 6, failed: 1 });
    // Act: the next slice (the SQS message sent again) has all the time it needs.
    slices = Infinity;
    const second = await runImport(j.id, deps());
    // Assess
    expect(second).toBe('completed');
    expect(source.reads).toEqual([
      { location: 'imports/obs.ndjson', from: 0 },
      { location: 'imports/obs.ndjson', from: expectedOffset },
      { location: 'imports/pat.ndjson', from: 0 },
    ]);
    expect(idsCommitted()).toEqual(['o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7', 'p1', 'p2']);
    const done = jobs.jobs.get(j.id)!;
    expect(done.status).toBe('completed');
    expect(done.progress.done).toBe(9);
    expect(done.inputs).toEqual([
      { url: 's3://b/imports/obs.ndjson', type: 'Observation', read: 8, accepted: 7, failed: 1, status: 'completed-with-errors' },
      { url: 's3://b/imports/pat.ndjson', type: 'Patient', read: 2, accepted: 2, failed: 0, status: 'completed' },
    ]);
    // The multi-byte character split across 7-byte chunks arrived whole.
    expect(committed[0]!.entry![0]!.resource).toMatchObject({ code: { text: 'é' } });
  });

  it('resumes a job whose worker died mid-file (an SQS retry) at the last checkpoint, skipping finished files', async () => {
    // Prepare: a checkpoint in the second file, as a crashed worker left it (counts saved with it).
    const source = new MemorySource({ 'imports/a.ndjson': pat(1), 'imports/b.ndjson': `${pat(2)}\n${pat(3)}\n` });
    const jobs = new MemoryJobs();
    const j = job(jobs, { inputs: [{ type: 'Patient', url: 'u1', path: 'imports/a.ndjson' }, { type: 'Patient', url: 'u2', path: 'imports/b.ndjson' }] });
    const offset = Buffer.byteLength(`${pat(2)}\n`);
    await jobs.update(j.id, {
      status: 'in-progress',
      checkpoint: { file: 1, offset, done: 2 },
      inputs: [
        { url: 'u1', type: 'Patient', read: 1, accepted: 1, failed: 0, status: 'completed' },
        { url: 'u2', type: 'Patient', read: 1, accepted: 1, failed: 0, status: 'in-progress' },
      ],
    });
    // Act
    const result = await runImport(j.id, { ingest: {} as never, events: { publish: () => Promise.resolve() }, jobs, logger, now: () => T0, source });
    // Assess
    expect(result).toBe('completed');
    expect(source.reads).toEqual([{ location: 'imports/b.ndjson', from: offset }]);
    expect(idsCommitted()).toEqual(['p3']);
    expect(jobs.jobs.get(j.id)!.inputs![1]).toMatchObject({ read: 2, accepted: 2, failed: 0, status: 'completed' });
    expect(jobs.jobs.get(j.id)!.progress.done).toBe(3);
  });
});
