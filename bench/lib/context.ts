import { Logger } from '@aws-lambda-powertools/logger';
import { resolve } from 'node:path';
import { loadConfig } from '../../lambdas/commons/config.js';
import { createRuntime, type Runtime } from '../../lambdas/commons/runtime.js';
import { MemoryIdentityStore, MemoryStudyStore } from './memory-store.js';

/** The repository root and the shared public data beside it. */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const SHARED_DATA = resolve(REPO_ROOT, '../shared/data');

/** A logger that stays quiet unless something fails. */
export const quietLogger = (): Logger => new Logger({ serviceName: 'bench', logLevel: 'ERROR' });

/**
 * The layer's runtime over in-memory stores and no-op events and alerts: the same conformance, codes,
 * rules and validators the Lambdas build.
 * @returns The runtime and its stores.
 */
export function memoryRuntime(): { runtime: Runtime; store: MemoryStudyStore; identity: MemoryIdentityStore } {
  const store = new MemoryStudyStore();
  const identity = new MemoryIdentityStore();
  const runtime = createRuntime({
    config: loadConfig({}),
    store,
    identity,
    events: { publish: () => Promise.resolve() },
    alerts: { publish: () => Promise.resolve() },
    logger: quietLogger(),
  });
  return { runtime, store, identity };
}
