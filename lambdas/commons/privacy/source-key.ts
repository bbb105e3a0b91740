import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/*
 * The key of the source-identifier hashes (HMAC-SHA-256 of source system + type + id). It is held apart
 * from the study data so that a reader of the study table or an export cannot recompute the hash of a
 * hospital id: in AWS a Secrets Manager secret under its own KMS key that only ingest may read; locally
 * a file in DATA_DIR, created on first use, readable by its owner alone.
 */

/** Gets the key (once per cold start: the promise is cached by the caller). */
export type SourceKeyProvider = () => Promise<Uint8Array>;

/** Fewer bytes than SHA-256's output would weaken HMAC-SHA-256 (RFC 2104 §3). */
export const MIN_KEY_BYTES = 32;

/** The key is missing, unreadable or too short: ingest refuses to run rather than write unkeyed ids. */
export class SourceKeyError extends Error {
  public override readonly name = 'SourceKeyError';
}

function checked(key: Uint8Array, where: string): Uint8Array {
  if (key.length < MIN_KEY_BYTES) {
    throw new SourceKeyError(`The source-identifier key in ${where} has ${key.length} bytes; at least ${MIN_KEY_BYTES} are needed`);
  }
  return key;
}

/**
 * The key in a local file, created with 32 random bytes (mode 0600) when it does not exist yet.
 * @param path - The file (DATA_DIR/source-key by default).
 * @returns The key.
 */
export function readOrCreateKeyFile(path: string): Uint8Array {
  mkdirSync(dirname(path), { recursive: true });
  try {
    // 'wx' fails when the file exists, so two processes starting together keep the first key.
    writeFileSync(path, randomBytes(MIN_KEY_BYTES).toString('hex'), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if ((statSync(path).mode & 0o077) !== 0) {
    // A key readable by others is no longer apart from the data; tighten it rather than refuse.
    chmodSync(path, 0o600);
  }
  return checked(decodeKey(readFileSync(path, 'utf8')), path);
}

/**
 * A provider over a local key file.
 * @param path - The file.
 * @returns The provider (reads the file once).
 */
export function fileKeyProvider(path: string): SourceKeyProvider {
  let key: Promise<Uint8Array> | undefined;
  return () => (key ??= Promise.resolve().then(() => readOrCreateKeyFile(path)));
}

/**
 * A provider over a Secrets Manager secret (its SecretString: hex, base64 or plain text of at least 32
 * bytes; or its SecretBinary). A failed read is not cached, so the next request tries again.
 * @param client - The Secrets Manager client.
 * @param secretId - The secret's ARN.
 * @returns The provider.
 */
export function secretKeyProvider(client: Pick<SecretsManagerClient, 'send'>, secretId: string): SourceKeyProvider {
  let key: Promise<Uint8Array> | undefined;
  return () => {
    key ??= client.send(new GetSecretValueCommand({ SecretId: secretId })).then((out) => {
      const raw = out.SecretBinary ? Uint8Array.from(out.SecretBinary) : out.SecretString ? decodeKey(out.SecretString) : new Uint8Array();
      return checked(raw, 'the source-key secret');
    });
    key.catch(() => (key = undefined));
    return key;
  };
}

/**
 * A fixed key (tests) or, without one, a random key for this process only: for in-memory runs (bulk
 * screening of an export, benchmarks) whose ids never outlive the process.
 * @param key - The key, when fixed.
 * @returns The provider.
 */
export function staticKeyProvider(key: Uint8Array = randomBytes(MIN_KEY_BYTES)): SourceKeyProvider {
  const k = Promise.resolve(checked(key, 'the given key'));
  return () => k;
}

/** The key as written in a file or a secret: 64+ hex characters, else the UTF-8 bytes of the text. */
function decodeKey(text: string): Uint8Array {
  const trimmed = text.trim();
  return /^(?:[0-9a-f]{2}){32,}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'utf8');
}

/**
 * The provider a deployed function uses: the secret (SOURCE_KEY_SECRET_ARN), else the file
 * (SOURCE_KEY_FILE). Neither is a configuration error: ingest never writes ids under a key it would
 * not find again.
 * @param config - SOURCE_KEY_SECRET_ARN, SOURCE_KEY_FILE, AWS_REGION.
 * @param secretsClient - Builds the Secrets Manager client (injected so that only ingest loads it).
 * @returns The provider.
 */
export function sourceKeyFromConfig(
  config: { readonly SOURCE_KEY_SECRET_ARN?: string | undefined; readonly SOURCE_KEY_FILE?: string | undefined },
  secretsClient: () => Pick<SecretsManagerClient, 'send'>,
): SourceKeyProvider {
  if (config.SOURCE_KEY_SECRET_ARN) {
    return secretKeyProvider(secretsClient(), config.SOURCE_KEY_SECRET_ARN);
  }
  if (config.SOURCE_KEY_FILE) {
    return fileKeyProvider(config.SOURCE_KEY_FILE);
  }
  return () => Promise.reject(new SourceKeyError('Neither SOURCE_KEY_SECRET_ARN nor SOURCE_KEY_FILE is set: no key for the source-identifier hashes'));
}
