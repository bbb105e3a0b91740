import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { normalizeOperationOutcome } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { isBlocking } from '../../../../lambdas/commons/fhir/issues.js';
import { parseFhirJson } from '../../../../lambdas/commons/fhir/parse-body.js';
import { validateBase } from '../../../../lambdas/commons/fhir/validate-base.js';
import { DATA_DIR } from './data.js';

/*
 * Agreement with the HL7 Java validator on the R4 cases of its official test suite
 * (FHIR/fhir-test-cases, validator/), for the verdict only: valid = no error or fatal issue.
 */

const CASES = join(DATA_DIR, 'fhir-test-cases-validator');

interface ManifestCase {
  name: string;
  file: string;
  java?: string | { errorCount?: number };
}

/** Cases left out, each with the reason. Everything else in the manifest subset is compared. */
const SKIPPED: Record<string, string> = {
  'bundle-id-5': 'needs a terminology server: its only error is a CVX display name check',
  'obs-temp-code2': 'needs a terminology server: its only error is an unknown SNOMED CT code',
  'json-comments-1-yes': "non-default validator option allow-comments; our ingest follows the default and rejects comments",
  'json-comments-2-yes': "non-default validator option allow-comments; our ingest follows the default and rejects comments",
  'contained-resource-bad-id-ignore': 'non-default validator option validateContains=IGNORE (contained resources not validated)',
  'bundle-good-profile': 'XML case file (and a profile snapshot generation test); not part of the JSON subset',
  'xml-bad-entities': 'XML case file; the JSON twin xml-bad-entities-json is compared',
  'bundle-resolve-deep': 'needs a supporting profile (bundle-resolve-deep-profile.json) and its Java outcome is not in the subset',
  'obs-max-decimal': 'profile case (maxValueDecimal in a profile); its Java outcome is not in the subset',
};

function expectedErrors(c: ManifestCase): number | undefined {
  if (typeof c.java === 'object') {
    return c.java.errorCount;
  }
  const file = c.java === undefined ? undefined : join(CASES, 'outcomes', basename(c.java));
  if (!file || !existsSync(file)) {
    return undefined;
  }
  const outcome = JSON.parse(readFileSync(file, 'utf8')) as OperationOutcome;
  return (outcome.issue ?? []).filter(isBlocking).length;
}

function ourIssues(file: string): OperationOutcomeIssue[] {
  try {
    return validateBase(parseFhirJson(readFileSync(join(CASES, 'cases', file))));
  } catch (err) {
    return normalizeOperationOutcome(err).issue ?? [];
  }
}

const manifest = JSON.parse(readFileSync(join(CASES, 'manifest-subset.json'), 'utf8')) as { 'test-cases': ManifestCase[] };
const compared = manifest['test-cases'].filter((c) => !(c.name.replace(/ \/ R4$/, '') in SKIPPED));

describe('Agreement with the HL7 Java validator', () => {
  it('has a reason for every skipped case and a case file and outcome for every compared one', () => {
    const names = new Set(manifest['test-cases'].map((c) => c.name));
    for (const skipped of Object.keys(SKIPPED)) {
      expect(names.has(skipped)).toBe(true);
    }
    for (const c of compared) {
      expect(existsSync(join(CASES, 'cases', c.file)), c.name).toBe(true);
      expect(expectedErrors(c), c.name).toBeDefined();
    }
  });

  it.each(compared.map((c) => [c.name, c] as const))('agrees on %s', (_name, c) => {
    const expected = expectedErrors(c) as number;
    const errors = ourIssues(c.file).filter(isBlocking);
    expect(errors.length > 0, JSON.stringify(errors.map((i) => i.details?.text))).toBe(expected > 0);
  });

  it('reports the agreement figure', () => {
    const agreeing = compared.filter((c) => ourIssues(c.file).some(isBlocking) === (expectedErrors(c) as number) > 0);
    console.log(
      `Java validator agreement: ${agreeing.length} of ${compared.length} compared cases (${Object.keys(SKIPPED).length} skipped of ${manifest['test-cases'].length})`
    );
    expect(agreeing.length).toBe(compared.length);
  });
});
