import type { Bundle, BundleEntry, Reference, Resource } from '@medplum/fhirtypes';
import { randomBytes } from 'node:crypto';
import { deterministicId, keyedId } from '../../commons/ids.js';

/** A record as the hospital knows it: its type and its id on the source system. */
export interface SourceKey {
  readonly resourceType: string;
  readonly id: string;
}

/** Thrown for a reference that points into the bundle at nothing (a `urn:uuid:` with no entry). */
export class BrokenReferenceError extends Error {
  public override readonly name = 'BrokenReferenceError';
}

const RELATIVE = /^(?:.*\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/**
 * The bundle as the source system sent it: which entry each fullUrl names, and what hospital record
 * each reference points to.
 */
export class SourceBundle {
  private readonly byFullUrl = new Map<string, BundleEntry>();

  /**
   * @param bundle - The incoming bundle.
   * @param sourceSystem - URI of the sending system (the Bundle's `meta.source` or the configured default).
   * @param key - The source-identifier key (lambdas/commons/privacy/source-key.ts). Without one, a random key
   *   of this bundle alone: fine for in-memory screening, where no id outlives the run.
   */
  constructor(
    public readonly bundle: Bundle,
    public readonly sourceSystem: string,
    public readonly key: Uint8Array = randomBytes(32),
  ) {
    for (const entry of bundle.entry ?? []) {
      if (entry.fullUrl) {
        this.byFullUrl.set(entry.fullUrl, entry);
      }
    }
  }

  /**
   * The hospital record an entry holds: its resource id, else the id inside its `urn:uuid:` fullUrl.
   * @param entry - A bundle entry with a resource.
   * @returns The source key.
   */
  keyOfEntry(entry: BundleEntry): SourceKey {
    const resource = entry.resource as Resource;
    const id = resource.id ?? entry.fullUrl?.replace(/^urn:(uuid|oid):/, '') ?? deterministicId(JSON.stringify(resource));
    return { resourceType: resource.resourceType, id };
  }

  /**
   * The hospital record a reference points to: a bundle entry by fullUrl, else a relative or
   * absolute `Type/id` on the source system. Contained (`#x`) and logical references give undefined.
   * @param reference - A reference in a source resource.
   * @returns The source key, or undefined.
   */
  resolve(reference: Reference | undefined): SourceKey | undefined {
    const ref = reference?.reference;
    if (!ref || ref.startsWith('#')) {
      return undefined;
    }
    const entry = this.byFullUrl.get(ref);
    if (entry?.resource) {
      return this.keyOfEntry(entry);
    }
    if (ref.startsWith('urn:')) {
      throw new BrokenReferenceError(`Reference '${ref}' names no entry of the bundle`);
    }
    const match = RELATIVE.exec(ref);
    return match ? { resourceType: match[1] as string, id: match[2] as string } : undefined;
  }

  /**
   * The resource a reference points to inside the bundle (or a contained one), for reading its
   * content, e.g. the Medication behind `medicationReference`.
   * @param reference - The reference.
   * @param container - The resource whose `contained` list `#id` references name.
   * @returns The resource, or undefined.
   */
  lookup(reference: Reference | undefined, container: Resource): Resource | undefined {
    const ref = reference?.reference;
    if (!ref) {
      return undefined;
    }
    if (ref.startsWith('#')) {
      const contained = (container as { contained?: Resource[] }).contained ?? [];
      return contained.find((r) => r.id === ref.slice(1));
    }
    const byUrl = this.byFullUrl.get(ref)?.resource;
    if (byUrl) {
      return byUrl;
    }
    const key = this.resolve(reference);
    return key
      ? this.bundle.entry?.find((e) => e.resource?.resourceType === key.resourceType && e.resource.id === key.id)?.resource
      : undefined;
  }

  /**
   * The study id of a hospital record (other than a Patient, whose study id is its pseudonym): keyed, so
   * that the same record always maps to the same resource, yet nobody without the key can tell which
   * hospital id it stands for (a plain hash of a sequential record number is reversed by enumeration).
   * @param key - The source key.
   * @returns A deterministic id.
   */
  studyId(key: SourceKey): string {
    return keyedId(this.key, this.sourceSystem, key.resourceType, key.id);
  }
}
