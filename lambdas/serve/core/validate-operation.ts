import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue, StructureDefinition } from '@medplum/fhirtypes';
import type { Conformance } from '../../commons/conformance/index.js';
import { checkFanOut } from '../../commons/fhir/check-fan-out.js';
import { parseFhirJson } from '../../commons/fhir/parse-body.js';
import { validateBase } from '../../commons/fhir/validate-base.js';
import type { Limits } from '../../commons/limits.js';

/**
 * `POST [type]/$validate` (FHIR R4 resource-operation-validate): base R4 validation of one resource,
 * and study-profile validation against `?profile=` or each study profile it claims. Nothing is
 * stored. The answer is an OperationOutcome at 200 whatever it finds (an "All OK" information issue
 * when nothing); 400 only when there is nothing to validate (no JSON resource, another type, an
 * unknown profile).
 * @param type - The type of the route.
 * @param body - The request body (the resource, or a Parameters with a `resource` part).
 * @param profile - The `profile` query parameter.
 * @param conformance - The study's conformance resources.
 * @param limits - Cost limits (fan-out of the body).
 * @returns The outcome.
 */
export function validateOperation(type: string, body: Buffer | undefined, profile: string | undefined, conformance: Conformance, limits: Limits): OperationOutcome {
  if (!body || body.length === 0) throw new OperationOutcomeError(badRequest('$validate needs the resource as its body', 'body'));
  const parsed = parseFhirJson(body);
  checkFanOut(parsed, limits);
  const resource = parsed.resourceType === 'Parameters' ? parsed.parameter?.find((p) => p.name === 'resource')?.resource : parsed;
  if (!resource || resource.resourceType !== type) {
    throw new OperationOutcomeError(badRequest(`$validate on ${type} needs a ${type} (or a Parameters whose 'resource' is one)`, 'resourceType'));
  }
  const profiles = profile !== undefined ? [profile] : (resource.meta?.profile ?? []).filter((p) => isStudyProfile(p, conformance));
  for (const url of profiles) {
    if (!isStudyProfile(url, conformance)) throw new OperationOutcomeError(badRequest(`Profile '${url.slice(0, 120)}' is not one of the study's`, 'profile'));
  }
  const issues: OperationOutcomeIssue[] =
    profiles.length === 0 ? validateBase(resource) : dedupe(profiles.flatMap((url) => conformance.validateProfile(resource, url)));
  return {
    resourceType: 'OperationOutcome',
    issue: issues.length > 0 ? issues : [{ severity: 'information', code: 'informational', details: { text: 'All OK' } }],
  };
}

function isStudyProfile(url: string, conformance: Conformance): boolean {
  return conformance.byUrl<StructureDefinition>(url)?.resourceType === 'StructureDefinition';
}

function dedupe(issues: readonly OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = JSON.stringify(i);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
