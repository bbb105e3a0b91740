/**
 * Where a job's files go: DATA_DIR locally (downloaded through the layer with the client's token),
 * S3 in AWS (downloaded by presigned URL). Files are written in parts of bounded size, so neither
 * side ever holds a whole export.
 */
export interface JobFiles {
  /** FHIR Bulk Data IG `requiresAccessToken`: whether a file URL needs the client's bearer token. */
  readonly requiresAccessToken: boolean;
  /** Appends text to a file of the job, creating it on first append. */
  append(job: string, name: string, text: string): Promise<void>;
  /** Completes a file: after this it is whole and downloadable. */
  finish(job: string, name: string): Promise<void>;
  /** Drops a file not finished (an interrupted part), so that a resumed worker writes it again. */
  discard(job: string, name: string): Promise<void>;
  /** The URL of a finished file for the manifest. */
  url(job: string, name: string, baseUrl: string): Promise<string>;
  /** Removes every file of the job (cancel, expiry). */
  remove(job: string): Promise<void>;
}
