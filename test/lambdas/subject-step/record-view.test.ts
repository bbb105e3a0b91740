/*
 * Issue 13: the subject step's record in memory and its one event. Unchanged is the store's notion
 * (content without meta.versionId/lastUpdated, FHIR R4 resource.html#Meta), so an unchanged
 * recompute commits nothing; the event names each changed resource as `Type/id` and never sends the
 * subject round again (origin `derived`).
 */
import type { Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { StoredResource } from '../../../lambdas/commons/store/port.js';
import { RecordView } from '../../../lambdas/subject-step/core/record-view.js';
import { MAX_CHANGED_REFS, startsStep, stepEvent } from '../../../lambdas/subject-step/core/step-event.js';

const AT = new Date('2026-03-01T10:00:00Z');
const obs = (id: string, value: number, version?: string): Observation & { id: string } => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '777-3' }] },
  valueQuantity: { value },
  meta: { source: 'https://example.org/derived', ...(version ? { versionId: version, lastUpdated: '2026-01-01T00:00:00Z' } : {}) },
});
const stored = (id: string, value: number, version = '1'): StoredResource => obs(id, value, version) as StoredResource;

describe('RecordView', () => {
  it('keeps no write equal to what the record holds, so an unchanged recompute writes nothing', () => {
    const view = new RecordView([stored('a', 1, '3')], AT);
    expect(view.apply([obs('a', 1)])).toBe(0);
    expect(view.changes()).toEqual([]);
  });

  it('lets the next stage see a changed result, versioned after the one it replaces', () => {
    const view = new RecordView([stored('a', 1, '3')], AT);
    expect(view.apply([obs('a', 2), obs('b', 5)])).toBe(2);
    const seen = new Map(view.resources().map((r) => [r.id, r as StoredResource<Observation>]));
    expect(seen.get('a')).toMatchObject({ valueQuantity: { value: 2 }, meta: { versionId: '4', lastUpdated: AT.toISOString() } });
    expect(seen.get('b')).toMatchObject({ meta: { versionId: '1' } });
    expect(view.changes().map((c) => [c.resource.id, c.previous?.meta.versionId])).toEqual([
      ['a', '3'],
      ['b', undefined],
    ]);
  });

  it('lets a later stage win, and writes nothing when it puts back what was loaded', () => {
    const view = new RecordView([stored('a', 1)], AT);
    view.apply([obs('a', 2)]);
    view.apply([obs('a', 1)]);
    expect(view.changes()).toEqual([]);
    view.apply([obs('a', 7)]);
    expect(view.changes().map((c) => (c.resource as Observation).valueQuantity?.value)).toEqual([7]);
  });
});

describe('stepEvent and startsStep', () => {
  it('names what changed, as derived, with an id of the transitions', () => {
    const view = new RecordView([stored('a', 1, '2')], AT);
    view.apply([obs('a', 2), obs('b', 3)]);
    const event = stepEvent('p-1', view.changes(), AT);
    expect(event).toMatchObject({ patient: 'p-1', origin: 'derived', kinds: ['Observation'], changed: ['Observation/a', 'Observation/b'], occurredAt: AT.toISOString() });
    // The same transitions give the same id (a replay is de-duplicated); another transition another id.
    expect(stepEvent('p-1', view.changes(), new Date()).eventId).toBe(event.eventId);
    const again = new RecordView([stored('a', 2, '3')], AT);
    again.apply([obs('a', 1)]);
    expect(stepEvent('p-1', again.changes(), AT).eventId).not.toBe(event.eventId);
  });

  it('names no refs beyond what the consumers read, rather than a partial list', () => {
    const view = new RecordView([], AT);
    view.apply(Array.from({ length: MAX_CHANGED_REFS + 1 }, (_, i) => obs(`o-${i}`, i)));
    expect(stepEvent('p-1', view.changes(), AT).changed).toBeUndefined();
  });

  it('starts on source events and events without an origin, never on derived ones', () => {
    expect([startsStep({}), startsStep({ origin: 'source' }), startsStep({ origin: 'derived' })]).toEqual([true, true, false]);
  });
});
