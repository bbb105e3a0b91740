import { badRequest, conflict, OperationOutcomeError } from '@medplum/core';
import type { Coding, Observation, Quantity, Task, TaskOutput } from '@medplum/fhirtypes';
import { z } from 'zod';
import { deterministicId } from '../../commons/ids.js';
import type { ReviewQuestion } from '../../commons/review/review-task.js';

/** `meta.source` of the records an investigator's decision writes: study data, not the EHR's, not derived. */
export const INVESTIGATOR_SOURCE_PATH = '/investigator';

/** The most an investigator's reason may hold; it is study staff's text about a pseudonymous subject. */
const MAX_REASON = 1000;

/**
 * The `$settle` Parameters: `decision` (valueCode present | absent for a SLEDAI-2K descriptor,
 * met | not-met for an eligibility criterion, valueQuantity in mg/d prednisone-equivalent for a
 * dose) and an optional `reason` (valueString).
 */
const settleParameters = z.object({
  resourceType: z.literal('Parameters'),
  parameter: z
    .array(
      z.union([
        z.object({ name: z.literal('decision'), valueCode: z.enum(['present', 'absent', 'met', 'not-met']) }).strict(),
        z
          .object({
            name: z.literal('decision'),
            valueQuantity: z
              .object({ value: z.number().finite().nonnegative().max(5000), unit: z.string().optional(), system: z.literal('http://unitsofmeasure.org'), code: z.literal('mg/d') })
              .strict(),
          })
          .strict(),
        z.object({ name: z.literal('reason'), valueString: z.string().trim().min(1).max(MAX_REASON) }).strict(),
      ]),
    )
    .min(1)
    .max(2),
});

/** A decision, as read from the `$settle` Parameters. */
export interface Decision {
  readonly value: { readonly code: 'present' | 'absent' | 'met' | 'not-met' } | { readonly quantity: Quantity };
  readonly reason?: string;
}

/**
 * Reads the `$settle` Parameters.
 * @param body - The parsed request body.
 * @returns The decision.
 * @throws OperationOutcomeError 400 when the body is not the documented Parameters.
 */
export function readDecision(body: unknown): Decision {
  const parsed = settleParameters.safeParse(body);
  if (!parsed.success) {
    throw new OperationOutcomeError(
      badRequest('Expected Parameters with one `decision` (valueCode present | absent | met | not-met, or valueQuantity in mg/d) and an optional `reason` (valueString)'),
    );
  }
  const decisions = parsed.data.parameter.filter((p) => p.name === 'decision');
  const reasons = parsed.data.parameter.filter((p) => p.name === 'reason');
  const decision = decisions[0];
  if (decisions.length !== 1 || !decision || reasons.length > 1) {
    throw new OperationOutcomeError(badRequest('Expected exactly one `decision` and at most one `reason`'));
  }
  const reason = reasons[0]?.valueString;
  const value = 'valueCode' in decision ? { code: decision.valueCode } : { quantity: { ...decision.valueQuantity, unit: 'mg/d' } };
  return { value, ...(reason ? { reason } : {}) };
}

/** What settling a Task writes: the completed Task and the record the derivation or screening reads. */
export interface Settlement {
  readonly task: Task & { id: string };
  readonly record: Observation & { id: string };
}

/** What a question accepts. */
const ACCEPTS: Readonly<Record<ReviewQuestion, readonly string[]>> = {
  'review-sledai-descriptor': ['present', 'absent'],
  'review-eligibility-criterion': ['met', 'not-met'],
  'review-glucocorticoid-dose': ['quantity'],
};

/**
 * Settles a review Task with an investigator's decision: the decision becomes study data that the
 * pipeline already reads — a clinician SLEDAI-2K descriptor record for the visit (D4, D5: a clinician
 * record decides), an investigator-decision Observation on the criterion (screening), or an
 * investigator-decision Observation with the prednisone-equivalent dose on the date (D10) — and the
 * Task is completed with the decision, the record and the reason as its `output`.
 * A Task already completed with the same decision settles to itself (a retried request changes
 * nothing); with another decision it is a conflict.
 * @param task - The stored Task.
 * @param decision - The decision.
 * @param base - Canonical base.
 * @param now - Settlement time.
 * @returns The writes.
 * @throws OperationOutcomeError 400 for a decision the question does not take, 409 for a Task not open.
 */
export function settleTask(task: Task & { id: string }, decision: Decision, base: string, now: Date): Settlement {
  const assessments = `${base}/CodeSystem/study-assessments`;
  const question = task.code?.coding?.find((c) => c.system === assessments)?.code as ReviewQuestion | undefined;
  const subject = task.for?.reference;
  const item = task.input?.find((i) => hasCode(i.type.coding, assessments, 'review-item'))?.valueCoding;
  if (!question || !(question in ACCEPTS) || !subject || !item?.code) {
    throw new OperationOutcomeError(badRequest('This Task is not a review Task of the study'));
  }
  const kind = 'code' in decision.value ? decision.value.code : 'quantity';
  if (!ACCEPTS[question].includes(kind)) {
    throw new OperationOutcomeError(badRequest(`A ${question} Task takes a decision of ${ACCEPTS[question].join(' | ')}`));
  }
  const visit = task.input?.find((i) => hasCode(i.type.coding, assessments, 'review-visit'))?.valueCoding;
  const date = task.input?.find((i) => hasCode(i.type.coding, assessments, 'review-date'))?.valueDate ?? now.toISOString().slice(0, 10);
  const record = decisionRecord(question, { subject, item, visit, date, task: task.id, decision, base, now });
  const output: TaskOutput[] = [
    {
      type: { coding: [{ system: assessments, code: 'review-decision' }] },
      ...('code' in decision.value ? { valueCoding: { system: assessments, code: decision.value.code } } : { valueQuantity: decision.value.quantity }),
    },
    { type: { coding: [{ system: assessments, code: 'review-decision-record' }] }, valueReference: { reference: `Observation/${record.id}` } },
    ...(decision.reason ? [{ type: { coding: [{ system: assessments, code: 'review-decision-reason' }] }, valueString: decision.reason }] : []),
  ];
  if (task.status === 'completed') {
    if (JSON.stringify(task.output?.slice(0, 2)) === JSON.stringify(output.slice(0, 2))) {
      return { task, record };
    }
    throw new OperationOutcomeError(conflict('This Task was already settled with another decision'));
  }
  if (task.status !== 'requested') {
    throw new OperationOutcomeError(conflict(`This Task is ${task.status}, not open for a decision`));
  }
  const { meta, ...content } = task;
  return {
    task: { ...content, meta: { ...(meta?.source ? { source: meta.source } : {}) }, status: 'completed', lastModified: now.toISOString(), output },
    record,
  };
}

interface RecordInput {
  readonly subject: string;
  readonly item: Coding;
  readonly visit?: Coding;
  readonly date: string;
  readonly task: string;
  readonly decision: Decision;
  readonly base: string;
  readonly now: Date;
}

function decisionRecord(question: ReviewQuestion, input: RecordInput): Observation & { id: string } {
  const { base } = input;
  const assessments = `${base}/CodeSystem/study-assessments`;
  const header = {
    resourceType: 'Observation' as const,
    id: deterministicId('review-decision', input.task),
    meta: { source: `${base}${INVESTIGATOR_SOURCE_PATH}` },
    identifier: [{ system: `${base}/sid/review-decision`, value: input.task }],
    status: 'final' as const,
    subject: { reference: input.subject },
  };
  const investigatorDecision = { coding: [{ system: assessments, code: 'investigator-decision' }] };
  switch (question) {
    case 'review-sledai-descriptor':
      // A clinician record of the descriptor for the visit: what scoring already lets decide a descriptor.
      return {
        ...header,
        meta: { ...header.meta, profile: [`${base}/StructureDefinition/study-disease-activity-observation`] },
        ...(input.visit ? { extension: [{ url: `${base}/StructureDefinition/study-visit`, valueCoding: { ...input.visit } }] } : {}),
        code: { coding: [{ system: input.item.system, code: input.item.code }] },
        effectiveDateTime: input.date,
        valueBoolean: 'code' in input.decision.value && input.decision.value.code === 'present',
      };
    case 'review-eligibility-criterion': {
      // The investigator-decision shape screening reads (eligibility-criteria.json, settings.investigatorDecision).
      const value = { coding: [{ system: assessments, code: 'code' in input.decision.value ? input.decision.value.code : 'review' }] };
      return {
        ...header,
        meta: { ...header.meta, profile: [`${base}/StructureDefinition/study-disease-activity-observation`] },
        code: investigatorDecision,
        effectiveDateTime: input.now.toISOString().slice(0, 10),
        valueCodeableConcept: value,
        component: [{ code: { coding: [{ system: input.item.system, code: input.item.code }] }, valueCodeableConcept: value }],
      };
    }
    case 'review-glucocorticoid-dose':
      // The dose in effect on the date (D10); no study profile claims a dose decision.
      return {
        ...header,
        code: investigatorDecision,
        effectiveDateTime: input.date,
        component: [
          {
            code: { coding: [{ system: assessments, code: 'prednisone-equivalent-dose' }] },
            ...('quantity' in input.decision.value ? { valueQuantity: input.decision.value.quantity } : {}),
          },
        ],
      };
  }
}

function hasCode(codings: readonly Coding[] | undefined, system: string, code: string): boolean {
  return !!codings?.some((c) => c.system === system && c.code === code);
}
