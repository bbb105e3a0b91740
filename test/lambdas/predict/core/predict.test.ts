import { beforeAll, describe, expect, it } from 'vitest';
import { loadConformance, type Conformance } from '../../../../lambdas/commons/conformance/index.js';
import { predictionFor } from '../../../../lambdas/predict/core/apply.js';
import { loadModels } from '../../../../lambdas/predict/core/model-spec.js';
import { CONTRIBUTION_EXTENSION, evaluateModel, INSTANTIATES_EXTENSION, predictionId, predictSubject } from '../../../../lambdas/predict/core/predict.js';
import { base, cd19, completeRecords, smallModel, subject } from './fixtures.js';

const model = loadModels()[0]!;
const asOf = new Date('2024-08-01T00:00:00Z');
const profile = `${base}/StructureDefinition/response-prediction`;
let conformance: Conformance;

beforeAll(() => {
  conformance = loadConformance({ base });
});

const errorsOf = (resource: any): string[] =>
  conformance
    .validateProfile(resource, profile)
    .filter((i) => i.severity === 'error')
    .map((i) => i.details?.text ?? '');

describe('Function: predictSubject', () => {
  it('computes the linear predictor and probability as by hand', () => {
    // Prepare: -0.5 + 0.08·12 − 0.15·(−4) − 1.2·ln(6/12) − 0.8·ln(10/8) − 0.012·70 + 0.002·150
    const byHand = -0.5 + 0.96 + 0.6 + 1.2 * 0.6931471805599453 - 0.8 * 0.22314355131420976 - 0.84 + 0.3;
    expect(byHand).toBeCloseTo(1.1732618, 6);
    // Act
    const obs = predictSubject({ base, subject, resources: completeRecords(), asOf }, model)!;
    // Assess
    const probability = obs.component?.[0]?.valueQuantity;
    expect(probability).toEqual({ value: 0.7637, unit: '1', system: 'http://unitsofmeasure.org', code: '1' });
    expect(1 / (1 + Math.exp(-byHand))).toBeCloseTo(0.76373, 5);
    expect(obs.valueCodeableConcept?.coding?.[0]?.code).toBe('likely-responder');
    const contributions = Object.fromEntries(
      (obs.component ?? []).slice(1).map((c) => [c.code.coding?.[0]?.code, c.extension?.find((e) => e.url.endsWith(`/${CONTRIBUTION_EXTENSION}`))?.valueDecimal]),
    );
    expect(contributions.sledai_baseline).toBeCloseTo(0.96, 12);
    expect(contributions.cd19_log_ratio_w4).toBeCloseTo(0.831776616671934, 12);
    expect(Object.values(contributions).reduce((s: number, v) => s + (v as number), model.model.intercept.estimate)).toBeCloseTo(byHand, 12);
    expect(obs.component?.find((c) => c.code.coding?.[0]?.code === 'c3_baseline')?.valueQuantity).toMatchObject({ value: 70, code: 'mg/dL' });
  });

  it('publishes a response-prediction that passes its profile, with the model, the visit and the evidence', () => {
    const obs = predictSubject({ base, subject, resources: completeRecords(), asOf }, model)!;
    expect(errorsOf(obs)).toEqual([]);
    expect(obs.meta?.profile).toEqual([profile]);
    expect(obs.id).toBe(predictionId(subject, model));
    expect(obs.subject).toEqual({ reference: `Patient/${subject}` });
    expect(obs.extension?.find((e) => e.url.endsWith('/study-visit'))?.valueCoding?.code).toBe('week-4');
    expect(obs.extension?.find((e) => e.url === INSTANTIATES_EXTENSION)?.valueCanonical).toBe(`${base}/Library/sri4-week4|0.1.0`);
    expect(obs.method?.text).toContain('sri4-week4 0.1.0');
    expect(obs.effectiveDateTime).toBe('2024-07-29');
    expect(obs.derivedFrom?.map((r) => r.reference)).toHaveLength(8);
  });

  it('marks a prediction from a draft model preliminary and says it is illustrative and uncalibrated', () => {
    const draft = predictSubject({ base, subject, resources: completeRecords(), asOf }, model)!;
    expect(draft.status).toBe('preliminary');
    expect(draft.note?.[0]?.text).toContain('ILLUSTRATIVE AND UNCALIBRATED');
    const active = predictSubject({ base, subject, resources: completeRecords(), asOf }, { ...model, status: 'active' })!;
    expect(active.status).toBe('final');
  });

  it('gives a new model version the same id, so the earlier prediction stays in history', () => {
    const next = { ...model, version: '0.2.0', model: { ...model.model, intercept: { estimate: -3, standardError: null } } };
    const a = predictSubject({ base, subject, resources: completeRecords(), asOf }, model)!;
    const b = predictSubject({ base, subject, resources: completeRecords(), asOf }, next)!;
    expect(b.id).toBe(a.id);
    expect(b.valueCodeableConcept?.coding?.[0]?.code).toBe('unlikely-responder');
  });

  it('publishes nothing while the timepoint data may still come', () => {
    const early = completeRecords().filter((r) => r.id !== '8117-4-week-4');
    expect(predictSubject({ base, subject, resources: early, asOf: new Date('2024-08-02') }, model)).toBeUndefined();
  });

  it('makes a subject not evaluable, with the reason, when a feature is missing after the timepoint', () => {
    // Prepare
    const early = completeRecords().filter((r) => r.id !== '8117-4-week-4');
    // Act
    const obs = predictSubject({ base, subject, resources: early, asOf: new Date('2024-09-01') }, model)!;
    // Assess
    expect(obs.valueCodeableConcept).toBeUndefined();
    expect(obs.dataAbsentReason?.coding?.[0]?.code).toBe('not-performed');
    expect(obs.dataAbsentReason?.text).toContain('cd19_log_ratio_w4: no http://loinc.org|8117-4 at week-4');
    expect(obs.note?.map((n) => n.text).join('\n')).toMatch(/Not evaluable \(missing-data policy not-evaluable\)/);
    const cd19Component = obs.component?.find((c) => c.code.coding?.[0]?.code === 'cd19_log_ratio_w4');
    expect(cd19Component?.valueQuantity).toBeUndefined();
    expect(cd19Component?.dataAbsentReason?.text).toContain('week-4');
    expect(obs.component?.find((c) => c.code.coding?.[0]?.code === 'sledai_baseline')?.valueQuantity?.value).toBe(12);
    expect(JSON.stringify(obs)).not.toContain('"value":0,');
    // Its own profile, which it passes, and not response-prediction's, which requires the outcome.
    const notEvaluable = `${base}/StructureDefinition/response-prediction-not-evaluable`;
    expect(obs.meta?.profile).toEqual([notEvaluable]);
    expect(conformance.validateProfile(obs, notEvaluable).filter((i) => i.severity === 'error')).toEqual([]);
    expect(errorsOf(obs).length).toBeGreaterThan(0);
  });

  it('refuses a not-evaluable prediction with an outcome or a probability under its profile', () => {
    const early = completeRecords().filter((r) => r.id !== '8117-4-week-4');
    const obs = predictSubject({ base, subject, resources: early, asOf: new Date('2024-09-01') }, model)!;
    const notEvaluable = `${base}/StructureDefinition/response-prediction-not-evaluable`;
    const errorsUnder = (resource: any): string[] => conformance.validateProfile(resource, notEvaluable).filter((i) => i.severity === 'error').map((i) => `${i.expression?.join()} ${i.details?.text}`);
    const withValue = { ...obs, valueCodeableConcept: { coding: [{ system: `${base}/CodeSystem/study-assessments`, code: 'likely-responder' }] } };
    expect(errorsUnder(withValue).length).toBeGreaterThan(0);
    const { dataAbsentReason: _reason, ...withoutReason } = obs;
    expect(errorsUnder(withoutReason).length).toBeGreaterThan(0);
    const withProbability = {
      ...obs,
      component: obs.component!.map((c) => (c.code.coding?.[0]?.code === 'response-probability' ? { code: c.code, valueQuantity: { value: 0.5, unit: '1', system: 'http://unitsofmeasure.org', code: '1' } } : c)),
    };
    expect(errorsUnder(withProbability).join('\n')).toContain('rpn-1');
  });

  it('lets a late lab complete the features, after which a prediction appears', () => {
    const early = completeRecords().filter((r) => r.id !== '8117-4-week-4');
    const late = new Date('2024-09-01');
    const before = predictSubject({ base, subject, resources: early, asOf: late }, model)!;
    const after = predictSubject({ base, subject, resources: [...early, cd19(6, 'week-4')], asOf: late }, model)!;
    expect(before.valueCodeableConcept).toBeUndefined();
    expect(after.id).toBe(before.id);
    expect(after.valueCodeableConcept?.coding?.[0]?.code).toBe('likely-responder');
    expect(after.dataAbsentReason).toBeUndefined();
  });
});

describe('Function: evaluateModel', () => {
  it('applies the threshold as data', () => {
    const m = smallModel();
    // 0.25 − 0.2·(−4) − 1.5·ln(0.5) = 2.0897
    const r = evaluateModel(m, { sledai_change_w4: -4, cd19_log_ratio_w4: Math.log(0.5) });
    expect(r.linearPredictor).toBeCloseTo(0.25 + 0.8 + 1.5 * 0.6931471805599453, 12);
    expect(evaluateModel({ ...m, interpretation: { ...m.interpretation, threshold: 0.95 } }, { sledai_change_w4: -4, cd19_log_ratio_w4: Math.log(0.5) }).outcome).toBe(
      'unlikely-responder',
    );
    expect(() => evaluateModel(m, { sledai_change_w4: -4 })).toThrow(RangeError);
  });
});

describe('Function: predictionFor', () => {
  it('marks the prediction as derived, and replaces a stale one when a feature disappears', () => {
    const current = predictionFor(completeRecords(), { base, subject, model, asOf })!;
    expect(current.meta?.source).toBe(`${base}/derived`);
    const withoutLab = completeRecords().filter((r) => r.id !== '8117-4-week-4');
    expect(predictionFor(withoutLab, { base, subject, model, asOf: new Date('2024-08-02') })).toBeUndefined();
    const stale = predictionFor([...withoutLab, current], { base, subject, model, asOf: new Date('2024-08-02') })!;
    expect(stale.id).toBe(current.id);
    expect(stale.dataAbsentReason).toBeDefined();
  });
});
