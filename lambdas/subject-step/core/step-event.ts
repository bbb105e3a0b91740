/**
 * The one outbox event of a subject step, and which events start a step. Pure.
 */
import { deterministicId } from '../../commons/ids.js';
import { contentHash } from '../../commons/store/resource-codec.js';
import type { StudyDataChanged } from '../../commons/store/port.js';
import type { StepChange } from './record-view.js';

/** Refs an event may name (the consumers' envelope accepts no more); a larger step names none, and readers load the subject. */
export const MAX_CHANGED_REFS = 1000;

/**
 * Whether an event starts a subject step: a change of source data (hospital data, imports, review
 * decisions; no origin means source). The step's own results (`derived`) never do, so a changed
 * score does not send the subject round again; subscribers still hear them.
 * @param event - A study event.
 * @returns True for a source event.
 */
export function startsStep(event: Pick<StudyDataChanged, 'origin'>): boolean {
  return event.origin !== 'derived';
}

/**
 * The `derived` event committed with the step's writes: which resources it created or changed. Its
 * id is a function of the subject and of each change (the version it replaces and the new content),
 * so a step re-run after its commit (a redelivered event) finds nothing to change and emits nothing,
 * and the same transition never gets two ids.
 * @param patient - The pseudonym.
 * @param changes - What the step writes (not empty).
 * @param at - The step's instant.
 * @returns The event.
 */
export function stepEvent(patient: string, changes: readonly StepChange[], at: Date): StudyDataChanged {
  const refs = changes.map((c) => `${c.resource.resourceType}/${c.resource.id}`).sort();
  return {
    eventId: deterministicId(
      'subject-step',
      patient,
      ...changes.map((c) => `${c.resource.resourceType}/${c.resource.id}@${c.previous?.meta.versionId ?? '0'}:${contentHash(c.resource)}`).sort(),
    ),
    patient,
    kinds: [...new Set(changes.map((c) => c.resource.resourceType))].sort(),
    occurredAt: at.toISOString(),
    origin: 'derived',
    ...(refs.length <= MAX_CHANGED_REFS ? { changed: refs } : {}),
  };
}
