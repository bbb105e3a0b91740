import { normalizeOperationOutcome, OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { checkBundle } from './check-bundle.js';
import { checkContainedReferenced } from './check-contained.js';
import { checkNotEmpty } from './check-empty.js';
import { checkIntegerRange } from './check-integer.js';
import { checkNarrativeDiv } from './check-narrative.js';
import { checkPeriod } from './check-period.js';
import { checkResourceId } from './check-resource-id.js';
import { checkValue } from './check-values.js';
import { checkVitalSignCode } from './check-vital-signs.js';
import { ensureDefinitions, resourceTypeNames } from './definitions.js';
import { collectResourceTypes, walkResource } from './typed-walk.js';

const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt']);

/** How strict base validation is where the HL7 validator applies a profile that base R4 mandates. */
export interface ValidateBaseOptions {
  /**
   * Severity of a vital-signs Observation that misses the R4 vital-signs profile's LOINC code (Synthea
   * codes blood pressure 55284-4 without 85354-9). `error` agrees with the HL7 validator; the ingest
   * uses `warning`, as it re-profiles what it keeps and drops the rest, and an EHR export must not fail
   * whole for it.
   */
  readonly vitalSignsProfile?: 'error' | 'warning';
}

/**
 * The checks the HL7 validator makes against base R4 that @medplum/core's validator does not, in one
 * typed walk over the resource.
 * @param resource - A resource whose types are already indexed.
 * @param options - Strictness.
 * @returns Issues found.
 */
export function extraBaseChecks(resource: Resource, options: ValidateBaseOptions = {}): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const types = resourceTypeNames();
  walkResource(resource, {
    resource(r, path) {
      issues.push(...checkResourceId(r, path), ...checkContainedReferenced(r, path));
      if (r.resourceType === 'Bundle') {
        issues.push(...checkBundle(r, path, types));
      } else if (r.resourceType === 'Observation') {
        const vital = checkVitalSignCode(r, path);
        issues.push(...(options.vitalSignsProfile === 'warning' ? vital.map((i) => ({ ...i, severity: 'warning' as const })) : vital));
      }
    },
    value(walked) {
      const { value, type, path } = walked;
      issues.push(...checkNotEmpty(value, path), ...checkValue(walked));
      if (Array.isArray(value)) {
        return;
      }
      if (type === 'Period' && typeof value === 'object' && value !== null) {
        issues.push(...checkPeriod(value, path));
      } else if (type === 'xhtml') {
        issues.push(...checkNarrativeDiv(value, path));
      } else if (INTEGER_TYPES.has(type)) {
        issues.push(...checkIntegerRange(value, path));
      }
    },
  });
  return issues;
}

/**
 * Validates a resource (Bundles and contained resources included) against base FHIR R4, with no
 * profiles and no terminology server: @medplum/core's validateResource plus the checks in
 * {@link extraBaseChecks}, so that the verdict agrees with the HL7 Java validator.
 *
 * @example
 * const issues = validateBase(parseFhirJson(body));
 * if (issues.some(isBlocking)) throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
 *
 * @param resource - The parsed resource (see parseFhirJson).
 * @param options - Strictness (default: as the HL7 validator).
 * @returns All issues; the resource is valid when none has severity error or fatal.
 */
export function validateBase(resource: Resource, options: ValidateBaseOptions = {}): OperationOutcomeIssue[] {
  ensureDefinitions(collectResourceTypes(resource));
  let issues: OperationOutcomeIssue[];
  try {
    issues = validateResource(resource);
  } catch (err) {
    // validateResource throws once it has found an error; the outcome carries all its issues.
    issues = err instanceof OperationOutcomeError ? [...(err.outcome.issue ?? [])] : [...(normalizeOperationOutcome(err).issue ?? [])];
  }
  try {
    issues.push(...extraBaseChecks(resource, options));
  } catch (err) {
    issues.push(...(normalizeOperationOutcome(err).issue ?? []));
  }
  return issues;
}
