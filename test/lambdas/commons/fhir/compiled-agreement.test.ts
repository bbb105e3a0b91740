import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { validateCompiled } from '../../../../lambdas/commons/fhir/compiled/validate-compiled.js';
import { isBlocking } from '../../../../lambdas/commons/fhir/issues.js';
import { parseFhirJson } from '../../../../lambdas/commons/fhir/parse-body.js';
import { validateBase, validateBaseReference, type ValidateBaseOptions } from '../../../../lambdas/commons/fhir/validate-base.js';
import { DATA_DIR } from './data.js';

/*
 * The compiled validators (ajv standalone code from the FHIR R4 JSON schema, the R4 invariants and the
 * project's checks in one walk) give the verdict the validation as it was gives (@medplum/core's
 * validateResource plus the project's checks, which agrees with the HL7 Java validator on every
 * comparable case of validator-cases.test.ts), on every public resource in ../shared/data: each JSON
 * file and each line of each NDJSON file that parses as FHIR JSON (FHIR R4 §2.6.2 JSON, Bulk Data IG
 * for NDJSON), both with the HL7 validator's strictness and as the ingest validates.
 */

function publicResources(): { name: string; resource: Resource }[] {
  const out: { name: string; resource: Resource }[] = [];
  const visit = (dir: string): void => {
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) {
        visit(p);
        continue;
      }
      if (f === 'package.json' || !/\.(json|ndjson)$/.test(f)) continue;
      const name = relative(DATA_DIR, p);
      const texts = f.endsWith('.ndjson')
        ? readFileSync(p, 'utf8')
            .split('\n')
            .map((line, i) => [`${name}:${i + 1}`, line] as const)
            .filter(([, line]) => line.trim() !== '')
        : [[name, readFileSync(p)] as const];
      for (const [at, text] of texts) {
        try {
          out.push({ name: at, resource: parseFhirJson(text) });
        } catch {
          // Not FHIR JSON (broken on purpose, comments, a manifest): refused before validation, by both.
        }
      }
    }
  };
  visit(DATA_DIR);
  return out;
}

const resources = publicResources();

function verdicts(options: ValidateBaseOptions): { differing: string[]; rejected: number } {
  const differing: string[] = [];
  let rejected = 0;
  for (const { name, resource } of resources) {
    const old = validateBaseReference(resource, options);
    const compiled = validateCompiled(resource, { ...options, maxIssues: 100 });
    const before = old.some(isBlocking);
    const now = compiled.some(isBlocking);
    if (before) rejected++;
    if (before !== now) {
      const paths = (now ? compiled : old).filter(isBlocking).map((i: OperationOutcomeIssue) => `${i.expression?.[0] ?? '?'}: ${i.details?.text ?? ''}`);
      differing.push(`${name}: was ${before ? 'rejected' : 'accepted'}, compiled ${now ? 'rejects' : 'accepts'} (${paths.slice(0, 5).join('; ')})`);
    }
    // validateBase gives the compiled verdict whatever the explanation says.
    if (now) expect(validateBase(resource, options).some(isBlocking), name).toBe(true);
  }
  return { differing, rejected };
}

describe('Compiled validation agrees with the validation as it was, on every public file', () => {
  it('reads hundreds of public resources', () => {
    expect(resources.length).toBeGreaterThan(2_000);
  });

  it.each([
    ['as the HL7 validator (vital-signs profile errors)', {}],
    ['as the ingest (vital-signs profile warnings)', { vitalSignsProfile: 'warning' }],
  ] as const)('gives the same accept/reject verdict %s', (_name, options) => {
    const { differing, rejected } = verdicts(options);
    console.log(`compiled validation: ${resources.length - differing.length} of ${resources.length} public resources agree (${rejected} rejected as before)`);
    expect(differing).toEqual([]);
  });
});
