import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isBlocking } from '../../../lambdas/commons/fhir/issues.js';
import { validateBase } from '../../../lambdas/commons/fhir/validate-base.js';
import { loadConformance } from '../../../lambdas/commons/conformance/index.js';
import type { Group } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { categoryRangePattern } from '../../../lambdas/screen/core/code-set.js';
import {
  CRITERIA_FILE,
  DEFAULT_CRITERIA_DIR,
  EligibilityCriteriaError,
  loadEligibilityCriteria,
  parseEligibilityCriteria,
} from '../../../lambdas/screen/core/criteria.js';
import { GROUP_FILE, toEligibilityGroup } from '../../../lambdas/screen/core/publish.js';
import { toScreeningObservation } from '../../../lambdas/screen/core/screening-observation.js';
import { screenPatient } from '../../../lambdas/screen/core/screen.js';
import { BASE, baseline, daysBefore, encounter, cc, ICD, lab, PSEUDONYM, screen } from './builders.js';

const rawFile = (): Record<string, unknown> => JSON.parse(readFileSync(join(DEFAULT_CRITERIA_DIR, CRITERIA_FILE), 'utf8')) as Record<string, unknown>;

/** Every bullet of the registry record, with the criterion code that implements it. */
const REGISTRY_BULLETS: [string, string][] = [
  ['Fulfillment of the 1997 American College of Rheumatology', 'incl-sle-diagnosis'],
  ['Aged more than 18 years', 'incl-age'],
  ['Active (according to SLEDAI-2K)', 'incl-active-disease'],
  ['Refractory SLE manifestations', 'incl-refractory'],
  ['malignant neoplasm within the last 5 years', 'excl-malignancy'],
  ['suicide risk', 'excl-suicide-risk'],
  ['primary immunodeficiency', 'excl-primary-immunodeficiency'],
  ['IgG level < 400 mg/dL', 'excl-igg-deficiency'],
  ['IgA level < 10 mg/dL', 'excl-iga-deficiency'],
  ['Cyclophosphamide or rituximab treatment', 'excl-cyclophosphamide-rituximab'],
  ['suppressive therapy for a chronic infection', 'excl-chronic-infection-therapy'],
  ['Hospitalization for treatment of infection within 60 days of Day 0', 'excl-infection-hospitalisation'],
  ['parenteral (IV or IM) antibiotics', 'excl-parenteral-antibiotics'],
  ['drug or alcohol abuse or dependence', 'excl-substance-abuse'],
  ['HIV test', 'excl-hiv'],
  ['hepatitis B', 'excl-hepatitis'],
  ['anaphylactic reaction', 'excl-anaphylaxis'],
  ['abnormal laboratory value in the opinion of the investigator', 'excl-lab-abnormality'],
  ['intercurrent significant medical or psychiatric illness', 'excl-intercurrent-illness'],
];

describe('Function: loadEligibilityCriteria', () => {
  it('loads and validates the rule file from fhir-profiles/eligibility/', () => {
    const criteria = loadEligibilityCriteria();
    expect(criteria.version).toBe('nct04893161-eligibility|1.1.0');
    expect(criteria.file.criteria.map((c) => c.code)).toEqual(REGISTRY_BULLETS.map(([, code]) => code));
  });

  it.each(REGISTRY_BULLETS)('has a rule for the registry bullet "%s" (%s)', (text, code) => {
    const def = loadEligibilityCriteria().file.criteria.find((c) => c.code === code);
    expect(def?.bullet).toContain(text);
    expect(def?.kind).toBe(code.startsWith('incl-') ? 'inclusion' : 'exclusion');
  });

  it('rejects a file naming an unknown code set', () => {
    const file = rawFile();
    (file.criteria as { rule: { set?: string } }[])[7]!.rule.set = 'no-such-set';
    expect(() => parseEligibilityCriteria(file)).toThrow(EligibilityCriteriaError);
    expect(() => parseEligibilityCriteria(file)).toThrow(/no-such-set/);
  });

  it('rejects a threshold of the wrong type, naming its path', () => {
    const file = rawFile();
    (file.criteria as { rule: { below?: unknown } }[])[7]!.rule.below = '400';
    expect(() => parseEligibilityCriteria(file)).toThrow(/criteria\.7\.rule/);
  });

  it('rejects a duplicate criterion and a bad regular expression', () => {
    const dup = rawFile();
    const list = dup.criteria as unknown[];
    list.push(list[0]);
    expect(() => parseEligibilityCriteria(dup)).toThrow(/Duplicate/);
    const regex = rawFile();
    (regex.codeSets as Record<string, { include: { patterns?: string[] }[] }>).malignancy!.include[1]!.patterns = ['(('];
    expect(() => parseEligibilityCriteria(regex)).toThrow(EligibilityCriteriaError);
  });

  it('rejects refractory placed before the active-disease criterion it reads', () => {
    const file = rawFile();
    const list = file.criteria as unknown[];
    [list[2], list[3]] = [list[3], list[2]];
    expect(() => parseEligibilityCriteria(file)).toThrow(/incl-active-disease/);
  });
});

describe('Thresholds, windows and code lists are data', () => {
  it('a changed IgG threshold changes the verdict without a code change', () => {
    const file = rawFile();
    (file.criteria as { rule: { below?: number } }[])[7]!.rule.below = 300;
    const criteria = parseEligibilityCriteria(file);
    const resources = [...baseline(), lab('2465-3', 350, 'mg/dL', daysBefore(1))];
    const result = screenPatient({ base: BASE, patient: PSEUDONYM, resources, asOf: new Date('2024-06-10') }, criteria);
    expect(result.criteria.find((c) => c.code === 'excl-igg-deficiency')?.state).toBe('not-met');
    expect(screen(resources).criteria.find((c) => c.code === 'excl-igg-deficiency')?.state).toBe('met');
  });

  it('a changed window changes the verdict (hospitalisation 60 → 30 days)', () => {
    const file = rawFile();
    (file.criteria as { rule: { window?: { value: number } } }[])[11]!.rule.window!.value = 30;
    const criteria = parseEligibilityCriteria(file);
    const resources = [...baseline(), encounter({ start: daysBefore(50), end: daysBefore(45), reason: cc(ICD, 'J18.9') })];
    const result = screenPatient({ base: BASE, patient: PSEUDONYM, resources, asOf: new Date('2024-06-10') }, criteria);
    expect(result.criteria.find((c) => c.code === 'excl-infection-hospitalisation')?.state).toBe('not-met');
  });

  it('a code added to a list is matched', () => {
    const file = rawFile();
    (file.codeSets as Record<string, { include: { codes?: string[] }[] }>)['sle-relapse']!.include.push({ system: 'sct', codes: ['123456789'] } as never);
    expect(() => parseEligibilityCriteria(file)).not.toThrow();
  });
});

describe('Published FHIR: the definitional Group', () => {
  const criteria = loadEligibilityCriteria();
  const group = toEligibilityGroup(criteria, BASE);
  const path = GROUP_FILE;

  it('is the file shipped in fhir-profiles/Group/ (regenerate with UPDATE_ELIGIBILITY_GROUP=1)', () => {
    if (process.env.UPDATE_ELIGIBILITY_GROUP === '1') {
      writeFileSync(path, `${JSON.stringify(group, null, 2)}\n`);
    }
    const shipped = JSON.parse(readFileSync(path, 'utf8')) as Group;
    expect(shipped).toEqual(group);
  });

  it('has one characteristic per criterion, exclusions flagged, every code list contained', () => {
    expect(group.actual).toBe(false);
    expect(group.characteristic).toHaveLength(19);
    expect(group.characteristic?.filter((c) => c.exclude).length).toBe(15);
    const igg = group.characteristic?.find((c) => c.code.coding?.[0]?.code === 'excl-igg-deficiency');
    expect(igg?.valueQuantity).toEqual({ comparator: '<', value: 400, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' });
    const hosp = group.characteristic?.find((c) => c.code.coding?.[0]?.code === 'excl-infection-hospitalisation');
    expect(hosp?.extension?.find((e) => e.url.endsWith('/eligibility-window'))?.valueDuration?.value).toBe(60);
    const referenced = JSON.stringify(group).match(/"#vs-[a-z0-9-]+"/g) ?? [];
    for (const vs of group.contained ?? []) {
      expect(referenced).toContain(`"#${vs.id ?? ''}"`);
    }
  });

  it('is valid base FHIR R4', () => {
    expect(validateBase(group).filter(isBlocking)).toEqual([]);
  });

  it('writes ICD-10-CM category ranges as compact regular expressions', () => {
    const pattern = new RegExp(`^(${categoryRangePattern('C00', 'C96')})`);
    expect(['C00.0', 'C4A.9', 'C50.911', 'C96.9'].every((c) => pattern.test(c))).toBe(true);
    expect(['C97', 'D00.0', 'B99.9'].some((c) => pattern.test(c))).toBe(false);
    const chapter = new RegExp(`^(${categoryRangePattern('A00', 'B99')})`);
    expect(['A00.1', 'A41.9', 'B20', 'B99.9'].every((c) => chapter.test(c))).toBe(true);
    expect(chapter.test('C00.0')).toBe(false);
  });
});

describe('Published FHIR: the eligibility-screening Observation', () => {
  it('conforms to the study profile eligibility-screening', () => {
    const conformance = loadConformance({ base: BASE });
    const obs = toScreeningObservation(screen(baseline()), BASE);
    expect(conformance.validateProfile(obs, `${BASE}/StructureDefinition/eligibility-screening`).filter(isBlocking)).toEqual([]);
  });
});
