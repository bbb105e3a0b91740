/**
 * Bounded work per request (issue 14): the syntax diagnostics never recurse on input depth, values of
 * the wrong JSON kind give one issue each (not one per character), validation stops at MAX_ISSUES, and
 * repeated elements are capped per resource and per request.
 */
import { normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { Bundle, Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { checkFanOut } from '../../../../lambdas/commons/fhir/check-fan-out.js';
import { checkShape } from '../../../../lambdas/commons/fhir/check-shape.js';
import { ensureDefinitions } from '../../../../lambdas/commons/fhir/definitions.js';
import { diagnoseJsonSyntax } from '../../../../lambdas/commons/fhir/json-scan.js';
import { parseFhirJson } from '../../../../lambdas/commons/fhir/parse-body.js';
import { validateBase } from '../../../../lambdas/commons/fhir/validate-base.js';
import { httpStatus } from '../../../../lambdas/commons/http/outcomes.js';
import { DEFAULT_LIMITS, loadLimits } from '../../../../lambdas/commons/limits.js';

function refusal(fn: () => void): { status: number; text: string; expression?: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OperationOutcomeError);
    const outcome = normalizeOperationOutcome(err);
    return { status: httpStatus(outcome), text: outcome.issue?.[0]?.details?.text ?? '', expression: outcome.issue?.[0]?.expression?.[0] };
  }
  throw new Error('expected a refusal');
}

const observation = (extra: Record<string, unknown>): Observation =>
  ({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, ...extra });

describe('JSON syntax diagnostics without recursion', () => {
  it.each([5_000, 1_000_000])('answers %i unclosed brackets with a 400 naming the end of input, never a stack overflow', (depth) => {
    const { status, text } = refusal(() => parseFhirJson('['.repeat(depth)));
    expect(status).toBe(400);
    expect(text).toContain('unexpected end of input');
  });

  it('still names the first syntax problem inside deep nesting', () => {
    const text = `${'['.repeat(10_000)}1,,2${']'.repeat(10_000)}`;
    expect(diagnoseJsonSyntax(text)).toEqual({ message: 'unexpected character', position: 10_002 });
    expect(diagnoseJsonSyntax('{"a":1,}').message).toBe('extra comma at the end of an object');
    expect(diagnoseJsonSyntax('[1,]').message).toBe('extra comma at the end of an array');
    expect(diagnoseJsonSyntax('{"a" 1}').message).toBe("expected ':' after a property name");
    expect(diagnoseJsonSyntax('{"a":[1 2]}').message).toBe('a comma is missing');
    expect(diagnoseJsonSyntax('{a:1}').message).toBe('a property name has no double quotes around it');
  });

  it('refuses valid JSON nested a million deep by the depth limit', () => {
    const { status, text } = refusal(() => parseFhirJson(`{"resourceType":"Bundle","entry":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`));
    expect(status).toBe(400);
    expect(text).toContain('nesting deeper than');
  });
});

describe('values of the wrong JSON kind', () => {
  it('gives one issue for a 100 kB string where a CodeableConcept belongs (medplum gave one per character)', () => {
    ensureDefinitions(new Set(['Observation']));
    const issues = validateBase(observation({ code: 'x'.repeat(100_000) }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', code: 'structure', expression: ['Observation.code'] });
    expect(issues[0]?.details?.text).toBe('Expected CodeableConcept (a JSON object), found a string');
  });

  it('gives one issue for an object where a primitive belongs, and for an array inside an array', () => {
    ensureDefinitions(new Set(['Observation']));
    const issues = checkShape(observation({ status: { a: 1, b: 2 }, category: [[{ text: 'a' }]] }), 100);
    expect(issues.map((i) => i.expression?.[0])).toEqual(['Observation.status', 'Observation.category[0]']);
  });

  it('finds them inside Bundle entries and contained resources', () => {
    ensureDefinitions(new Set(['Bundle', 'Observation']));
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: observation({ subject: 'Patient/1' }) }] } as unknown as Bundle;
    expect(checkShape(bundle, 100).map((i) => i.expression?.[0])).toEqual(['Bundle.entry[0].resource.subject']);
  });

  it('accepts a valid resource', () => {
    ensureDefinitions(new Set(['Observation']));
    expect(checkShape(observation({ category: [{ coding: [{ code: 'laboratory' }] }], valueQuantity: { value: 1 } }), 100)).toEqual([]);
  });
});

describe('validation stops at MAX_ISSUES', () => {
  it('keeps the first issues and says that it stopped', () => {
    ensureDefinitions(new Set(['Observation']));
    const issues = validateBase(observation({ category: Array.from({ length: 500 }, () => 'laboratory') }), { maxIssues: 20 });
    expect(issues).toHaveLength(21);
    expect(issues[20]).toMatchObject({ severity: 'error', code: 'too-costly', details: { text: 'Validation stopped after 20 issues (MAX_ISSUES)' } });
  });

  it('caps the issues of the validator and of the extra checks too', () => {
    ensureDefinitions(new Set(['Observation']));
    // Empty objects are the right JSON kind, so the shape check passes them to the validators.
    const issues = validateBase(observation({ category: Array.from({ length: 500 }, () => ({})) }), { maxIssues: 30 });
    expect(issues.length).toBeLessThanOrEqual(31);
    expect(issues.at(-1)?.details?.text).toContain('MAX_ISSUES');
  });
});

describe('fan-out caps', () => {
  it('refuses a resource with more codings than MAX_CODINGS_PER_RESOURCE with a 422 naming the limit and the resource', () => {
    const coding = Array.from({ length: 201 }, (_, k) => ({ system: 'http://loinc.org', code: `${k}` }));
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: observation({ code: { coding } }) }] };
    const { status, text, expression } = refusal(() => checkFanOut(bundle, DEFAULT_LIMITS));
    expect(status).toBe(422);
    expect(text).toBe('201 coding items in one resource exceeds MAX_CODINGS_PER_RESOURCE (200)');
    expect(expression).toBe('Bundle.entry[0].resource');
  });

  it('counts codings nested in components and categories toward their resource', () => {
    // 15 components of 15 codings: 225 in one Observation; 5 of them, 75.
    const component = Array.from({ length: 15 }, () => ({ code: { coding: Array.from({ length: 15 }, () => ({ code: 'a' })) } }));
    expect(refusal(() => checkFanOut(observation({ component }), DEFAULT_LIMITS)).text).toContain('MAX_CODINGS_PER_RESOURCE');
    expect(() => checkFanOut(observation({ component: component.slice(0, 5) }), DEFAULT_LIMITS)).not.toThrow();
  });

  it('refuses a request whose codings and identifiers together exceed MAX_INDEX_FANOUT_PER_REQUEST with a 413', () => {
    const entry = Array.from({ length: 101 }, () => ({ resource: observation({ code: { coding: Array.from({ length: 200 }, () => ({ code: 'a' })) } }) }));
    const { status, text } = refusal(() => checkFanOut({ resourceType: 'Bundle', entry }, DEFAULT_LIMITS));
    expect(status).toBe(413);
    expect(text).toContain('MAX_INDEX_FANOUT_PER_REQUEST (20000)');
  });

  it('refuses any repeating element longer than MAX_ARRAY_ITEMS, but not Bundle.entry (MAX_ENTRIES bounds it)', () => {
    expect(refusal(() => checkFanOut(observation({ note: Array.from({ length: 1001 }, () => ({ text: 'a' })) }), DEFAULT_LIMITS)).text).toBe(
      '1001 items exceeds MAX_ARRAY_ITEMS (1000)',
    );
    expect(() => checkFanOut({ resourceType: 'Bundle', entry: Array.from({ length: 1001 }, () => ({})) }, DEFAULT_LIMITS)).not.toThrow();
  });

  it('reads every limit from the environment, refusing a bad value by name', () => {
    expect(loadLimits({ MAX_CODINGS_PER_RESOURCE: '7' }).MAX_CODINGS_PER_RESOURCE).toBe(7);
    expect(() => loadLimits({ MAX_ISSUES: '0' })).toThrow(/MAX_ISSUES/);
  });
});
