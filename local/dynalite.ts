import { chmodSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import dynalite from 'dynalite';

/** A dynalite server on loopback: the real DynamoDB API, in memory or kept in a folder. */
export interface LocalDynamo {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts dynalite on 127.0.0.1 at a free port.
 * @param path - LevelDB folder to keep the data in (owner-only, mode 0700); in memory when omitted.
 * @returns The endpoint and a stop function.
 */
export async function startDynalite(path?: string): Promise<LocalDynamo> {
  if (path) {
    // The folder holds the study data (pseudonymised PHI) and LevelDB writes its files with the umask's
    // modes, usually world-readable: only the owner may enter the folder, whatever mode it was made with.
    mkdirSync(path, { recursive: true, mode: 0o700 });
    if (process.platform !== 'win32') chmodSync(path, 0o700);
  }
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(path ? { path } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
