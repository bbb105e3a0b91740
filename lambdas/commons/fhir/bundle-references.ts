import type { Bundle, BundleEntry } from '@medplum/fhirtypes';

/*
 * Resolution of references between the entries of a Bundle, following the HL7 validator's rules
 * (https://hl7.org/fhir/R4/bundle.html#references): an absolute reference matches a fullUrl; a
 * relative one is resolved against the base of the referring entry's RESTful fullUrl, so that it
 * cannot resolve from an entry whose fullUrl is a urn:uuid. A versioned reference matches an entry by
 * its meta.versionId.
 */

/** Outcome of resolving one reference. */
export type Resolution =
  | { readonly kind: 'found'; readonly index: number }
  | { readonly kind: 'multiple'; readonly count: number }
  /** Not in the Bundle, though an entry has the same type and id (wrong base or version). */
  | { readonly kind: 'apparent' }
  | { readonly kind: 'not-found' }
  /** Not a reference to a resource type we know, so not expected to resolve in the Bundle. */
  | { readonly kind: 'external' };

/** Lookup tables over a Bundle's entries. */
export interface BundleIndex {
  readonly entries: readonly BundleEntry[];
  readonly byFullUrl: Map<string, number[]>;
  readonly byTypeAndId: Map<string, number[]>;
  readonly resourceTypes: ReadonlySet<string>;
  readonly restfulUrl: RegExp;
}

function add(map: Map<string, number[]>, key: string, index: number): void {
  const list = map.get(key);
  if (list) {
    list.push(index);
  } else {
    map.set(key, [index]);
  }
}

/**
 * A RESTful resource URL, `[base/]Type/id[/_history/vid]`, as the HL7 validator recognises it (its
 * base segments allow letters, digits and `\ . : % $` only).
 * @param resourceTypes - Known resource type names.
 * @returns The regular expression (whole-string match).
 */
export function restfulUrlPattern(resourceTypes: ReadonlySet<string>): RegExp {
  const names = [...resourceTypes].sort().join('|');
  return new RegExp(
    `^((http|https)://([A-Za-z0-9\\\\.:%$]*/)*)?(${names})/[A-Za-z0-9\\-.]{1,64}(/_history/[A-Za-z0-9\\-.]{1,64})?$`
  );
}

/**
 * True for an absolute URI (it has a scheme such as http:, urn:, or data:).
 * @param url - The URI.
 * @returns Whether it is absolute.
 */
export function isAbsoluteUrl(url: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(url);
}

/**
 * Indexes a Bundle's entries by fullUrl and by type/id, with versioned variants.
 * @param bundle - The Bundle.
 * @param resourceTypes - Known resource type names.
 * @param restfulUrl - Pattern from {@link restfulUrlPattern}.
 * @returns The index.
 */
export function indexBundle(bundle: Bundle, resourceTypes: ReadonlySet<string>, restfulUrl: RegExp): BundleIndex {
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  const byFullUrl = new Map<string, number[]>();
  const byTypeAndId = new Map<string, number[]>();
  entries.forEach((entry, i) => {
    const fullUrl = typeof entry?.fullUrl === 'string' ? entry.fullUrl : undefined;
    const resource = entry?.resource;
    const version = resource?.meta?.versionId;
    if (fullUrl) {
      add(byFullUrl, fullUrl, i);
      if (typeof version === 'string') {
        add(byFullUrl, `${fullUrl}/_history/${version}`, i);
      }
    }
    if (resource && typeof resource.id === 'string') {
      const rel = `${resource.resourceType}/${resource.id}`;
      add(byTypeAndId, rel, i);
      if (typeof version === 'string') {
        add(byTypeAndId, `${rel}/_history/${version}`, i);
      }
    }
  });
  return { entries, byFullUrl, byTypeAndId, resourceTypes, restfulUrl };
}

/**
 * Resolves a reference made from inside one entry of the Bundle.
 * @param index - The Bundle index.
 * @param reference - The reference string (a '#fragment' is ignored).
 * @param from - Index of the referring entry.
 * @returns Where it points.
 */
export function resolveInBundle(index: BundleIndex, reference: string, from: number): Resolution {
  const ref = reference.includes('#') ? reference.slice(0, reference.indexOf('#')) : reference;
  if (isAbsoluteUrl(ref)) {
    const hits = index.byFullUrl.get(ref);
    if (!hits) {
      return { kind: 'not-found' };
    }
    return hits.length === 1 ? { kind: 'found', index: hits[0] as number } : { kind: 'multiple', count: hits.length };
  }
  const entry = index.entries[from];
  const fullUrl = entry?.fullUrl;
  const own = entry?.resource ? `${entry.resource.resourceType}/${entry.resource.id}` : undefined;
  if (fullUrl && own && index.restfulUrl.test(fullUrl) && fullUrl.endsWith(own)) {
    const hits = index.byFullUrl.get(fullUrl.slice(0, fullUrl.length - own.length) + ref);
    if (hits) {
      return hits.length === 1 ? { kind: 'found', index: hits[0] as number } : { kind: 'multiple', count: hits.length };
    }
  }
  const [type, id] = ref.split('/');
  if (type === undefined || id === undefined || !index.resourceTypes.has(type)) {
    return { kind: 'external' };
  }
  return index.byTypeAndId.has(`${type}/${id}`) ? { kind: 'apparent' } : { kind: 'not-found' };
}
