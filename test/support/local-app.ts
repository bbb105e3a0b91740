import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { startLocal, type LocalApp, type LocalOptions } from '../../local/app.js';
import { signLocalToken } from '../../local/keys.js';

/** The repository root, and the shared public data beside it. */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const SHARED_DATA = resolve(REPO_ROOT, '../shared/data');

/** A local app on dynalite in memory, a fresh DATA_DIR, and a token helper. */
export interface TestApp extends LocalApp {
  token(scopes?: string): Promise<string>;
  fetchFhir(path: string, init?: RequestInit & { token?: string | null; scopes?: string }): Promise<{ status: number; body: any }>;
}

/**
 * Starts the local layer for a test file.
 * @param options - Overrides.
 * @returns The app.
 */
export async function startTestApp(options: Partial<LocalOptions> = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sle-fhir-'));
  const app = await startLocal({
    dataDir,
    port: 0,
    persist: false,
    relayIntervalMs: 0,
    logger: new Logger({ serviceName: 'test', logLevel: 'ERROR' }),
    ...options,
  });
  const token = (scopes = 'system/*.cruds'): Promise<string> => signLocalToken(dataDir, scopes);
  return {
    ...app,
    token,
    async fetchFhir(path, init = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/fhir+json', ...(init.headers as Record<string, string>) };
      if (init.token !== null) {
        headers.authorization = `Bearer ${init.token ?? (await token(init.scopes))}`;
      }
      const res = await fetch(`${app.baseUrl}${path}`, { ...init, headers });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  };
}
