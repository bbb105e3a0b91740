import type { Resource } from '@medplum/fhirtypes';
import { indexFacts } from './index-keys.js';

/**
 * Where a resource lives in the study table, as pure functions (no SDK).
 *
 * - A resource in a patient compartment has its home in the subject's partition `S#{patient}`: there
 *   its current version is kept with its body (`C#{type}#{id}`), so a subject's whole record is one
 *   paged Query. A resource outside every compartment (Provenance, AuditEvent) is its own home,
 *   `R#{type}#{id}`.
 * - Every resource keeps its versions (`V#{n}`) and a small head (`H`: current version, content hash,
 *   transaction, lastUpdated and home) in `R#{type}#{id}`: reads, vreads and history, and the heads a
 *   commit reads in one BatchGetItem.
 * - A home carries a lock item (`LOCK`) while a commit writes into it: a commit takes the locks of the
 *   homes it writes (in key order, so two commits cannot wait for each other), and then writes every
 *   item with unconditional batch writes.
 */

/** Partition of a resource's versions and head (and the home of a resource in no compartment). */
export const resourcePk = (type: string, id: string): string => `R#${type}#${id}`;
/** Partition of a subject: the current versions of its compartment, with their bodies. */
export const subjectPk = (patient: string): string => `S#${patient}`;
/** Sort key of a current version in its subject's partition. */
export const currentSk = (type: string, id: string): string => `C#${type}#${id}`;
/** Sort key prefix of every current version in a subject's partition. */
export const CURRENT_PREFIX = 'C#';
/** Sort key of a resource's head. */
export const HEAD_SK = 'H';
/** Sort key of a home's lock. */
export const LOCK_SK = 'LOCK';
/** Sort key of a version. */
export const versionSk = (version: number): string => `V#${String(version).padStart(10, '0')}`;

/**
 * The home of a resource version: its subject's partition, or its own.
 * @param resource - The resource (its compartment decides).
 * @returns The home partition key.
 */
export function homeOf(resource: Resource & { id: string }): string {
  const patient = indexFacts(resource).patient;
  return patient === undefined ? resourcePk(resource.resourceType, resource.id) : subjectPk(patient);
}

/**
 * Whether a home is a subject's partition (which keeps current versions).
 * @param home - A home partition key.
 * @returns True for `S#...`.
 */
export const isSubjectHome = (home: string): boolean => home.startsWith('S#');
