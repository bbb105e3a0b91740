import type { Logger } from '@aws-lambda-powertools/logger';
import type { Conformance } from '../commons/conformance/index.js';
import type { StudyStore } from '../commons/store/port.js';
import { loadSubjectRecords } from '../commons/subject-records.js';
import { predictionFor } from './core/apply.js';
import type { PredictionModel } from './core/model-spec.js';

/** What the prediction consumer reads and writes through. */
export interface PredictDeps {
  readonly store: StudyStore;
  readonly conformance: Conformance;
  /** The model applied to every subject: the active one, else the newest draft; none → nothing to do. */
  readonly model: PredictionModel | undefined;
  readonly logger: Logger;
  readonly now: () => Date;
}

/**
 * Recomputes one subject's prediction once the features of the model's timepoint are in (or reports
 * it not evaluable once they can no longer come). The prediction is a new version of the same
 * Observation for every model version, so the earlier ones stay readable in history; an unchanged
 * prediction writes nothing.
 * @param patient - The pseudonym.
 * @param deps - Ports and the model.
 * @returns The write status, or `none` when there is nothing to predict yet.
 */
export async function repredictSubject(patient: string, deps: PredictDeps): Promise<string> {
  if (!deps.model) {
    return 'none';
  }
  const records = await loadSubjectRecords(deps.store, patient);
  const observation = predictionFor(records, { base: deps.conformance.base, subject: patient, model: deps.model, asOf: deps.now() });
  if (!observation) {
    return 'none';
  }
  const profile = observation.meta?.profile?.[0];
  const problems = profile ? deps.conformance.validateProfile(observation, profile).filter((i) => i.severity === 'error') : [];
  if (problems.length > 0) {
    deps.logger.error('Prediction fails its profile', { profile, issues: problems.length, at: problems[0]?.expression?.[0] });
  }
  const [result] = await deps.store.commit([observation], { atomic: true });
  return result?.status ?? 'none';
}
