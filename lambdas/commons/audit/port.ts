import type { AccessRecord } from './access-record.js';

/**
 * Where the HTTP edge hands an access record: a queue, never the store itself, so that recording an
 * access costs the request one enqueue. `record` resolves once the record is durable in the queue
 * (AWS: EventBridge accepted it) or held by the process (local); it rejects if neither happened.
 */
export interface AuditPort {
  record(record: AccessRecord): Promise<void>;
}
