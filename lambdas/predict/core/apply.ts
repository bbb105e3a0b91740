/**
 * What the predict consumer writes for one subject after its data changed: the pure part, over the
 * records `loadSubjectRecords` returns. The consumer glue (read, validate, commit) stays outside core.
 */
import type { Observation, Resource } from '@medplum/fhirtypes';
import { assembleFeatures } from './features.js';
import type { PredictionModel } from './model-spec.js';
import { predictionId, predictSubject, toObservation } from './predict.js';

/** Who and when a prediction is made for. */
export interface PredictionOptions {
  /** Canonical base (config CANONICAL_BASE). */
  readonly base: string;
  /** The subject's pseudonym. */
  readonly subject: string;
  readonly model: PredictionModel;
  readonly asOf: Date;
}

/**
 * The `response-prediction` Observation to write for a subject, or undefined when there is nothing
 * to write yet. `meta.source` is `{base}/derived`, as for every Observation the layer derives, so the
 * derive consumer never takes it as input. A subject that already has a prediction from this model
 * whose features are no longer all present (a lab entered in error) gets the not-evaluable version,
 * so a stale prediction never stays current.
 * @param records - The subject's current resources (`loadSubjectRecords(store, subject)`).
 * @param options - Base, subject, model and time.
 * @returns The Observation (deterministic id: subject + model name), or undefined.
 */
export function predictionFor(records: readonly Resource[], options: PredictionOptions): (Observation & { id: string }) | undefined {
  const { base, subject, model, asOf } = options;
  const input = { base, subject, resources: records, asOf };
  let observation = predictSubject(input, model);
  if (!observation && records.some((r) => r.resourceType === 'Observation' && r.id === predictionId(subject, model))) {
    observation = toObservation(input, model, assembleFeatures(input, model));
  }
  if (!observation) return undefined;
  return { ...observation, meta: { ...observation.meta, source: `${base.replace(/\/+$/, '')}/derived` } };
}
