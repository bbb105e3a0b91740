import type { Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { indexFacts } from '../../lambdas/commons/store/index-keys.js';
import type {
  CommitOptions,
  IdentityStore,
  SearchPage,
  StoredResource,
  StoreQuery,
  StudyDataChanged,
  StudyStore,
  WriteResult,
} from '../../lambdas/commons/store/port.js';

/*
 * In-memory fakes of the store ports, for the "ingest core" figure only: they keep the current version
 * of each resource in a Map and answer searches by a linear filter, so the figure measures the core
 * (parse, validate, map, annotate, profile-validate) and not DynamoDB. Not a reference implementation
 * of the port: no history, no content-hash "unchanged", no cursors.
 */

/** A StudyStore over a Map: current versions only. */
export class MemoryStudyStore implements StudyStore {
  private readonly resources = new Map<string, StoredResource>();
  private readonly outbox: StudyDataChanged[] = [];

  commit(resources: readonly (Resource & { id: string })[], options: CommitOptions): Promise<WriteResult[]> {
    const now = new Date().toISOString();
    const results = resources.map((resource): WriteResult => {
      const key = `${resource.resourceType}/${resource.id}`;
      const previous = this.resources.get(key);
      const versionId = String(Number(previous?.meta.versionId ?? '0') + 1);
      const stored = { ...resource, meta: { ...resource.meta, versionId, lastUpdated: now } };
      this.resources.set(key, stored);
      return { status: previous ? 'updated' : 'created', resource: stored };
    });
    this.outbox.push(...(options.events ?? []));
    return Promise.resolve(results);
  }

  read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<StoredResource<T> | undefined> {
    return Promise.resolve(this.resources.get(`${resourceType}/${id}`) as StoredResource<T> | undefined);
  }

  vread<T extends Resource>(resourceType: T['resourceType'], id: string, versionId: string): Promise<StoredResource<T> | undefined> {
    const current = this.resources.get(`${resourceType}/${id}`);
    return Promise.resolve(current?.meta.versionId === versionId ? (current as StoredResource<T>) : undefined);
  }

  async history<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<StoredResource<T>[]> {
    const current = await this.read<T>(resourceType, id);
    return current ? [current] : [];
  }

  search(query: StoreQuery): Promise<SearchPage> {
    const out: StoredResource[] = [];
    for (const resource of this.resources.values()) {
      if (out.length >= query.count) {
        break;
      }
      if (resource.resourceType !== query.resourceType || (query.ids && !query.ids.includes(resource.id))) {
        continue;
      }
      const facts = indexFacts(resource);
      if (query.patient !== undefined && facts.patient !== query.patient) {
        continue;
      }
      if (query.profile !== undefined && !facts.profiles.includes(query.profile)) {
        continue;
      }
      if (query.codes && !query.codes.some((q) => facts.codings.some((c) => c.code === q.code && (q.system === undefined || c.system === q.system)))) {
        continue;
      }
      out.push(resource);
    }
    return Promise.resolve({ resources: out });
  }

  /** Every current version, for the derive figure. */
  all(): StoredResource[] {
    return [...this.resources.values()];
  }

  pendingEvents(limit: number): Promise<StudyDataChanged[]> {
    return Promise.resolve(this.outbox.slice(0, limit));
  }

  ackEvent(eventId: string): Promise<void> {
    const at = this.outbox.findIndex((e) => e.eventId === eventId);
    if (at >= 0) {
      this.outbox.splice(at, 1);
    }
    return Promise.resolve();
  }

  sweep(): Promise<unknown> {
    return Promise.resolve(0);
  }
}

/** An IdentityStore over two Maps. */
export class MemoryIdentityStore implements IdentityStore {
  private readonly forward = new Map<string, string>();
  private readonly backward = new Map<string, string>();

  pseudonymFor(hospitalKey: string): Promise<string> {
    let pseudonym = this.forward.get(hospitalKey);
    if (!pseudonym) {
      pseudonym = randomUUID();
      this.forward.set(hospitalKey, pseudonym);
      this.backward.set(pseudonym, hospitalKey);
    }
    return Promise.resolve(pseudonym);
  }

  resolve(pseudonym: string): Promise<string | undefined> {
    return Promise.resolve(this.backward.get(pseudonym));
  }
}
