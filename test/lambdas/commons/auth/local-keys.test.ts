import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyBearer } from '../../../../lambdas/commons/auth/verify.js';
import {
  loadLocalKeys,
  localAudience,
  localIssuer,
  localJwks,
  localVerifyOptions,
  resolveDataDir,
  signLocalToken,
} from '../../../../local/keys.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const keyFile = (dataDir: string): string => path.join(dataDir, 'keys', 'local-signing-key.pem');
const pem = async (dataDir: string): Promise<string> => readFile(keyFile(dataDir), 'utf8');

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'auth-keys-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('Function: loadLocalKeys', () => {
  it('creates the key on first use with mode 0600', async () => {
    const keys = await loadLocalKeys(dataDir);
    expect(keys.privateKey.asymmetricKeyType).toBe('ec');
    expect(keys.privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(keys.publicKey.type).toBe('public');
    if (process.platform !== 'win32') {
      expect((await stat(keyFile(dataDir))).mode & 0o777).toBe(0o600);
      expect((await stat(path.dirname(keyFile(dataDir)))).mode & 0o777).toBe(0o700);
    }
  });

  it('reads the same key on a second load', async () => {
    const first = await loadLocalKeys(dataDir);
    const firstPem = await pem(dataDir);
    const second = await loadLocalKeys(dataDir);
    expect(second.kid).toBe(first.kid);
    expect(second.publicKey.equals(first.publicKey)).toBe(true);
    expect(await pem(dataDir)).toBe(firstPem);
  });

  it('agrees on one key when first loads race', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => loadLocalKeys(dataDir)));
    expect(new Set(all.map((k) => k.kid)).size).toBe(1);
  });

  it.skipIf(process.platform === 'win32')('puts a key file readable by others back to 0600', async () => {
    await loadLocalKeys(dataDir);
    await chmod(keyFile(dataDir), 0o644);
    await loadLocalKeys(dataDir);
    expect((await stat(keyFile(dataDir))).mode & 0o777).toBe(0o600);
  });
});

describe('Function: signLocalToken', () => {
  it('signs a token that verifies with the local options', async () => {
    const jwt = await signLocalToken(dataDir, 'system/Observation.rs', { subject: 'analyst', expiresInSec: 60 });
    const principal = await verifyBearer(`Bearer ${jwt}`, await localVerifyOptions(dataDir));
    expect(principal).toEqual({ subject: 'analyst', clientId: 'analyst', scopes: ['system/Observation.rs'] });
  });

  it('signs with the kid of the JWKS', async () => {
    const jwt = await signLocalToken(dataDir, 'system/*.cruds');
    const header = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string; alg: string };
    const jwks = await localJwks(dataDir);
    expect(header.alg).toBe('ES256');
    expect(jwks.keys[0]).toMatchObject({ kid: header.kid, alg: 'ES256', use: 'sig', kty: 'EC' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it.each([{ subject: '' }, { expiresInSec: 0 }, { expiresInSec: 1.5 }, { expiresInSec: 100 * 365 * 24 * 3600 }])('refuses %j', async (opts) => {
    await expect(signLocalToken(dataDir, 'system/*.rs', opts)).rejects.toBeInstanceOf(RangeError);
  });
});

describe('Function: resolveDataDir', () => {
  it('uses DATA_DIR, resolved against the working directory', () => {
    expect(resolveDataDir({ DATA_DIR: 'some/dir' })).toBe(path.resolve('some/dir'));
  });

  it('defaults to .data at the repository root', () => {
    expect(resolveDataDir({})).toBe(path.join(repoRoot, '.data'));
  });
});

describe('CLI: local/token.ts', () => {
  async function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run('npx', ['tsx', 'local/token.ts', ...args], { cwd: repoRoot, env: { ...process.env, DATA_DIR: dataDir } });
  }

  it('prints only a token and a newline, which verifies', async () => {
    const { stdout, stderr } = await cli('system/*.rs system/*.cud');
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(stderr).toBe('');
    const principal = await verifyBearer(`Bearer ${stdout.trim()}`, { issuer: localIssuer, audience: localAudience, keys: (await loadLocalKeys(dataDir)).publicKey });
    expect(principal).toEqual({ subject: 'local-dev', clientId: 'local-dev', scopes: ['system/*.rs', 'system/*.cud'] });
  });

  it('defaults to system/*.cruds and takes --sub', async () => {
    const { stdout } = await cli('--sub', 'recruiter');
    const principal = await verifyBearer(`Bearer ${stdout.trim()}`, await localVerifyOptions(dataDir));
    expect(principal).toMatchObject({ subject: 'recruiter', scopes: ['system/*.cruds'] });
  });

  it('warns on stderr about scopes that grant nothing, keeping stdout clean', async () => {
    const { stdout, stderr } = await cli('patient/*.rs', 'recruitment/identity.read');
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(stderr).toContain('patient/*.rs');
    expect(stderr).not.toContain('recruitment/identity.read');
  });

  it('exits 2 with usage on bad arguments and prints no token', async () => {
    const err = (await cli('--expires-in', 'soon').then(
      () => undefined,
      (e: unknown) => e,
    )) as { code: number; stdout: string; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stdout).toBe('');
    expect(err.stderr).toContain('usage:');
  });
});
