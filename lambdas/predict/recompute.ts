import type { Logger } from '@aws-lambda-powertools/logger';
import type { Observation, Resource } from '@medplum/fhirtypes';
import type { Conformance } from '../commons/conformance/index.js';
import type { StudyStore } from '../commons/store/port.js';
import { SUBJECT_TYPES } from '../commons/study-types.js';
import { loadSubjectRecords } from '../commons/subject-records.js';
import { predictionFor } from './core/apply.js';
import type { PredictionModel } from './core/model-spec.js';

/** What the prediction needs besides the record: the model, and a logger for its own defects. */
export interface PredictRules {
  readonly conformance: Conformance;
  /** The model applied to every subject: the active one, else the newest draft; none → nothing to do. */
  readonly model: PredictionModel | undefined;
  readonly logger: Logger;
  readonly now: () => Date;
}

/** What the prediction consumer reads and writes through. */
export interface PredictDeps extends PredictRules {
  readonly store: StudyStore;
}

/**
 * The prediction of one subject from its record, with no I/O: the `response-prediction`
 * Observation once the features of the model's timepoint are in (or not evaluable once they can no
 * longer come), or undefined when there is nothing to predict yet or no model.
 * @param patient - The pseudonym.
 * @param records - Its current resources; only the types of SUBJECT_TYPES are read.
 * @param deps - Model and clock.
 * @returns The Observation to write, or undefined.
 */
export function planPredict(patient: string, records: readonly Resource[], deps: PredictRules): (Observation & { id: string }) | undefined {
  if (!deps.model) {
    return undefined;
  }
  const reads = new Set<string>(SUBJECT_TYPES);
  const subjectRecords = records.filter((r) => reads.has(r.resourceType));
  const observation = predictionFor(subjectRecords, { base: deps.conformance.base, subject: patient, model: deps.model, asOf: deps.now() });
  if (!observation) {
    return undefined;
  }
  const profile = observation.meta?.profile?.[0];
  const problems = profile ? deps.conformance.validateProfile(observation, profile).filter((i) => i.severity === 'error') : [];
  if (problems.length > 0) {
    deps.logger.error('Prediction fails its profile', { profile, issues: problems.length, at: problems[0]?.expression?.[0] });
  }
  return observation;
}

/**
 * Recomputes one subject's prediction on its own (the subject step runs it together with derivation
 * and screening). The prediction is a new version of the same Observation for every model version, so
 * the earlier ones stay readable in history; an unchanged prediction writes nothing.
 * @param patient - The pseudonym.
 * @param deps - Ports and the model.
 * @returns The write status, or `none` when there is nothing to predict yet.
 */
export async function repredictSubject(patient: string, deps: PredictDeps): Promise<string> {
  if (!deps.model) {
    return 'none';
  }
  const records = await loadSubjectRecords(deps.store, patient);
  const observation = planPredict(patient, records, deps);
  if (!observation) {
    return 'none';
  }
  const [result] = await deps.store.commit([observation], { atomic: true });
  return result?.status ?? 'none';
}
