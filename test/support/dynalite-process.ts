import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './local-app.js';

/** A dynalite (in memory) in a child process. */
export interface DynaliteProcess {
  readonly endpoint: string;
  /** Stops the child (by its pid). */
  stop(): Promise<void>;
}

// Same settings as local/dynalite.ts; plain JS so that the child needs no TypeScript loader.
const CHILD = `
const dynalite = require('dynalite');
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(0, '127.0.0.1', () => console.log(String(server.address().port)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/**
 * Starts dynalite in a child process on 127.0.0.1, for measurements of the layer's own memory: in
 * the test process, dynalite's data and its LevelDB iterators (memory-level keeps every iterator a
 * Query opens until the database closes: about 1 KiB per Query) would be counted as the layer's; in a
 * child, they are not, and the child runs on the other core.
 * @returns The endpoint and a stop function.
 */
export async function startDynaliteProcess(): Promise<DynaliteProcess> {
  const child = spawn(process.execPath, ['-e', CHILD], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`dynalite exited with ${String(code)}`)));
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  child.removeAllListeners('exit');
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
