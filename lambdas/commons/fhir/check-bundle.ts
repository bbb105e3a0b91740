import type { Bundle, BundleEntry, BundleLink, OperationOutcomeIssue, Reference } from '@medplum/fhirtypes';
import { indexBundle, isAbsoluteUrl, resolveInBundle, restfulUrlPattern } from './bundle-references.js';
import type { BundleIndex } from './bundle-references.js';
import { errorIssue } from './issues.js';

/*
 * Bundle rules that medplum's FHIRPath invariants (bdl-1..bdl-12) do not cover, as the HL7 validator
 * applies them: https://hl7.org/fhir/R4/bundle.html. Each function returns error issues only; the
 * validator's warnings and hints are left out because they do not change the verdict.
 */

const PAGING = new Set(['first', 'previous', 'next', 'last']);
const FULL_URL_OPTIONAL = new Set(['transaction', 'transaction-response', 'batch', 'batch-response']);

let cachedPattern: { types: ReadonlySet<string>; pattern: RegExp } | undefined;

function patternFor(types: ReadonlySet<string>): RegExp {
  if (cachedPattern?.types !== types) {
    cachedPattern = { types, pattern: restfulUrlPattern(types) };
  }
  return cachedPattern.pattern;
}

function entriesOf(bundle: Bundle): BundleEntry[] {
  return Array.isArray(bundle.entry) ? bundle.entry : [];
}

/**
 * Link relations: paging links only in searchset and history Bundles, and no relation twice
 * among self (all types) and the paging relations (searchset, history).
 * @param bundle - The Bundle.
 * @param path - Its location.
 * @returns Issues found.
 */
export function checkBundleLinks(bundle: Bundle, path: string): OperationOutcomeIssue[] {
  const links: BundleLink[] = Array.isArray(bundle.link) ? bundle.link : [];
  const paged = bundle.type === 'searchset' || bundle.type === 'history';
  const issues: OperationOutcomeIssue[] = [];
  const seen = new Set<string>();
  links.forEach((link, i) => {
    const rel = link?.relation;
    if (typeof rel !== 'string') {
      return;
    }
    if (!paged && PAGING.has(rel) && bundle.type !== undefined) {
      issues.push(errorIssue('invariant', `The link relation '${rel}' is only allowed in searchset and history Bundles`, `${path}.link[${i}].relation`));
    }
    if (rel === 'self' || (paged && PAGING.has(rel))) {
      if (seen.has(rel)) {
        issues.push(errorIssue('invariant', `The link relation '${rel}' can only occur once`, `${path}.link[${i}]`));
      }
      seen.add(rel);
    }
  });
  return issues;
}

/**
 * Entry fullUrls: required outside transactions and batches, absolute, and when RESTful
 * (`base/Type/id`) agreeing with the resource's type and id; a canonical url equal to the fullUrl
 * must itself be RESTful.
 * @param bundle - The Bundle.
 * @param path - Its location.
 * @param resourceTypes - Known resource type names.
 * @returns Issues found.
 */
export function checkBundleFullUrls(bundle: Bundle, path: string, resourceTypes: ReadonlySet<string>): OperationOutcomeIssue[] {
  const restful = patternFor(resourceTypes);
  const optional = FULL_URL_OPTIONAL.has(bundle.type);
  const issues: OperationOutcomeIssue[] = [];
  entriesOf(bundle).forEach((entry, i) => {
    const at = `${path}.entry[${i}]`;
    const fullUrl = entry?.fullUrl;
    const resource = entry?.resource;
    if (typeof fullUrl !== 'string') {
      if (!optional && bundle.type !== undefined) {
        issues.push(errorIssue('invariant', `fullUrl is required in a ${bundle.type} Bundle entry`, at));
      }
    } else if (!isAbsoluteUrl(fullUrl)) {
      issues.push(errorIssue('value', 'The fullUrl must be an absolute URL', `${at}.fullUrl`));
    } else if (resource && restful.test(fullUrl)) {
      if (typeof resource.id !== 'string') {
        issues.push(errorIssue('invariant', 'The fullUrl is a RESTful URL, so the resource must have an id', at));
      } else if (!fullUrl.endsWith(`/${resource.resourceType}/${resource.id}`)) {
        issues.push(errorIssue('invariant', 'The fullUrl is a RESTful URL, so it must end with the resource type and id', `${at}.fullUrl`));
      }
    }
    const canonical = (resource as { url?: unknown } | undefined)?.url;
    if (typeof canonical === 'string' && canonical === fullUrl && !(restful.test(canonical) && canonical.endsWith(`/${resource?.id}`))) {
      issues.push(errorIssue('invariant', 'The resource url equals the fullUrl but does not end with the resource id', at));
    }
  });
  return issues;
}

/**
 * Search sets: when every entry has a search mode, 'match' and 'include' entries need an id, 'match'
 * entries must be of a type the self link searched for, and 'outcome' entries must be
 * OperationOutcomes. Entries need a resource.
 * @param bundle - A searchset Bundle.
 * @param path - Its location.
 * @param resourceTypes - Known resource type names.
 * @returns Issues found.
 */
export function checkSearchSet(bundle: Bundle, path: string, resourceTypes: ReadonlySet<string>): OperationOutcomeIssue[] {
  const entries = entriesOf(bundle);
  const issues: OperationOutcomeIssue[] = [];
  const searched = searchedTypes(bundle, resourceTypes);
  const allHaveMode = entries.every((e) => typeof e?.search?.mode === 'string');
  const noneHaveMode = entries.every((e) => typeof e?.search?.mode !== 'string');
  entries.forEach((entry, i) => {
    const at = `${path}.entry[${i}]`;
    const resource = entry?.resource;
    if (!resource) {
      if (allHaveMode || noneHaveMode) {
        issues.push(errorIssue('invariant', 'Search result entries must have a resource', at));
      }
      return;
    }
    if (!allHaveMode) {
      return; // without a mode on every entry the validator only warns
    }
    const mode = entry.search?.mode;
    const type = resource.resourceType;
    if (mode === 'match' || mode === 'include') {
      if (typeof resource.id !== 'string') {
        issues.push(errorIssue('invariant', 'Search results must have ids', `${at}.resource`));
      }
      if (mode === 'match' && searched.length > 0 && !searched.includes(type)) {
        issues.push(errorIssue('invariant', 'This is not a resource type the search was for', `${at}.resource`));
      }
    } else if (type !== 'OperationOutcome') {
      issues.push(errorIssue('invariant', "An entry with search mode 'outcome' must be an OperationOutcome", `${at}.resource`));
    }
  });
  return issues;
}

/** Resource types a searchset was for, read from its self link (`.../Type?...` or `_type=`). */
function searchedTypes(bundle: Bundle, resourceTypes: ReadonlySet<string>): string[] {
  const self = (Array.isArray(bundle.link) ? bundle.link : []).find((l) => l?.relation === 'self')?.url;
  if (typeof self !== 'string') {
    return [];
  }
  const q = self.indexOf('?');
  const head = (q < 0 ? self : self.slice(0, q)).split('/');
  const last = head[head.length - 1] ?? '';
  if (resourceTypes.has(last)) {
    return [last];
  }
  if (q < 0) {
    return [];
  }
  return self
    .slice(q + 1)
    .split('&')
    .filter((p) => p.startsWith('_type='))
    .flatMap((p) => p.slice(6).split(','));
}

/** Finds Reference.reference values in an entry's resource, not descending into nested Bundles. */
function collectReferences(value: unknown, out: { reference: string; path: string }[], path: string): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => collectReferences(v, out, `${path}[${i}]`));
  } else if (typeof value === 'object' && value !== null) {
    const obj = value as Record<string, unknown>;
    if (obj.resourceType === 'Bundle' && path.includes('.')) {
      return;
    }
    for (const [key, v] of Object.entries(obj)) {
      if (key === 'reference' && typeof v === 'string') {
        if (!v.startsWith('#')) {
          out.push({ reference: v, path: `${path}.reference` });
        }
      } else if (typeof v === 'object' && v !== null) {
        collectReferences(v, out, `${path}.${key}`);
      }
    }
  }
}

function referenceIssue(index: BundleIndex, reference: string, from: number, path: string, mustResolve: boolean): OperationOutcomeIssue | undefined {
  const r = resolveInBundle(index, reference, from);
  switch (r.kind) {
    case 'found':
    case 'external':
      return undefined;
    case 'multiple':
      return errorIssue('invariant', `Found ${r.count} matches for the reference in the Bundle`, path);
    case 'apparent':
      return errorIssue(
        'invariant',
        'The reference does not resolve in the Bundle: an entry has the same type and id, but its fullUrl (base or version) does not match',
        path
      );
    case 'not-found':
      return mustResolve ? errorIssue('invariant', 'The reference does not resolve to an entry in the Bundle', path) : undefined;
  }
}

/** The references that the first resource of a document or message must resolve in the Bundle. */
function headerReferences(bundle: Bundle, path: string): { reference: string; path: string }[] {
  const first = entriesOf(bundle)[0]?.resource as Record<string, unknown> | undefined;
  const out: { reference: string; path: string }[] = [];
  const at = `${path}.entry[0].resource`;
  const refs = (v: unknown, p: string): void => {
    const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
    list.forEach((r: Reference | undefined, i) => {
      if (typeof r?.reference === 'string' && !r.reference.startsWith('#')) {
        out.push({ reference: r.reference, path: Array.isArray(v) ? `${p}[${i}]` : p });
      }
    });
  };
  if (bundle.type === 'document' && first?.resourceType === 'Composition') {
    for (const key of ['subject', 'author', 'encounter', 'custodian']) {
      refs(first[key], `${at}.${key}`);
    }
    (Array.isArray(first.attester) ? first.attester : []).forEach((a: { party?: Reference }, i) => refs(a?.party, `${at}.attester[${i}].party`));
    (Array.isArray(first.event) ? first.event : []).forEach((e: { detail?: Reference[] }, i) => refs(e?.detail, `${at}.event[${i}].detail`));
    const sections = (list: unknown, p: string): void => {
      (Array.isArray(list) ? list : []).forEach((s: Record<string, unknown>, i) => {
        refs(s?.author, `${p}[${i}].author`);
        refs(s?.focus, `${p}[${i}].focus`);
        refs(s?.entry, `${p}[${i}].entry`);
        sections(s?.section, `${p}[${i}].section`);
      });
    };
    sections(first.section, `${at}.section`);
  } else if (bundle.type === 'message' && first?.resourceType === 'MessageHeader') {
    refs(first.focus, `${at}.focus`);
  }
  return out;
}

/**
 * Documents and messages: the first entry must be a Composition or MessageHeader, whose references
 * must resolve inside the Bundle; references between entries must not be ambiguous or point at a
 * same-id entry under another base; and every document entry must be reachable from the
 * Composition by following references in either direction.
 * @param bundle - A document or message Bundle.
 * @param path - Its location.
 * @param resourceTypes - Known resource type names.
 * @returns Issues found.
 */
export function checkDocumentOrMessage(bundle: Bundle, path: string, resourceTypes: ReadonlySet<string>): OperationOutcomeIssue[] {
  const entries = entriesOf(bundle);
  const isDocument = bundle.type === 'document';
  const expected = isDocument ? 'Composition' : 'MessageHeader';
  if (entries.length === 0) {
    return [errorIssue('invariant', `A ${bundle.type} Bundle must have a first entry (${expected})`, path)];
  }
  if (entries[0]?.resource?.resourceType !== expected) {
    return [errorIssue('invariant', `The first entry of a ${bundle.type} Bundle must be a ${expected}`, `${path}.entry[0]`)];
  }
  const index = indexBundle(bundle, resourceTypes, patternFor(resourceTypes));
  const issues: OperationOutcomeIssue[] = [];
  const reported = new Set<string>();
  for (const ref of headerReferences(bundle, path)) {
    const issue = referenceIssue(index, ref.reference, 0, ref.path, true);
    if (issue) {
      issues.push(issue);
      reported.add(ref.path);
    }
  }

  // Reference graph between entries.
  const targets: Set<number>[] = entries.map(() => new Set<number>());
  entries.forEach((entry, i) => {
    if (!entry?.resource) {
      return;
    }
    const refs: { reference: string; path: string }[] = [];
    collectReferences(entry.resource, refs, `${path}.entry[${i}].resource`);
    for (const ref of refs) {
      const r = resolveInBundle(index, ref.reference, i);
      if (r.kind === 'found') {
        if (r.index !== i) {
          targets[i]?.add(r.index);
        }
      } else if (!reported.has(ref.path)) {
        const issue = referenceIssue(index, ref.reference, i, ref.path, false);
        if (issue) {
          issues.push(issue);
        }
      }
    }
  });
  if (isDocument) {
    issues.push(...orphans(entries, targets, path));
  }
  return issues;
}

function orphans(entries: BundleEntry[], targets: Set<number>[], path: string): OperationOutcomeIssue[] {
  const visited = new Set<number>();
  const visit = (i: number): void => {
    if (!visited.has(i)) {
      visited.add(i);
      targets[i]?.forEach(visit);
    }
  };
  visit(0);
  // Entries that point at the reachable set (e.g. Provenance) count as reachable too.
  for (let grew = true; grew; ) {
    grew = false;
    entries.forEach((entry, i) => {
      if (entry?.resource && !visited.has(i) && [...(targets[i] ?? [])].some((t) => visited.has(t))) {
        visit(i);
        grew = true;
      }
    });
  }
  const issues: OperationOutcomeIssue[] = [];
  entries.forEach((entry, i) => {
    if (entry?.resource && !visited.has(i)) {
      issues.push(errorIssue('invariant', 'This document entry is not reachable by following references from the Composition', `${path}.entry[${i}]`));
    }
  });
  return issues;
}

/**
 * All Bundle checks for one Bundle (nested Bundles are reached by the caller's walk).
 * @param bundle - The Bundle.
 * @param path - Its location.
 * @param resourceTypes - Known resource type names.
 * @returns Issues found.
 */
export function checkBundle(bundle: Bundle, path: string, resourceTypes: ReadonlySet<string>): OperationOutcomeIssue[] {
  const issues = [...checkBundleLinks(bundle, path), ...checkBundleFullUrls(bundle, path, resourceTypes)];
  if (bundle.type === 'document' || bundle.type === 'message') {
    issues.push(...checkDocumentOrMessage(bundle, path, resourceTypes));
  } else if (bundle.type === 'searchset') {
    issues.push(...checkSearchSet(bundle, path, resourceTypes));
  }
  return issues;
}
