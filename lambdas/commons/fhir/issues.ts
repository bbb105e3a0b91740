import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

/** Issue codes the base checks use (a subset of FHIR's IssueType). */
export type BaseIssueCode = 'invariant' | 'structure' | 'value';

/**
 * Builds an error issue in the shape of @medplum/core's createOperationOutcomeIssue, whose own
 * IssueType union lacks 'value'. Messages never quote instance values: they may be patient data.
 * @param code - The issue type.
 * @param message - What is wrong, and the rule key when there is one.
 * @param expression - FHIRPath-like location, e.g. `Bundle.entry[1].fullUrl`.
 * @returns The issue.
 */
export function errorIssue(code: BaseIssueCode, message: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text: message }, expression: [expression] };
}

/**
 * True when an issue makes the resource invalid (severity error or fatal).
 * @param issue - The issue.
 * @returns Whether it is blocking.
 */
export function isBlocking(issue: OperationOutcomeIssue): boolean {
  return issue.severity === 'error' || issue.severity === 'fatal';
}
