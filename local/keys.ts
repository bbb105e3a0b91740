/**
 * The local run's token issuer: one ES256 key pair kept in DATA_DIR, used by `npm run token` to
 * sign and by the local server to verify. Nothing here is used on AWS, where the identity
 * provider signs and API Gateway verifies.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { MAX_TOKEN_LIFETIME_SEC, type VerifyBearerOptions } from '../lambdas/commons/auth/verify.js';

/** `iss` of locally signed tokens. Not a reachable URL: nothing fetches metadata from it. */
export const localIssuer = 'http://127.0.0.1/local-issuer';

/** `aud` of locally signed tokens: the local FHIR API, whatever port it listens on. */
export const localAudience = 'http://127.0.0.1/local-fhir';

/** Scopes a token gets when none are asked for: full system access to study resources. */
export const defaultLocalScopes = 'system/*.cruds';

/** Lifetime of a local token unless asked otherwise: one working hour. */
export const defaultLocalTokenLifetimeSec = 3600;

/** The local signing key, as `loadLocalKeys` returns it. */
export interface LocalKeys {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** RFC 7638 thumbprint of the public key, so the `kid` follows the key without being stored. */
  readonly kid: string;
}

/** Options for `signLocalToken`. */
export interface LocalTokenOptions {
  /** `sub` (and `client_id`, as for a client-credentials token). Default `local-dev`. */
  readonly subject?: string;
  /** Default `defaultLocalTokenLifetimeSec`. */
  readonly expiresInSec?: number;
}

/** PKCS#8 PEM of the private key; the public key is derived from it, so the pair cannot drift apart. */
const KEY_FILE = path.join('keys', 'local-signing-key.pem');

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The data directory: `DATA_DIR` if set (relative to the working directory), else `.data/` at the
 * repository root, so `npm run token` finds the same key from any sub-directory.
 * @param env - Environment to read; defaults to `process.env`.
 * @returns An absolute path.
 */
export function resolveDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.DATA_DIR;
  return fromEnv !== undefined && fromEnv !== '' ? path.resolve(fromEnv) : path.join(REPO_ROOT, '.data');
}

/**
 * Loads the local signing key from `dataDir`, creating it (mode 0600, in a 0700 directory) on first
 * use. Concurrent first calls from several processes agree on one key.
 * @param dataDir - The data directory (see `resolveDataDir`).
 * @returns The key pair and its `kid`.
 */
export async function loadLocalKeys(dataDir: string): Promise<LocalKeys> {
  const file = path.join(dataDir, KEY_FILE);
  const pem = (await readIfExists(file)) ?? (await createKeyFile(file));
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
  return { privateKey, publicKey, kid };
}

/**
 * Signs an access token with the local key, shaped like an RFC 9068 client-credentials token.
 * @param dataDir - The data directory (see `resolveDataDir`).
 * @param scopes - Space-separated scopes for the `scope` claim.
 * @param opts - Subject and lifetime.
 * @returns The compact JWT.
 * @example
 * const token = await signLocalToken(resolveDataDir(), 'system/Observation.rs', { subject: 'analyst' });
 */
export async function signLocalToken(dataDir: string, scopes: string, opts: LocalTokenOptions = {}): Promise<string> {
  const subject = opts.subject ?? 'local-dev';
  const expiresInSec = opts.expiresInSec ?? defaultLocalTokenLifetimeSec;
  if (subject === '' || !Number.isInteger(expiresInSec) || expiresInSec <= 0 || expiresInSec > MAX_TOKEN_LIFETIME_SEC) {
    // A longer token would be signed only to be refused by every route.
    throw new RangeError(`subject must be non-empty and expiresInSec a positive integer of at most ${MAX_TOKEN_LIFETIME_SEC}`);
  }
  const { privateKey, kid } = await loadLocalKeys(dataDir);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: scopes, client_id: subject })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
    .setIssuer(localIssuer)
    .setAudience(localAudience)
    .setSubject(subject)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresInSec)
    .setJti(randomUUID())
    .sign(privateKey);
}

/**
 * The public half as a JWKS, for a local `/.well-known/jwks.json` or a `createLocalJWKSet`.
 * @param dataDir - The data directory (see `resolveDataDir`).
 * @returns A key set with the one public key.
 */
export async function localJwks(dataDir: string): Promise<JSONWebKeySet> {
  const { publicKey, kid } = await loadLocalKeys(dataDir);
  return { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] };
}

/**
 * What the local server passes to `verifyBearer`.
 * @param dataDir - The data directory (see `resolveDataDir`).
 * @returns Issuer, audience and the public key.
 */
export async function localVerifyOptions(dataDir: string): Promise<VerifyBearerOptions> {
  const { publicKey } = await loadLocalKeys(dataDir);
  return { issuer: localIssuer, audience: localAudience, keys: publicKey };
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    const pem = await readFile(file, 'utf8');
    await tightenMode(file);
    return pem;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      return undefined;
    }
    throw err;
  }
}

/**
 * Writes a fresh key beside `file`, then hard-links it into place: `link` fails if `file` exists,
 * so a process that loses the race reads the winner's complete file instead of replacing it.
 */
async function createKeyFile(file: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temp, pem, { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, file);
    return pem;
  } catch (err) {
    if (isErrno(err, 'EEXIST')) {
      return readFile(file, 'utf8');
    }
    if (isErrno(err, 'EPERM') || isErrno(err, 'ENOTSUP') || isErrno(err, 'ENOSYS')) {
      // Filesystems without hard links: exclusive create, which still never replaces a key in use.
      try {
        await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
        return pem;
      } catch (inner) {
        if (isErrno(inner, 'EEXIST')) {
          return readFile(file, 'utf8');
        }
        throw inner;
      }
    }
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** A key file others can read (copied in, restored from a backup) is put back to 0600. */
async function tightenMode(file: string): Promise<void> {
  if (process.platform === 'win32') {
    return;
  }
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) {
    console.warn(`local signing key ${file} was readable by others; setting mode 0600`);
    await chmod(file, 0o600);
  }
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
