import type { StudyStore, WriteResult } from '../store/port.js';
import type { AccessRecord } from './access-record.js';
import { auditEventOf } from './balp.js';

/** AuditEvents per store transaction: one atomic commit of many costs a fifth of many commits of one (measured on dynalite). */
const CHUNK = 100;

/**
 * Commits the AuditEvents of access records to the study store, in atomic chunks (a failed chunk
 * fails all its records, which their caller retries: nothing is half-written, and a record written
 * twice makes no new version, since the ids derive from the request ids). No study event: an
 * AuditEvent is not study data.
 * @param store - The study store.
 * @param records - The records.
 * @returns One write result per record, in order.
 */
export async function writeAuditEvents(store: StudyStore, records: readonly AccessRecord[]): Promise<WriteResult[]> {
  const events = records.map(auditEventOf);
  // One write per id: a record delivered twice in one batch is one AuditEvent (and a transaction refuses duplicates).
  const unique = [...new Map(events.map((e) => [e.id, e])).values()];
  const byId = new Map<string, WriteResult>();
  for (let i = 0; i < unique.length; i += CHUNK) {
    const chunk = unique.slice(i, i + CHUNK);
    let results: WriteResult[];
    try {
      results = await store.commit(chunk, { atomic: true });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      results = chunk.map(() => ({ status: 'error', error }));
    }
    chunk.forEach((e, k) => byId.set(e.id, results[k] ?? { status: 'error', error: new Error('no write result') }));
  }
  return events.map((e) => byId.get(e.id) ?? { status: 'error', error: new Error('no write result') });
}
