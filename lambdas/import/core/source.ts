/**
 * Where the files of an import are read from: a folder locally (IMPORT_DIR), the hospital's bucket in
 * AWS (IMPORT_BUCKET). Both read NDJSON as a stream of lines, never a whole file, and can start at a
 * byte offset, so a worker resumes a file where its last committed chunk ended.
 */
export interface ImportSource {
  /**
   * Checks a manifest input URL and resolves it to the file the worker will read (a path, an object key).
   * @param url - The manifest's `input[].url`.
   * @param index - Its position, named in the 400.
   * @returns The location kept in the job.
   * @throws OperationOutcomeError 400 when the URL is not a file of this source (or does not exist).
   */
  resolve(url: string, index: number): Promise<string>;
  /**
   * The file's lines from a byte offset.
   * @param location - What `resolve` returned.
   * @param fromByte - The offset to start at (0, or a line boundary from an earlier `NdjsonLine.next`).
   */
  lines(location: string, fromByte: number): AsyncIterable<NdjsonLine>;
}

/** One line of a file, without its line break, and the offset of the byte after it (where a resume starts). */
export interface NdjsonLine {
  readonly text: string;
  readonly next: number;
}

/** A line longer than this is not an NDJSON resource this layer takes (the ingest's body limit): it is skipped, not held. */
export const MAX_LINE_BYTES = 6 * 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines (LF or CRLF), holding only the current partial line: a line split
 * across chunks is joined, a multi-byte UTF-8 character split across chunks is decoded whole. A line
 * over `maxLineBytes` is yielded as the empty string marked `tooLong` (its bytes are dropped as they come).
 * @param chunks - The stream (a Node Readable, an S3 body).
 * @param start - The offset of the stream's first byte in the file.
 * @param maxLineBytes - The longest line kept.
 * @yields Each line with the offset after it.
 */
export async function* splitLines(chunks: AsyncIterable<Uint8Array | string>, start = 0, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<NdjsonLine & { tooLong?: true }> {
  let parts: Buffer[] = [];
  let held = 0;
  let tooLong = false;
  let offset = start;
  const line = (): NdjsonLine & { tooLong?: true } => {
    const bytes = Buffer.concat(parts);
    const text = bytes.toString('utf8').replace(/\r$/, '');
    parts = [];
    held = 0;
    if (tooLong) {
      tooLong = false;
      return { text: '', next: offset, tooLong: true };
    }
    return { text, next: offset };
  };
  for await (const chunk of chunks) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let from = 0;
    for (let nl = buf.indexOf(NEWLINE, from); nl !== -1; nl = buf.indexOf(NEWLINE, from)) {
      keep(buf.subarray(from, nl));
      offset += nl - from + 1;
      from = nl + 1;
      yield line();
    }
    keep(buf.subarray(from));
    offset += buf.length - from;
  }
  if (held > 0 || tooLong) yield line();

  function keep(piece: Buffer): void {
    if (tooLong || piece.length === 0) return;
    if (held + piece.length > maxLineBytes) {
      tooLong = true;
      parts = [];
      held = 0;
      return;
    }
    // Copied: the chunk's buffer may be reused by the stream once the loop moves on.
    parts.push(Buffer.from(piece));
    held += piece.length;
  }
}
