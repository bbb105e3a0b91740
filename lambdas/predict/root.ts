import { activeModel, loadModels } from './core/model-spec.js';
import type { PredictDeps } from './recompute.js';
import type { Adapters } from '../commons/runtime.js';
import { studyConformance, studyDataDir } from '../commons/study-context.js';

/**
 * The predict function's composition root: the active prediction model over the store.
 * @param adapters - The adapters predict uses.
 * @returns The predict ports.
 */
export function predictDeps(adapters: Pick<Adapters, 'config' | 'store' | 'logger'>): PredictDeps {
  const { config, store, logger } = adapters;
  return {
    store,
    conformance: studyConformance(config),
    model: activeModel(loadModels(studyDataDir(config, 'models'))),
    logger,
    now: () => new Date(),
  };
}
