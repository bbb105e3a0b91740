import type { Resource } from '@medplum/fhirtypes';
import { indexFacts } from '../../commons/store/index-keys.js';
import type { StudyStore } from '../../commons/store/port.js';
import { EXPORT_GROUPS, type ExportGroupId } from './groups.js';
import type { ExportParams } from './params.js';

/**
 * Which resources an export takes: everything (system level), everything in some patient's
 * compartment (Patient level, the screened-patients Group), or the compartments of a Group's members
 * (the enrolled subjects). A member list is pseudonyms only: a few bytes per subject, whatever the data size.
 */
export interface ExportScope {
  /** Whether the resource belongs in the export. */
  includes(resource: Resource): boolean;
  /** The patients of the export, when it has a definite list (for the analysis dataset). */
  readonly members?: readonly string[];
}

/**
 * The scope of an export.
 * @param params - The export's parameters.
 * @param store - The store (a Group's members are read from it).
 * @returns The scope.
 */
export async function exportScope(params: ExportParams, store: StudyStore): Promise<ExportScope> {
  if (params.level === 'system') return { includes: () => true };
  const group = params.group === undefined ? undefined : EXPORT_GROUPS[params.group as ExportGroupId];
  if (group === undefined || group.members === 'all-patients') {
    return { includes: (r) => indexFacts(r).patient !== undefined };
  }
  const members = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.search({ resourceType: 'ResearchSubject', statuses: group.statuses, count: 1000, ...(cursor ? { cursor } : {}) });
    for (const subject of page.resources) {
      const patient = indexFacts(subject).patient;
      if (patient) members.add(patient);
    }
    cursor = page.next;
  } while (cursor);
  return { includes: (r) => members.has(indexFacts(r).patient ?? ''), members: [...members].sort() };
}
