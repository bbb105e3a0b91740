/**
 * The export worker core over in-memory ports: parts of bounded size, the checkpoint a worker that
 * runs out of time leaves (Lambda's 15 minutes) and resumes from with nothing lost or repeated, and a
 * DELETE between two pages (FHIR Bulk Data Access IG v2, "Delete a Bulk Data Request").
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { JobFiles } from '../../../lambdas/commons/jobs/files.js';
import { newJob, type Job } from '../../../lambdas/commons/jobs/job.js';
import { JobCancelledError, type JobPatch, type JobStore } from '../../../lambdas/commons/jobs/port.js';
import type { SearchPage, StoreQuery, StoredResource, StudyStore } from '../../../lambdas/commons/store/port.js';
import type { ExportParams } from '../../../lambdas/export/core/params.js';
import { runExport } from '../../../lambdas/export/core/run-export.js';

const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
const T0 = new Date('2026-01-01T00:00:00Z');

class MemoryJobs implements JobStore {
  public readonly jobs = new Map<string, Job>();
  public onUpdate: (job: Job) => void = () => undefined;
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
    const next = { ...job, ...patch };
    this.jobs.set(id, next);
    this.onUpdate(next);
    return Promise.resolve(next);
  }
  cancel(id: string): Promise<boolean> {
    const job = this.jobs.get(id);
    if (job) this.jobs.set(id, { ...job, status: 'cancelled' });
    return Promise.resolve(!!job);
  }
}

class MemoryFiles implements JobFiles {
  public readonly requiresAccessToken = true;
  public readonly files = new Map<string, string>();
  public readonly finished = new Set<string>();
  append(job: string, name: string, text: string): Promise<void> {
    this.files.set(`${job}/${name}`, (this.files.get(`${job}/${name}`) ?? '') + text);
    return Promise.resolve();
  }
  finish(job: string, name: string): Promise<void> {
    this.finished.add(`${job}/${name}`);
    return Promise.resolve();
  }
  discard(job: string, name: string): Promise<void> {
    this.files.delete(`${job}/${name}`);
    return Promise.resolve();
  }
  url(job: string, name: string): Promise<string> {
    return Promise.resolve(`mem:${job}/${name}`);
  }
  remove(job: string): Promise<void> {
    for (const k of [...this.files.keys()]) if (k.startsWith(`${job}/`)) this.files.delete(k);
    return Promise.resolve();
  }
}

/** A store holding Patients P-0..P-{n-1}, paged by an index cursor. */
function memoryStore(n: number): StudyStore & { pages: number } {
  const patients: StoredResource[] = Array.from({ length: n }, (_, i) => ({ resourceType: 'Patient', id: `P-${i}`, meta: { versionId: '1', lastUpdated: '2025-12-01T00:00:00.000Z' } }));
  const store = {
    pages: 0,
    search(query: StoreQuery): Promise<SearchPage> {
      store.pages++;
      const all = query.resourceType === 'Patient' ? patients : [];
      const from = Number(query.cursor ?? '0');
      const to = from + query.count;
      return Promise.resolve({ resources: all.slice(from, to), ...(to < all.length ? { next: String(to) } : {}) });
    },
  };
  return store as unknown as StudyStore & { pages: number };
}

const params: ExportParams = { level: 'system', types: ['Patient', 'Observation'], typeFilters: {}, format: 'ndjson' };

async function setup(n: number): Promise<{ jobs: MemoryJobs; files: MemoryFiles; store: StudyStore & { pages: number }; job: Job }> {
  const jobs = new MemoryJobs();
  const job = newJob({ kind: 'export', owner: 'c', request: 'http://x/fhir/$export', params }, T0);
  await jobs.create(job);
  return { jobs, files: new MemoryFiles(), store: memoryStore(n), job };
}

const lines = (files: MemoryFiles, job: Job): string[] =>
  [...files.files.entries()].filter(([k]) => k.startsWith(job.id)).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).flatMap(([, v]) => v.trim().split('\n'));

describe('Function: runExport', () => {
  it('writes NDJSON parts of the part size, each listed with its count, and completes', async () => {
    // Prepare
    const { jobs, files, store, job } = await setup(25);
    // Act
    const result = await runExport(job.id, { store, jobs, files, logger, now: () => T0, base: 'https://b', partSize: 10, pageSize: 5 });
    // Assess
    expect(result).toBe('completed');
    const done = jobs.jobs.get(job.id)!;
    expect(done.status).toBe('completed');
    expect(done.output).toEqual([
      { type: 'Patient', name: 'Patient.1.ndjson', count: 10 },
      { type: 'Patient', name: 'Patient.2.ndjson', count: 10 },
      { type: 'Patient', name: 'Patient.3.ndjson', count: 5 },
    ]);
    expect(lines(files, job).map((l) => (JSON.parse(l) as Resource).id)).toEqual(Array.from({ length: 25 }, (_, i) => `P-${i}`));
  });

  it('stops when its time runs out and resumes from the last finished part: every resource once, in order', async () => {
    // Prepare: time runs out after the 3rd page (in the middle of the 2nd part).
    const { jobs, files, store, job } = await setup(25);
    let budget = 3;
    const deps = { store, jobs, files, logger, now: () => T0, base: 'https://b', partSize: 10, pageSize: 5 };
    // Act
    const first = await runExport(job.id, { ...deps, timeLeft: () => --budget > 0 });
    const halfway = jobs.jobs.get(job.id)!;
    const second = await runExport(job.id, deps);
    // Assess
    expect(first).toBe('continue');
    expect(halfway.status).toBe('in-progress');
    expect(halfway.output.map((f) => f.name)).toEqual(['Patient.1.ndjson']);
    expect(second).toBe('completed');
    expect(jobs.jobs.get(job.id)!.output.map((f) => [f.name, f.count])).toEqual([['Patient.1.ndjson', 10], ['Patient.2.ndjson', 10], ['Patient.3.ndjson', 5]]);
    expect(lines(files, job).map((l) => (JSON.parse(l) as Resource).id)).toEqual(Array.from({ length: 25 }, (_, i) => `P-${i}`));
  });

  it('stops at the next page once the job is cancelled, and removes its files', async () => {
    // Prepare: a DELETE arrives after the first page.
    const { jobs, files, store, job } = await setup(25);
    let updates = 0;
    jobs.onUpdate = () => {
      if (++updates === 2) void jobs.cancel(job.id);
    };
    // Act
    const result = await runExport(job.id, { store, jobs, files, logger, now: () => T0, base: 'https://b', partSize: 10, pageSize: 5 });
    // Assess
    expect(result).toBe('cancelled');
    expect(store.pages).toBeLessThanOrEqual(3);
    expect([...files.files.keys()].filter((k) => k.startsWith(job.id))).toEqual([]);
  });
});
