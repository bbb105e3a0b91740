import { loadEligibilityCriteria } from './core/index.js';
import type { ScreenDeps } from './rescreen.js';
import type { Adapters } from '../commons/runtime.js';
import { studyConformance, studyDataDir } from '../commons/study-context.js';

/**
 * The screen function's composition root: the eligibility criteria over the store and the recruitment alerts.
 * @param adapters - The adapters screen uses.
 * @returns The screen ports.
 */
export function screenDeps(adapters: Pick<Adapters, 'config' | 'store' | 'alerts' | 'logger'>): ScreenDeps {
  const { config, store, alerts, logger } = adapters;
  return {
    store,
    conformance: studyConformance(config),
    criteria: loadEligibilityCriteria(studyDataDir(config, 'eligibility')),
    alerts,
    logger,
    now: () => new Date(),
  };
}
