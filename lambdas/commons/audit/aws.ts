import { once } from '../once.js';
import { LogAudit } from './log-audit.js';
import type { AuditPort } from './port.js';

/**
 * The audit ports of an API function in AWS: the access record as a log line (see LogAudit).
 * @returns A getter for auditAccess (middleware.ts), built on first use.
 */
export function awsAudit(): () => readonly AuditPort[] {
  return once(() => [new LogAudit()]);
}
