import { badRequest, OperationOutcomeError } from '@medplum/core';
import { z } from 'zod';
import type { ImportSource } from './source.js';

/**
 * The import kick-off body: the JSON manifest of the SMART Bulk Data Import proposal ("ping and
 * pull", the manifest form): the files to pull, each with its resource type, and the system they come
 * from. Zod at this non-FHIR boundary.
 */
export const ImportManifestSchema = z.object({
  inputFormat: z.literal('application/fhir+ndjson').default('application/fhir+ndjson'),
  /** The sending system (a URI): the source system of every record, as `Bundle.meta.source` is for POST /fhir. */
  inputSource: z.url().optional(),
  input: z.array(z.object({ type: z.string().regex(/^[A-Z][A-Za-z]+$/), url: z.string().min(1) })).min(1).max(1000),
});
export type ImportManifest = z.infer<typeof ImportManifestSchema>;

/** What the import job keeps: each input resolved to a readable file (`path`: a local path or an S3 object key). */
export const ImportParamsSchema = z.object({
  source: z.string().optional(),
  inputs: z.array(z.object({ type: z.string(), url: z.string(), path: z.string() })),
});
export type ImportParams = z.infer<typeof ImportParamsSchema>;

/**
 * Checks a manifest's shape (zod; 400 naming the first bad field).
 * @param body - The parsed JSON body.
 * @returns The manifest.
 * @throws OperationOutcomeError 400.
 */
export function readImportManifest(body: unknown): ImportManifest {
  const parsed = ImportManifestSchema.safeParse(body);
  if (!parsed.success) {
    const where = parsed.error.issues[0]?.path.join('.') ?? '';
    throw new OperationOutcomeError(badRequest(`Import manifest invalid at ${where || '(body)'}: ${parsed.error.issues[0]?.message ?? ''}`.slice(0, 200), where));
  }
  return parsed.data;
}

/**
 * Resolves each input of a checked manifest to a file of the import source: locally `file:` URLs under
 * IMPORT_DIR, in AWS objects of IMPORT_BUCKET (see the adapters). The layer never reads an arbitrary
 * path or URL a client names.
 * @param manifest - The manifest (readImportManifest).
 * @param source - Where import files are read from; undefined: import is off (400).
 * @returns The job parameters.
 * @throws OperationOutcomeError 400 for an input the source refuses.
 */
export async function resolveImportInputs(manifest: ImportManifest, source: ImportSource | undefined): Promise<ImportParams> {
  if (!source) throw new OperationOutcomeError(badRequest('Import is not configured on this server (IMPORT_DIR or IMPORT_BUCKET)'));
  const inputs: ImportParams['inputs'] = [];
  // One at a time: a manifest of 1,000 inputs must not open 1,000 requests at once.
  for (const [i, input] of manifest.input.entries()) inputs.push({ type: input.type, url: input.url, path: await source.resolve(input.url, i) });
  return { ...(manifest.inputSource ? { source: manifest.inputSource } : {}), inputs };
}

/**
 * Checks a manifest and resolves its inputs (readImportManifest, then resolveImportInputs).
 * @param body - The parsed JSON body.
 * @param source - Where import files are read from; undefined: import is off (400).
 * @returns The job parameters.
 */
export function parseImportManifest(body: unknown, source: ImportSource | undefined): Promise<ImportParams> {
  return resolveImportInputs(readImportManifest(body), source);
}
