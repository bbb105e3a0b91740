import type { CloudWatchLogsDecodedData } from 'aws-lambda';
import { z } from 'zod';
import { accessRecordSchema, type AccessRecord } from '../commons/audit/access-record.js';
import { AUDIT_RECORD_FIELD } from '../commons/audit/log-audit.js';
import { redactPath } from '../commons/audit/redact.js';
import { FHIR_PREFIX } from '../commons/http/request.js';

/** A line of the API's access log (infra/study-stack.ts `accessLogSettings`); `-` where API Gateway had no value. */
const accessLogLine = z.object({
  requestId: z.string().min(1),
  routeKey: z.string(),
  status: z.coerce.number().int(),
  ip: z.string().optional(),
  clientId: z.string().optional(),
  sub: z.string().optional(),
  integrationLatency: z.string().optional(),
});

const present = (v: string | undefined): string | undefined => (v && v !== '-' ? v.slice(0, 256) : undefined);

/**
 * The access records in a batch of CloudWatch Logs lines the audit function is subscribed to:
 * - an API function's access record line (see log-audit.ts), as it was;
 * - an API access-log line of a request API Gateway refused itself (401: no or bad token; 403: the
 *   route's scope missing) and no function ever saw. The log has the route, never the path (see
 *   study-stack.ts), so the record names the route template, and no patient.
 * Other lines are skipped.
 * @param data - The decoded subscription payload.
 * @param baseUrl - The FHIR base (the audit source).
 * @param onUnreadable - Told of each access-record line that is not a valid record (the caller logs it: never silently lost).
 * @returns The records.
 */
export function accessRecordsOfLogs(data: CloudWatchLogsDecodedData, baseUrl: string, onUnreadable: (logEventId: string) => void = () => undefined): AccessRecord[] {
  const records: AccessRecord[] = [];
  for (const line of data.logEvents) {
    let json: unknown;
    try {
      json = JSON.parse(line.message);
    } catch {
      continue;
    }
    if (typeof json !== 'object' || json === null) continue;
    const carried = (json as Record<string, unknown>)[AUDIT_RECORD_FIELD];
    if (carried !== undefined) {
      const parsed = accessRecordSchema.safeParse(carried);
      if (parsed.success) records.push(parsed.data);
      else onUnreadable(line.id);
      continue;
    }
    const access = accessLogLine.safeParse(json);
    if (!access.success || ![401, 403].includes(access.data.status) || present(access.data.integrationLatency) !== undefined) continue;
    const [method = 'GET', route = '/'] = access.data.routeKey.split(' ');
    const path = route.startsWith(FHIR_PREFIX) ? route.slice(FHIR_PREFIX.length) || '/' : route;
    const clientId = present(access.data.clientId);
    const subject = present(access.data.sub);
    const sourceIp = present(access.data.ip);
    records.push({
      requestId: access.data.requestId,
      recorded: new Date(line.timestamp).toISOString(),
      method,
      path: redactPath(path, false),
      query: '',
      status: access.data.status,
      ...(clientId ? { clientId } : {}),
      ...(subject ? { subject } : {}),
      ...(sourceIp ? { sourceIp } : {}),
      baseUrl,
      written: [],
      patients: [],
    });
  }
  return records;
}
