import { deriveDeps } from '../derive/root.js';
import type { DeriveRules } from '../derive/recompute.js';
import { predictDeps } from '../predict/root.js';
import type { PredictRules } from '../predict/recompute.js';
import { screenDeps } from '../screen/root.js';
import type { ScreenRules } from '../screen/rescreen.js';
import type { Adapters } from '../commons/runtime.js';
import type { SubjectStepDeps } from './step.js';

/**
 * The subject step's composition root: the derivation rules, the eligibility criteria and the
 * prediction model (each from its own function's root) over one store, the study bus and the
 * recruitment alerts.
 * @param adapters - The adapters the step uses.
 * @returns The step's ports.
 */
export function subjectStepDeps(adapters: Pick<Adapters, 'config' | 'store' | 'events' | 'alerts' | 'logger'>): SubjectStepDeps {
  return composeSubjectStep(adapters, { derive: deriveDeps(adapters), screen: screenDeps(adapters), predict: predictDeps(adapters) });
}

/**
 * The step over rules built already (the local runtime shares them with its derive, screen and predict roots).
 * @param adapters - Store, events, alerts, logger.
 * @param stages - The rules of the three stages.
 * @returns The step's ports.
 */
export function composeSubjectStep(
  adapters: Pick<Adapters, 'store' | 'events' | 'alerts' | 'logger'>,
  stages: { readonly derive: DeriveRules; readonly screen: ScreenRules; readonly predict: PredictRules },
): SubjectStepDeps {
  const { store, events, alerts, logger } = adapters;
  return { store, events, alerts, logger, now: () => new Date(), ...stages };
}
