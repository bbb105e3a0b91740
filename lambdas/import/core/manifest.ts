import { badRequest, OperationOutcomeError } from '@medplum/core';
import { realpathSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

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

/** What the import job keeps: each input resolved to a readable file. */
export const ImportParamsSchema = z.object({
  source: z.string().optional(),
  inputs: z.array(z.object({ type: z.string(), url: z.string(), path: z.string() })),
});
export type ImportParams = z.infer<typeof ImportParamsSchema>;

/**
 * Checks a manifest and resolves each input to a file inside the import folder. Locally only `file:`
 * URLs under IMPORT_DIR are read (a link or `..` leading out of it is refused): the layer never reads an
 * arbitrary path or URL a client names.
 * @param body - The parsed JSON body.
 * @param importDir - The folder the hospital's exports are dropped in; undefined: import is off (400).
 * @returns The job parameters.
 * @throws OperationOutcomeError 400 for anything else.
 */
export function parseImportManifest(body: unknown, importDir: string | undefined): ImportParams {
  const parsed = ImportManifestSchema.safeParse(body);
  if (!parsed.success) {
    const where = parsed.error.issues[0]?.path.join('.') ?? '';
    throw new OperationOutcomeError(badRequest(`Import manifest invalid at ${where || '(body)'}: ${parsed.error.issues[0]?.message ?? ''}`.slice(0, 200), where));
  }
  if (!importDir) throw new OperationOutcomeError(badRequest('Import is not configured on this server (IMPORT_DIR)'));
  const root = realpathSync(importDir);
  const inputs = parsed.data.input.map((input, i) => {
    let path: string;
    try {
      const url = new URL(input.url);
      if (url.protocol !== 'file:') throw new Error('not a file URL');
      path = realpathSync(fileURLToPath(url));
    } catch {
      throw new OperationOutcomeError(badRequest(`input[${i}].url must be a file: URL of an existing file in the import folder`, `input[${i}].url`));
    }
    const rel = relative(root, path);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw new OperationOutcomeError(badRequest(`input[${i}].url is outside the import folder`, `input[${i}].url`));
    }
    return { type: input.type, url: input.url, path };
  });
  return { ...(parsed.data.inputSource ? { source: parsed.data.inputSource } : {}), inputs };
}
