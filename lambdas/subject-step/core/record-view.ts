/**
 * The subject step's record in memory: the subject's resources as loaded once, with each stage's
 * changed results laid over them, so that screening sees the scores the derivation just computed
 * and prediction sees both, without a read between them. Pure: no I/O, no AWS.
 */
import type { Resource } from '@medplum/fhirtypes';
import { contentHash } from '../../commons/store/resource-codec.js';
import type { StoredResource } from '../../commons/store/port.js';

/** A resource the step writes, and the version it replaces (undefined: a new resource). */
export interface StepChange {
  readonly resource: Resource & { id: string };
  readonly previous?: StoredResource;
}

const refOf = (r: Resource & { id?: string }): string => `${r.resourceType}/${r.id ?? ''}`;

/**
 * The record as loaded plus the results of the stages run so far. A write equal to what the record
 * already holds (by the store's own notion of "unchanged": content without versionId and
 * lastUpdated) changes nothing and is not kept, so an unchanged recompute commits nothing at all.
 */
export class RecordView {
  private readonly loaded: ReadonlyMap<string, StoredResource>;
  private readonly current = new Map<string, StoredResource>();
  private readonly hashes = new Map<string, string>();
  private readonly written = new Map<string, Resource & { id: string }>();

  /**
   * @param records - The subject's current resources, as loaded.
   * @param at - The step's instant: `meta.lastUpdated` of the results laid over the record.
   */
  public constructor(
    records: readonly StoredResource[],
    private readonly at: Date,
  ) {
    this.loaded = new Map(records.map((r) => [refOf(r), r]));
    for (const [ref, r] of this.loaded) this.current.set(ref, r);
  }

  /** Every resource as the next stage sees it. */
  public resources(): StoredResource[] {
    return [...this.current.values()];
  }

  /**
   * Lays a stage's writes over the record; a later stage's write of the same resource wins.
   * @param writes - What the stage would write, unchanged ones included.
   * @returns How many of them change the record.
   */
  public apply(writes: readonly (Resource & { id: string })[]): number {
    let changed = 0;
    for (const write of writes) {
      const ref = refOf(write);
      const hash = contentHash(write);
      const now = this.current.get(ref);
      if (now && this.hashOf(ref, now) === hash) continue;
      changed++;
      const previous = this.loaded.get(ref);
      const version = String(Number(previous?.meta.versionId ?? '0') + 1);
      this.current.set(ref, { ...write, meta: { ...write.meta, versionId: version, lastUpdated: this.at.toISOString() } });
      this.hashes.set(ref, hash);
      this.written.set(ref, write);
    }
    return changed;
  }

  /**
   * What the step must commit: each resource whose final content differs from the one loaded
   * (a resource one stage changed and a later one put back is not written), in a stable order.
   * @returns The changes.
   */
  public changes(): StepChange[] {
    const out: StepChange[] = [];
    for (const [ref, resource] of this.written) {
      const previous = this.loaded.get(ref);
      if (previous && contentHash(previous) === contentHash(resource)) continue;
      out.push({ resource, ...(previous ? { previous } : {}) });
    }
    return out.sort((a, b) => (refOf(a.resource) < refOf(b.resource) ? -1 : refOf(a.resource) > refOf(b.resource) ? 1 : 0));
  }

  private hashOf(ref: string, resource: StoredResource): string {
    let hash = this.hashes.get(ref);
    if (hash === undefined) {
      hash = contentHash(resource);
      this.hashes.set(ref, hash);
    }
    return hash;
  }
}
