import type { JobFiles } from '../../commons/jobs/files.js';
import type { Job } from '../../commons/jobs/job.js';

/** FHIR Bulk Data Access IG v2, "Complete Status": the manifest of a finished export. */
export interface ExportManifest {
  readonly transactionTime: string;
  readonly request: string;
  readonly requiresAccessToken: boolean;
  readonly output: readonly { readonly type: string; readonly url: string; readonly count: number }[];
  readonly error: readonly { readonly type: string; readonly url: string; readonly count: number }[];
  /** Server-specific: the analysis dataset's data dictionary, when `_outputFormat=text/csv`. */
  readonly extension?: Readonly<Record<string, unknown>>;
}

/** The manifest extension of an import job: per input file, what was read, accepted and failed. */
export const INPUTS_EXTENSION = 'inputs';

/** The manifest extension naming the data dictionary of the analysis dataset. */
export const DICTIONARY_EXTENSION = 'dataDictionary';

/**
 * The manifest of a completed export job, with each file's URL (authenticated layer URL locally,
 * presigned S3 URL in AWS).
 * @param job - The completed job.
 * @param files - Where its files are.
 * @param baseUrl - The FHIR base the client called.
 * @returns The manifest.
 */
export async function exportManifest(job: Job, files: JobFiles, baseUrl: string): Promise<ExportManifest> {
  const entry = async (f: Job['output'][number]): Promise<{ type: string; url: string; count: number }> => ({ type: f.type, url: await files.url(job.id, f.name, baseUrl), count: f.count });
  const dictionary = job.output.find((f) => f.format === 'text/markdown');
  return {
    transactionTime: job.transactionTime,
    request: job.request,
    requiresAccessToken: files.requiresAccessToken,
    output: await Promise.all(job.output.filter((f) => f !== dictionary).map(entry)),
    error: await Promise.all(job.error.map(entry)),
    ...(dictionary ? { extension: { [DICTIONARY_EXTENSION]: await files.url(job.id, dictionary.name, baseUrl) } } : {}),
    // An import's status: the outcome of each input file (lines read, resources accepted, failed).
    ...(job.inputs ? { extension: { [INPUTS_EXTENSION]: job.inputs } } : {}),
  };
}
