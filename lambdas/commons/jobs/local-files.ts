import { createReadStream, existsSync, type ReadStream } from 'node:fs';
import { appendFile, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobFiles } from './files.js';

/** The local route of a job file: `{base}/bulk-files/{job}/{name}`, behind the layer's token check. */
export const FILE_ROUTE = /^\/bulk-files\/([0-9a-f-]{36})\/([A-Za-z0-9][A-Za-z0-9._-]{0,99})$/;

/**
 * Job files in a folder (`DATA_DIR/exports/{job}/`, mode 0700 like the rest of DATA_DIR): appended
 * page by page, served by the layer at an authenticated URL (`requiresAccessToken: true`).
 */
export class LocalJobFiles implements JobFiles {
  public readonly requiresAccessToken = true;

  /** @param root - The folder holding one folder per job. */
  public constructor(private readonly root: string) {}

  /** Appends text. */
  public async append(job: string, name: string, text: string): Promise<void> {
    const dir = this.dir(job);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await appendFile(join(dir, name), text, { mode: 0o600 });
  }

  /** Nothing to do: an appended file is on disk already. */
  public async finish(): Promise<void> {}

  /** Deletes a partial file. */
  public async discard(job: string, name: string): Promise<void> {
    await rm(join(this.dir(job), name), { force: true });
  }

  /** The authenticated download URL. */
  public url(job: string, name: string, baseUrl: string): Promise<string> {
    return Promise.resolve(`${baseUrl}/bulk-files/${job}/${name}`);
  }

  /** Deletes the job's folder. */
  public async remove(job: string): Promise<void> {
    await rm(this.dir(job), { recursive: true, force: true });
  }

  /**
   * Opens a finished file for download.
   * @param job - The job id.
   * @param name - The file name.
   * @returns A read stream and its size, or undefined when there is no such file.
   */
  public async open(job: string, name: string): Promise<{ stream: ReadStream; size: number } | undefined> {
    const path = join(this.dir(job), name);
    if (!existsSync(path)) return undefined;
    const { size } = await stat(path);
    return { stream: createReadStream(path), size };
  }

  private dir(job: string): string {
    if (!/^[0-9a-f-]{36}$/.test(job)) throw new Error('Bad job id');
    return join(this.root, job);
  }
}
