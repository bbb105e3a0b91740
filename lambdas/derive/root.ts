import { loadDerivationRules } from './core/rules.js';
import type { DeriveDeps } from './recompute.js';
import type { Adapters } from '../commons/runtime.js';
import { annotationRules, studyConformance, studyDataDir } from '../commons/study-context.js';

/**
 * The derive function's composition root: the derivation rules and visit windows over the store and
 * the events it publishes when a derived result changes.
 * @param adapters - The adapters derive uses.
 * @returns The derive ports.
 */
export function deriveDeps(adapters: Pick<Adapters, 'config' | 'store' | 'events' | 'logger'>): DeriveDeps {
  const { config, store, events, logger } = adapters;
  const conformance = studyConformance(config);
  return {
    store,
    events,
    conformance,
    annotation: annotationRules(conformance),
    rules: loadDerivationRules(studyDataDir(config, 'derivation')),
    logger,
    now: () => new Date(),
  };
}
