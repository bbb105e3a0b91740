import { badRequest, OperationOutcomeError } from '@medplum/core';
import { createReadStream, realpathSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitLines, type ImportSource, type NdjsonLine } from './core/source.js';

/**
 * The local run's import source: `file:` URLs of files inside IMPORT_DIR (the folder the hospital's
 * exports are dropped in). A link or `..` leading out of it is refused: the layer never reads an
 * arbitrary path a client names.
 */
export class LocalFolderSource implements ImportSource {
  private readonly root: string;

  /** @param importDir - The import folder (must exist). */
  public constructor(importDir: string) {
    this.root = realpathSync(importDir);
  }

  /** The real path of a `file:` URL inside the folder; 400 otherwise. */
  public resolve(url: string, index: number): Promise<string> {
    let path: string;
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'file:') throw new Error('not a file URL');
      path = realpathSync(fileURLToPath(parsed));
    } catch {
      return Promise.reject(new OperationOutcomeError(badRequest(`input[${index}].url must be a file: URL of an existing file in the import folder`, `input[${index}].url`)));
    }
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      return Promise.reject(new OperationOutcomeError(badRequest(`input[${index}].url is outside the import folder`, `input[${index}].url`)));
    }
    return Promise.resolve(path);
  }

  /** The file's lines from `fromByte`. */
  public lines(path: string, fromByte: number): AsyncIterable<NdjsonLine> {
    return readFileLines(path, fromByte);
  }
}

/**
 * Lines of a local file from a byte offset (the worker's default source: a job's locations are real
 * paths checked at kick-off).
 * @param path - The file.
 * @param fromByte - Where to start.
 * @returns The lines.
 */
export function readFileLines(path: string, fromByte: number): AsyncIterable<NdjsonLine> {
  return splitLines(createReadStream(path, { start: fromByte }), fromByte);
}
