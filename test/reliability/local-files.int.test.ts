import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDynalite } from '../../local/dynalite.js';

const root = mkdtempSync(join(tmpdir(), 'local-files-'));

afterAll(() => rmSync(root, { recursive: true, force: true }));

const othersMay = (path: string): number => statSync(path).mode & 0o077;

describe('Local data files (issue 14: they were world-readable)', () => {
  it.skipIf(process.platform === 'win32')('keeps the persisted tables in a folder only its owner can enter, even one made world-readable before', async () => {
    const fresh = join(root, 'fresh', 'dynamodb');
    const old = join(root, 'old', 'dynamodb');
    mkdirSync(old, { recursive: true, mode: 0o755 });
    chmodSync(old, 0o755);
    for (const path of [fresh, old]) {
      const server = await startDynalite(path);
      await server.close();
      expect(othersMay(path), path).toBe(0);
    }
    // LevelDB did write there (so the folder is the one in use).
    expect(readdirSync(fresh).length).toBeGreaterThan(0);
  });
});
