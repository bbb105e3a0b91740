import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeOperationOutcome, OperationOutcomeError, getStatus } from '@medplum/core';
import { describe, expect, it } from 'vitest';
import { parseFhirJson } from '../../../../lambdas/commons/fhir/parse-body.js';
import { DATA_DIR } from './data.js';

const MS = join(DATA_DIR, 'microsoft-fhir-server', 'Normative');

function rejection(body: string | Buffer, maxDepth?: number): string {
  try {
    parseFhirJson(body, { maxDepth });
  } catch (err) {
    expect(err).toBeInstanceOf(OperationOutcomeError);
    const outcome = normalizeOperationOutcome(err);
    expect(getStatus(outcome)).toBe(400);
    return outcome.issue?.[0]?.details?.text ?? '';
  }
  throw new Error('expected a rejection');
}

describe('Function: parseFhirJson', () => {
  it('returns the resource for valid JSON', () => {
    expect(parseFhirJson('{"resourceType":"Patient","id":"a"}')).toEqual({ resourceType: 'Patient', id: 'a' });
  });

  it('tolerates the byte-order mark of a real Microsoft FHIR server file', () => {
    // Prepare
    const bytes = readFileSync(join(MS, 'Bundle-Batch.json'));
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    // Act
    const bundle = parseFhirJson(bytes);
    // Assess
    expect(bundle.resourceType).toBe('Bundle');
    expect(parseFhirJson(bytes.toString('utf8')).resourceType).toBe('Bundle');
  });

  it('rejects the malformed Microsoft bundle with a position and without echoing its content', () => {
    const text = rejection(readFileSync(join(MS, 'Bundle-TransactionWithInvalidBundleEntry.json')));
    expect(text).toMatch(/line 39, column \d+/);
    expect(text).not.toContain('status');
  });

  it.each([
    ['a line comment', '{"resourceType":"Patient", // x\n"id":"a"}', /comments are not allowed/],
    ['a block comment', '/* x */ {"resourceType":"Patient"}', /comments are not allowed/],
    ['a trailing comma in an object', '{"resourceType":"Patient","id":"a",}', /extra comma at the end of an object/],
    ['a trailing comma in an array', '{"resourceType":"Patient","name":[{"given":["a",]}]}', /extra comma at the end of an array/],
    ['an unquoted name', '{resourceType:"Patient"}', /property name has no double quotes/],
    ['an unquoted value', '{"resourceType":"Patient","gender":male}', /value has no quotes/],
    ['a missing comma', '{"resourceType":"Patient" "id":"a"}', /comma is missing/],
    ['truncated input', '{"resourceType":"Patient"', /unexpected end of input/],
  ])('rejects %s', (_name, body, message) => {
    expect(rejection(body)).toMatch(message);
  });

  it('rejects duplicate property names in one object, escaped or not', () => {
    expect(rejection('{"resourceType":"Patient","id":"a","id":"b"}')).toMatch(/line 1, column 36: duplicate property name/);
    expect(rejection('{"resourceType":"Patient","id":"a","\\u0069d":"b"}')).toMatch(/duplicate property name/);
    const many = Array.from({ length: 30 }, (_, i) => `"k${i}":1`).join(',');
    expect(rejection(`{"resourceType":"Basic",${many},"k7":2}`)).toMatch(/duplicate property name/);
  });

  it('accepts the same property name in different objects', () => {
    expect(() => parseFhirJson('{"resourceType":"Patient","id":"a","meta":{"id":"b"},"text":{"id":"c"}}')).not.toThrow();
    expect(() => parseFhirJson('{"resourceType":"Patient","name":[{"text":"\\"id\\":"},{"text":"x"}]}')).not.toThrow();
  });

  it('rejects bytes that are not UTF-8', () => {
    const bytes = Buffer.concat([Buffer.from('{"resourceType":"Patient","id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    expect(rejection(bytes)).toMatch(/not valid UTF-8/);
  });

  it('rejects roots that are not resources', () => {
    expect(rejection('[]')).toMatch(/root must be a JSON object/);
    expect(rejection('null')).toMatch(/root must be a JSON object/);
    expect(rejection('{"id":"a"}')).toMatch(/no string resourceType/);
    expect(rejection('{"resourceType":5}')).toMatch(/no string resourceType/);
  });

  it('rejects nesting deeper than the limit', () => {
    const deep = (n: number): string => `{"resourceType":"Basic","extension":${'['.repeat(n)}${']'.repeat(n)}}`;
    expect(() => parseFhirJson(deep(63))).not.toThrow();
    expect(rejection(deep(64))).toMatch(/nesting deeper than 64 levels/);
    expect(rejection(deep(5), 4)).toMatch(/nesting deeper than 4 levels/);
  });

  it('parses a large body in a small multiple of JSON.parse time (reported, not asserted)', () => {
    // Prepare: a ~6 MB body built from a real Synthea bundle.
    const one = readFileSync(join(DATA_DIR, 'synthea', 'smart-generated-sample-data_R4_Liz_Conn_27c911c6-f045-4ffa-af5d-6eba57ac94b2.json'), 'utf8');
    const bundle = JSON.parse(one) as { entry: unknown[] };
    const entries = bundle.entry;
    while (JSON.stringify(bundle).length < 6_000_000) {
      bundle.entry = bundle.entry.concat(entries);
    }
    const body = JSON.stringify(bundle);
    // Act
    const time = (fn: () => unknown): number => {
      fn();
      const start = performance.now();
      for (let i = 0; i < 5; i++) fn();
      return (performance.now() - start) / 5;
    };
    const plain = time(() => JSON.parse(body));
    const strict = time(() => parseFhirJson(body));
    // Assess
    console.log(`parseFhirJson on ${(body.length / 1e6).toFixed(1)} MB: ${strict.toFixed(1)} ms vs JSON.parse ${plain.toFixed(1)} ms (x${(strict / plain).toFixed(2)})`);
    expect(strict).toBeGreaterThan(0);
  });
});
