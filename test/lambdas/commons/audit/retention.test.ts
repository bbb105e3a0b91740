/**
 * The audit trail's retention as data (issue 17: "kept per the study's retention").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditRetentionEnd, retentionPolicySchema } from '../../../../lambdas/commons/audit/retention.js';
import { REPO_ROOT } from '../../../support/local-app.js';

const policy = retentionPolicySchema.parse(JSON.parse(readFileSync(join(REPO_ROOT, 'fhir-profiles/audit/retention.json'), 'utf8')));

describe('audit retention policy', () => {
  it('keeps AuditEvents 25 years after the study ends (EU CTR 536/2014 Art. 58), at least HIPAA 6 years', () => {
    expect(policy.auditEvents.retainYearsAfterStudyEnd).toBeGreaterThanOrEqual(25);
    const study = JSON.parse(readFileSync(join(REPO_ROOT, 'fhir-profiles/ResearchStudy/nct04893161.json'), 'utf8'));
    expect(auditRetentionEnd(policy, study.period.end)).toBe(`${Number(study.period.end.slice(0, 4)) + 25}${study.period.end.slice(4)}`);
  });

  it('refuses a policy below the 6-year floor or a queue retention SQS does not allow', () => {
    expect(() => retentionPolicySchema.parse({ ...policy, auditEvents: { ...policy.auditEvents, retainYearsAfterStudyEnd: 2 } })).toThrow();
    expect(() => retentionPolicySchema.parse({ ...policy, deadLetterQueue: { ...policy.deadLetterQueue, retainDays: 30 } })).toThrow();
  });
});
