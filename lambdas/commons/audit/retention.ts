import { z } from 'zod';

/**
 * The audit trail's retention, as data (fhir-profiles/audit/retention.json): how long AuditEvents are
 * kept after the end of the study, and how long a record may wait in the queue and its DLQ (the
 * stack sets the queues' retention from it).
 */
export const retentionPolicySchema = z.object({
  auditEvents: z.object({ retainYearsAfterStudyEnd: z.number().int().min(6), studyEnd: z.string(), why: z.string().min(1) }),
  auditQueue: z.object({ retainDays: z.number().int().min(1).max(14), why: z.string().min(1) }),
  deadLetterQueue: z.object({ retainDays: z.number().int().min(1).max(14), why: z.string().min(1) }),
});

/** The retention policy. */
export type RetentionPolicy = z.infer<typeof retentionPolicySchema>;

/**
 * The first day an AuditEvent may be removed: the study's end plus the retention. The sweep that
 * removes AuditEvents past it runs after that date (documented in README; none is due while the
 * study runs, so no code deletes audit records today).
 * @param policy - The policy.
 * @param studyEnd - The study's end (`ResearchStudy.period.end`, a FHIR date).
 * @returns The date (YYYY-MM-DD).
 */
export function auditRetentionEnd(policy: RetentionPolicy, studyEnd: string): string {
  const end = new Date(`${studyEnd.slice(0, 10)}T00:00:00Z`);
  end.setUTCFullYear(end.getUTCFullYear() + policy.auditEvents.retainYearsAfterStudyEnd);
  return end.toISOString().slice(0, 10);
}
