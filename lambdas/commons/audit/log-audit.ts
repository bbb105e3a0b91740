import type { AccessRecord } from './access-record.js';
import type { AuditPort } from './port.js';

/** The field of the log line that carries an access record; infra/audit.ts subscribes the audit function to it. */
export const AUDIT_RECORD_FIELD = 'auditRecord';

/**
 * Access records as log lines, the API functions' audit queue in AWS: one JSON line on stderr, which
 * Lambda ships (as it ships stdout) to the function's own KMS-encrypted log group, where a subscription filter hands each
 * line to the audit function (asynchronous invocation: retries, then a DLQ), and the line itself stays
 * for the log group's retention, a second copy to replay from. Writing it costs the request a few
 * microseconds, needs no network call and no new permission on a function that only reads (serve).
 *
 * A raw write, not the function's Logger: the record must reach the log whatever the log level, as
 * pure JSON (Lambda prefixes `console.*` output, not raw writes). stderr, so that stdout stays the
 * handler's alone where a harness reads it (test/infra/bundles.test.ts).
 */
export class LogAudit implements AuditPort {
  constructor(private readonly write: (line: string) => void = (line) => void process.stderr.write(line)) {}

  record(record: AccessRecord): Promise<void> {
    this.write(`${JSON.stringify({ [AUDIT_RECORD_FIELD]: record })}\n`);
    return Promise.resolve();
  }
}
