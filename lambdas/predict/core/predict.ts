/**
 * Applying a model to one subject: once every feature of the model's timepoint is present, a
 * `response-prediction` Observation (likely or unlikely responder, the probability as a UCUM `1`
 * component, one component per feature with the value used and its contribution to the linear
 * predictor). When the timepoint is over and a feature is still missing, the model's missing-data
 * policy (`not-evaluable`) gives the same Observation without a value: dataAbsentReason, the reason
 * per feature, and a note; never a silent zero. It claims `response-prediction-not-evaluable`, so that
 * `_profile` finds it (and a client of `response-prediction` always gets an outcome).
 *
 * Id: a function of subject and model *name* (not version), so a new version of a model writes a new
 * version of the same Observation and the earlier prediction stays readable in its _history.
 */
import type { CodeableConcept, Extension, Observation, ObservationComponent } from '@medplum/fhirtypes';
import { deterministicId } from '../../commons/ids.js';
import { referencesTo, studyUrls } from '../../derive/core/fhir-access.js';
import { inverseLogit } from '../stats/binomial-family.js';
import { assembleFeatures, type FeatureAssembly, type SubjectInput } from './features.js';
import { BASE_PLACEHOLDER, modelCanonical, type PredictionModel } from './model-spec.js';

/** Extension on a feature component: the feature's contribution β·x to the linear predictor (valueDecimal). */
export const CONTRIBUTION_EXTENSION = 'prediction-contribution';
/** R4 core extension naming the definition an Observation follows; here the model's Library, `url|version`. */
export const INSTANTIATES_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/workflow-instantiatesCanonical';
const DATA_ABSENT = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';
const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const UCUM = 'http://unitsofmeasure.org';

/** One feature's part of a prediction. */
export interface Contribution {
  readonly feature: string;
  readonly value: number;
  /** β·x. */
  readonly contribution: number;
}

/** A model's answer for one set of feature values. */
export interface PredictionResult {
  readonly linearPredictor: number;
  readonly probability: number;
  readonly outcome: 'likely-responder' | 'unlikely-responder';
  readonly contributions: readonly Contribution[];
}

/**
 * The model's linear predictor, probability and interpretation for feature values.
 * @param model - The model.
 * @param values - Feature values by feature id; every feature must be present.
 * @returns The result.
 * @throws RangeError when a feature value is missing or not finite (callers check completeness first).
 */
export function evaluateModel(model: PredictionModel, values: Readonly<Record<string, number>>): PredictionResult {
  const contributions = model.model.coefficients.map((c) => {
    const value = values[c.feature];
    if (value === undefined || !Number.isFinite(value)) throw new RangeError(`feature ${c.feature} has no finite value`);
    return { feature: c.feature, value, contribution: c.estimate * value };
  });
  const linearPredictor = contributions.reduce((s, c) => s + c.contribution, model.model.intercept.estimate);
  const probability = inverseLogit(linearPredictor);
  return {
    linearPredictor,
    probability,
    outcome: probability >= model.interpretation.threshold ? model.interpretation.atOrAbove : model.interpretation.below,
    contributions,
  };
}

/**
 * The id of a subject's prediction from a model: subject + model name, so a new model version
 * writes a new version of the same resource.
 * @param subject - The pseudonym.
 * @param model - The model (its name).
 * @returns A FHIR id.
 */
export function predictionId(subject: string, model: Pick<PredictionModel, 'name'>): string {
  return deterministicId('response-prediction', subject, model.name);
}

/**
 * Predicts SRI-4 response for one subject.
 * @param input - The subject's resources (source and derived), pseudonym, canonical base and the time.
 * @param model - The model.
 * @returns The `response-prediction` Observation; a not-evaluable one (no value, dataAbsentReason, profile `response-prediction-not-evaluable`)
 *   when the timepoint is over with a feature missing; undefined while the timepoint's data may still come.
 * @example
 * const obs = predictSubject({ base, subject, resources, asOf: new Date() }, activeModel(loadModels())!);
 */
export function predictSubject(input: SubjectInput, model: PredictionModel): (Observation & { id: string }) | undefined {
  const assembly = assembleFeatures(input, model);
  if (assembly.missing.length > 0 && !assembly.timepointPassed) return undefined;
  return toObservation(input, model, assembly);
}

/**
 * The Observation for an assembly (exported for tests and for callers that assembled features already).
 * @param input - The subject.
 * @param model - The model.
 * @param assembly - Its features.
 * @returns The Observation.
 */
export function toObservation(input: SubjectInput, model: PredictionModel, assembly: FeatureAssembly): Observation & { id: string } {
  const urls = studyUrls(input.base);
  const concept = (code: string, display?: string): CodeableConcept => ({ coding: [{ system: urls.assessments, code, ...(display ? { display } : {}) }] });
  const canonical = modelCanonical(model, urls.base);
  const featureCode = (id: string, label: string): CodeableConcept => ({ coding: [{ system: canonical, code: id, display: label }], text: label });
  const extension: Extension[] = [
    { url: urls.visitExtension, valueCoding: { system: urls.visitSystem, code: model.timepoint } },
    ...(assembly.timepoint.studyDay === undefined ? [] : [{ url: urls.dayExtension, valueInteger: assembly.timepoint.studyDay }]),
    { url: INSTANTIATES_EXTENSION, valueCanonical: `${canonical}|${model.version}` },
  ];
  const notes = model.caution ? [{ text: model.caution }] : [];
  const header: Observation & { id: string } = {
    resourceType: 'Observation',
    id: predictionId(input.subject, model),
    extension,
    status: model.status === 'active' ? 'final' : 'preliminary',
    category: [{ coding: [{ system: OBSERVATION_CATEGORY, code: 'survey', display: 'Survey' }] }],
    code: concept('response-prediction', 'Predicted belimumab response at week 48'),
    subject: { reference: `Patient/${input.subject}` },
    ...(assembly.timepoint.date ? { effectiveDateTime: assembly.timepoint.date } : {}),
  };
  const method = { text: `${model.name} ${model.version}: logistic regression (${model.model.method}), ${canonical}|${model.version}` };
  const derivedFrom = referencesTo(assembly.values.flatMap((v) => v.evidence)) as NonNullable<Observation['derivedFrom']>;
  const probabilityCode = concept('response-probability', 'Predicted probability of SRI-4 response at week 48');

  if (assembly.missing.length > 0) {
    // A reason names the feature's codes as the model file writes them: fill in the `{base}` placeholder.
    const reasons = assembly.missing.map((m) => `${m.feature.id}: ${m.reason.replaceAll(BASE_PLACEHOLDER, urls.base)}`);
    const present = new Map(assembly.values.map((v) => [v.feature.id, v.value]));
    return {
      ...header,
      // Its own profile: response-prediction requires the outcome, which a not-evaluable subject has not.
      meta: { profile: [urls.structureDefinition('response-prediction-not-evaluable')] },
      dataAbsentReason: { coding: [{ system: DATA_ABSENT, code: 'not-performed', display: 'Not Performed' }], text: `Not evaluable: ${reasons.join('; ')}` },
      method,
      component: [
        { code: probabilityCode, dataAbsentReason: { coding: [{ system: DATA_ABSENT, code: 'not-applicable' }] } },
        ...model.features.map((f): ObservationComponent => {
          const value = present.get(f.id);
          const missing = assembly.missing.find((m) => m.feature.id === f.id);
          return value === undefined
            ? {
                code: featureCode(f.id, f.label),
                dataAbsentReason: { coding: [{ system: DATA_ABSENT, code: 'not-performed' }], text: missing?.reason.replaceAll(BASE_PLACEHOLDER, urls.base) ?? 'missing' },
              }
            : { code: featureCode(f.id, f.label), valueQuantity: { value, unit: f.unit, system: UCUM, code: f.unit } };
        }),
      ],
      ...(derivedFrom.length > 0 ? { derivedFrom } : {}),
      note: [...notes, { text: `Not evaluable (missing-data policy ${model.missingData.policy}): ${reasons.join('; ')}` }],
    };
  }

  const result = evaluateModel(model, Object.fromEntries(assembly.values.map((v) => [v.feature.id, v.value])));
  const byId = new Map(model.features.map((f) => [f.id, f]));
  return {
    ...header,
    meta: { profile: [urls.structureDefinition('response-prediction')] },
    valueCodeableConcept: concept(result.outcome, result.outcome === 'likely-responder' ? 'Likely responder' : 'Unlikely responder'),
    method,
    component: [
      { code: probabilityCode, valueQuantity: { value: round(result.probability, 4), unit: '1', system: UCUM, code: '1' } },
      ...result.contributions.map((c): ObservationComponent => {
        const f = byId.get(c.feature);
        return {
          extension: [{ url: urls.structureDefinition(CONTRIBUTION_EXTENSION), valueDecimal: c.contribution }],
          code: featureCode(c.feature, f?.label ?? c.feature),
          valueQuantity: { value: c.value, unit: f?.unit ?? '1', system: UCUM, code: f?.unit ?? '1' },
        };
      }),
    ],
    derivedFrom,
    note: [
      ...notes,
      {
        text:
          `Linear predictor ${result.linearPredictor.toFixed(4)} = intercept ${model.model.intercept.estimate} + sum of feature contributions; ` +
          `probability ${result.probability.toFixed(4)}; threshold ${model.interpretation.threshold}.`,
      },
    ],
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
