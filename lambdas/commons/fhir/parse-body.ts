import { isUtf8 } from 'node:buffer';
import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { diagnoseJsonSyntax, findStructuralProblem, lineAndColumn } from './json-scan.js';

/** Options for {@link parseFhirJson}. */
export interface ParseFhirJsonOptions {
  /** Deepest allowed nesting of objects and arrays, the root counting as 1. Defaults to {@link DEFAULT_MAX_DEPTH}. */
  readonly maxDepth?: number;
}

/**
 * Default nesting limit. The deepest R4 examples (Questionnaire items in a Bundle) stay under 30; the
 * limit bounds the recursion of every later walker over the parsed value.
 */
export const DEFAULT_MAX_DEPTH = 64;

const BOM = 0xfeff;

function reject(message: string): never {
  throw new OperationOutcomeError(badRequest(message));
}

function rejectAt(text: string, position: number, what: string): never {
  const { line, column } = lineAndColumn(text, position);
  // Position only: the body may hold patient data, so none of it is echoed back.
  reject(`Invalid FHIR JSON at line ${line}, column ${column}: ${what}`);
}

/**
 * Parses a request body as one FHIR JSON resource, as strictly as the HL7 validator: no comments,
 * trailing commas, unquoted names, duplicate property names, or non-UTF-8 bytes. A leading UTF-8
 * byte-order mark is tolerated. Uses `JSON.parse` and then one linear scan for what it lets through.
 *
 * @example
 * const resource = parseFhirJson(event.body ?? '');
 *
 * @param body - The request body, as text or raw bytes.
 * @param options - Parsing limits.
 * @returns The parsed resource (only its shape is checked: see validateBase for the content).
 * @throws OperationOutcomeError with a badRequest outcome describing the first problem.
 */
export function parseFhirJson(body: string | Buffer, options?: ParseFhirJsonOptions): Resource {
  const maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    // Buffer#toString would silently replace bad bytes with U+FFFD.
    if (!isUtf8(body)) {
      reject('Invalid FHIR JSON: the body is not valid UTF-8');
    }
    text = body.toString('utf8');
  }
  if (text.charCodeAt(0) === BOM) {
    text = text.slice(1);
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const problem = diagnoseJsonSyntax(text);
    rejectAt(text, problem.position, problem.message);
  }

  const problem = findStructuralProblem(text, maxDepth);
  if (problem) {
    rejectAt(text, problem.position, problem.message);
  }

  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    reject('Invalid FHIR JSON: the root must be a JSON object');
  }
  const resourceType = (parsed as { resourceType?: unknown }).resourceType;
  if (typeof resourceType !== 'string' || resourceType.length === 0) {
    reject('Invalid FHIR JSON: the root object has no string resourceType, so it is not a FHIR resource');
  }
  return parsed as Resource;
}
