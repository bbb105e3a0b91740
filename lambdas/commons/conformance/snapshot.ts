import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

/** Canonical URL prefix of the FHIR R4 core StructureDefinitions. */
export const FHIR_CORE_SD = 'http://hl7.org/fhir/StructureDefinition/';

/** A differential could not be applied to its base (unknown base, element or type). */
export class SnapshotError extends Error {
  public override readonly name = 'SnapshotError';
}

/** Finds a StructureDefinition that already has a snapshot, by canonical URL. */
export type SnapshotResolver = (url: string) => StructureDefinition | undefined;

// Documentation the validators never read; dropping it keeps snapshots (and cold starts) small.
const DROPPED_ELEMENT_KEYS = ['mapping', 'comment', 'requirements', 'alias', 'example', 'extension', 'representation'] as const;

/**
 * Copies an element without its documentation-only parts (mappings, comments, examples, xpaths).
 * `definition` stays: a snapshot element must have one (constraint sdf-3).
 * @param element - A snapshot element of a base definition.
 * @returns A trimmed deep copy.
 */
export function trimElement(element: ElementDefinition): ElementDefinition {
  const copy = structuredClone(element) as Record<string, unknown> & ElementDefinition;
  for (const key of DROPPED_ELEMENT_KEYS) {
    delete copy[key];
  }
  if (copy.binding) {
    delete copy.binding.extension;
  }
  for (const c of copy.constraint ?? []) {
    delete c.xpath;
    delete c.extension;
  }
  if (copy.constraint?.length === 0) {
    delete copy.constraint;
  }
  return copy;
}

/**
 * Builds the snapshot of a constraint profile: the base snapshot with the differential's element
 * constraints (cardinality, fixed/pattern, binding, type, constraint, slicing, documentation) applied
 * by element id. Children of a complex type are unfolded from the datatype's definition when the
 * differential constrains them (e.g. `Observation.meta.source`), and extension slices are unfolded from
 * the extension's own snapshot, as the FHIR snapshot algorithm does.
 *
 * This is deliberately small: it supports the constructs the study's profiles use, not all of FHIR
 * profiling (no re-slicing, no type slices on choice elements).
 * @param profile - A StructureDefinition with a differential.
 * @param resolve - Resolves base and datatype/extension definitions that have snapshots.
 * @returns The snapshot elements.
 */
export function buildSnapshot(profile: StructureDefinition, resolve: SnapshotResolver): ElementDefinition[] {
  const baseUrl = profile.baseDefinition;
  const base = baseUrl ? resolve(baseUrl) : undefined;
  if (!base?.snapshot?.element) {
    throw new SnapshotError(`${profile.url ?? profile.id ?? '?'}: base ${baseUrl ?? '(none)'} has no snapshot`);
  }
  const elements = base.snapshot.element.map(trimElement);
  for (const diff of profile.differential?.element ?? []) {
    const id = diff.id ?? diff.path;
    if (!id) {
      throw new SnapshotError(`${profile.url ?? '?'}: differential element without id or path`);
    }
    let index = elements.findIndex((e) => e.id === id);
    if (index < 0) {
      index = diff.sliceName ? addSlice(elements, id, diff, resolve) : unfoldTo(elements, id, resolve);
    }
    const target = elements[index];
    if (!target) {
      throw new SnapshotError(`${profile.url ?? '?'}: cannot place element ${id}`);
    }
    elements[index] = merge(target, diff);
  }
  return elements;
}

function merge(target: ElementDefinition, diff: ElementDefinition): ElementDefinition {
  const rest = structuredClone(diff) as unknown as Record<string, unknown>;
  delete rest.id;
  delete rest.path;
  delete rest.constraint;
  const merged: ElementDefinition = { ...target, ...rest };
  const constraint = diff.constraint;
  if (constraint) {
    // Constraints accumulate: a profile can add invariants, never remove the base's.
    merged.constraint = [...(target.constraint ?? []), ...structuredClone(constraint)];
  }
  return merged;
}

/** Index just past the subtree (children and slices) of the element at `index`. */
function subtreeEnd(elements: ElementDefinition[], index: number): number {
  const id = elements[index]?.id ?? '';
  let end = index + 1;
  while (end < elements.length) {
    const next = elements[end]?.id ?? '';
    if (!next.startsWith(`${id}.`) && !next.startsWith(`${id}:`)) {
      break;
    }
    end++;
  }
  return end;
}

function addSlice(elements: ElementDefinition[], id: string, diff: ElementDefinition, resolve: SnapshotResolver): number {
  const slicedId = id.slice(0, id.lastIndexOf(':'));
  const slicedIndex = elements.findIndex((e) => e.id === slicedId);
  const sliced = elements[slicedIndex];
  if (!sliced) {
    throw new SnapshotError(`Slice ${id}: no element ${slicedId}`);
  }
  const slice: ElementDefinition = { ...structuredClone(sliced), id, sliceName: diff.sliceName };
  delete slice.slicing;
  const at = subtreeEnd(elements, slicedIndex);
  const profileUrl = diff.type?.[0]?.profile?.[0];
  const children = profileUrl ? childrenOf(resolve(profileUrl), id, slice.path ?? '') : [];
  elements.splice(at, 0, slice, ...children);
  return at;
}

/** Makes sure an element id exists, unfolding its parent's datatype when needed. */
function unfoldTo(elements: ElementDefinition[], id: string, resolve: SnapshotResolver): number {
  const parentId = id.slice(0, id.lastIndexOf('.'));
  if (!parentId) {
    throw new SnapshotError(`No element ${id} in the base`);
  }
  let parentIndex = elements.findIndex((e) => e.id === parentId);
  if (parentIndex < 0) {
    parentIndex = unfoldTo(elements, parentId, resolve);
  }
  const parent = elements[parentIndex] as ElementDefinition;
  const codes = [...new Set((parent.type ?? []).map((t) => t.code))];
  if (codes.length !== 1 || !codes[0]) {
    throw new SnapshotError(`Cannot unfold ${parentId}: it must have exactly one type (has ${codes.join(', ') || 'none'})`);
  }
  const children = childrenOf(resolve(FHIR_CORE_SD + codes[0]), parentId, parent.path ?? '');
  elements.splice(parentIndex + 1, 0, ...children);
  const index = elements.findIndex((e) => e.id === id);
  if (index < 0) {
    throw new SnapshotError(`No element ${id} in type ${codes[0]}`);
  }
  return index;
}

/** The non-root snapshot elements of a type, re-rooted under an element id and path. */
function childrenOf(type: StructureDefinition | undefined, id: string, path: string): ElementDefinition[] {
  const typeElements = type?.snapshot?.element;
  const root = typeElements?.[0];
  if (!typeElements || !root?.id || !root.path) {
    throw new SnapshotError(`No snapshot for the type of ${id}`);
  }
  const rootId = root.id;
  const rootPath = root.path;
  return typeElements.slice(1).map((e) => ({
    ...trimElement(e),
    id: id + (e.id ?? '').slice(rootId.length),
    path: path + (e.path ?? '').slice(rootPath.length),
  }));
}

/**
 * Orders StructureDefinitions so that each comes after its base and after the extensions it uses,
 * which is the order their snapshots must be built in.
 * @param profiles - Study StructureDefinitions.
 * @returns The same definitions, dependencies first.
 */
export function dependencyOrder(profiles: readonly StructureDefinition[]): StructureDefinition[] {
  const byUrl = new Map(profiles.map((p) => [p.url, p]));
  const done = new Set<string>();
  const ordered: StructureDefinition[] = [];
  const visit = (p: StructureDefinition, trail: readonly string[]): void => {
    const url = p.url ?? '';
    if (done.has(url)) {
      return;
    }
    if (trail.includes(url)) {
      throw new SnapshotError(`Circular profile dependency: ${[...trail, url].join(' -> ')}`);
    }
    const deps = [p.baseDefinition, ...(p.differential?.element ?? []).flatMap((e) => (e.type ?? []).flatMap((t) => t.profile ?? []))];
    for (const dep of deps) {
      const d = dep ? byUrl.get(dep) : undefined;
      if (d && d !== p) {
        visit(d, [...trail, url]);
      }
    }
    done.add(url);
    ordered.push(p);
  };
  for (const p of profiles) {
    visit(p, []);
  }
  return ordered;
}
