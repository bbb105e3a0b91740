import { describe, expect, it } from 'vitest';
import { studyUrls } from '../../../../lambdas/derive/core/fhir-access.js';
import { applyTransform, assembleFeatures, computeFeature, measureAt } from '../../../../lambdas/predict/core/features.js';
import { loadModels } from '../../../../lambdas/predict/core/model-spec.js';
import { base, cd19, completeRecords, lab, sledai, subject } from './fixtures.js';

const model = loadModels()[0]!;
const feature = (id: string): (typeof model.features)[number] => model.features.find((f) => f.id === id)!;
const urls = studyUrls(base);

describe('Feature transforms', () => {
  it('returns the value, the change and the log-ratio from baseline', () => {
    expect(applyTransform('value', 7)).toEqual({ value: 7 });
    expect(applyTransform('change', 8, 12)).toEqual({ value: -4 });
    expect(applyTransform('log-ratio', 6, 12)).toEqual({ value: Math.log(0.5) });
  });

  it('refuses a log-ratio of a zero or negative value, and a change without baseline', () => {
    expect(applyTransform('log-ratio', 0, 12)).toHaveProperty('reason');
    expect(applyTransform('change', 8)).toEqual({ reason: 'no baseline value' });
  });
});

describe('Feature assembly', () => {
  it('computes every feature of the draft model from labs and derived SLEDAI-2K totals', () => {
    // Act
    const result = assembleFeatures({ base, subject, resources: completeRecords(), asOf: new Date('2024-08-01') }, model);
    // Assess
    expect(result.missing).toEqual([]);
    const values = Object.fromEntries(result.values.map((v) => [v.feature.id, v.value]));
    expect(values).toEqual({
      sledai_baseline: 12,
      sledai_change_w4: -4,
      cd19_log_ratio_w4: Math.log(6 / 12),
      nsmb_log_ratio_w4: Math.log(10 / 8),
      c3_baseline: 70,
      dsdna_baseline: 150,
    });
    expect(result.values.find((v) => v.feature.id === 'cd19_log_ratio_w4')?.evidence.map((o) => o.id)).toEqual(['8117-4-week-0', '8117-4-week-4']);
    expect(result.timepoint).toEqual({ date: '2024-07-29', studyDay: 28 });
  });

  it('reads the measure of the named visit only, the latest result when repeated', () => {
    const repeat = { ...cd19(9, 'week-4'), id: 'repeat', effectiveDateTime: '2024-07-30T09:00:00+08:00' };
    const m = measureAt([cd19(12, 'week-0'), cd19(6, 'week-4'), repeat], feature('cd19_log_ratio_w4').measure, 'week-4', urls);
    expect(m).toMatchObject({ value: 9 });
  });

  it('says why a feature is missing: no result, a wrong unit, a result not final', () => {
    const noBaseline = computeFeature([cd19(6, 'week-4')], feature('cd19_log_ratio_w4'), urls);
    expect(noBaseline).toHaveProperty('reason', expect.stringContaining('at week-0') as string);
    const gL = computeFeature([lab('http://loinc.org', '4485-9', 0.7, 'g/L', 'week-0')], feature('c3_baseline'), urls);
    expect(gL).toHaveProperty('reason', expect.stringContaining('the model expects mg/dL') as string);
    const prelim = computeFeature([{ ...sledai(12, 'week-0'), status: 'preliminary' as const }], feature('sledai_baseline'), urls);
    expect(prelim).toHaveProperty('reason', expect.stringContaining('preliminary') as string);
  });

  it('takes the timepoint as over once a later visit has data or its window has closed', () => {
    const early = completeRecords().filter((r) => r.id !== '8117-4-week-4');
    const at = (asOf: string): boolean => assembleFeatures({ base, subject, resources: early, asOf: new Date(asOf) }, model).timepointPassed;
    expect(at('2024-08-05')).toBe(false);
    expect(at('2024-08-20')).toBe(true);
    const later = [...early, sledai(6, 'week-12')];
    expect(assembleFeatures({ base, subject, resources: later, asOf: new Date('2024-08-05') }, model).timepointPassed).toBe(true);
  });
});
