import type { Logger } from '@aws-lambda-powertools/logger';
import type { AccessRecord } from '../commons/audit/access-record.js';
import { writeAuditEvents } from '../commons/audit/write.js';
import type { StudyStore } from '../commons/store/port.js';

/**
 * Commits access records as AuditEvents (ids from the request ids: a batch delivered again makes no
 * new version).
 * @param store - The study store.
 * @param records - The records.
 * @param logger - The function's logger.
 * @returns How many were not committed.
 */
export async function commitAccessRecords(store: StudyStore, records: readonly AccessRecord[], logger: Logger): Promise<number> {
  const results = await writeAuditEvents(store, records);
  const failed = results.filter((r) => r.status === 'error');
  for (const f of failed) logger.error('AuditEvent not committed', { error: f.status === 'error' ? f.error.name : '' });
  return failed.length;
}
