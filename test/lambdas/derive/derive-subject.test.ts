import type { Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { deriveSubject } from '../../../lambdas/derive/core/derive-subject.js';
import { derivedId } from '../../../lambdas/derive/core/observations.js';
import { BASE, componentOf, find, grades, IV, outcomeOf, reasonsOf, rules, SUBJECT, SubjectBuilder } from './fixtures.js';

// A whole 48-week synthetic subject on the registry schedule (infusions on days 0, 14, 28 and every
// 28 days; visits at weeks 0, 2, 4, 8, 12, 24, 36, 48), scored per sledai-2k.md and response-indices.md.

/**
 * D3: a lab descriptor is assessed by a qualifying result in the look-back window or by a clinician
 * record. The clinician records the lab descriptors that no result of the visit's window measured as
 * absent, so that every score here is complete.
 */
function recordUnmeasured(b: SubjectBuilder, visit: string, measured: readonly string[]): void {
  for (const rule of rules.labs.rules.filter((r) => !measured.includes(r.descriptor))) {
    b.descriptor(visit, b.visitDate(visit), rule.descriptor, false);
  }
}

function wholeSubject(): SubjectBuilder {
  const b = new SubjectBuilder('2024-06-03');
  for (const day of [0, 14, 28, ...Array.from({ length: 11 }, (_, i) => 56 + 28 * i)]) {
    b.belimumab(b.day(day));
  }
  b.researchSubject('on-study');
  // Prednisone taper 15 → 10 → 7.5 → 5 mg/day and hydroxychloroquine 400 mg/day throughout.
  b.statement('8640', 'prednisone', 15, b.day(-90), { end: b.day(83) });
  b.statement('8640', 'prednisone', 10, b.day(84), { end: b.day(160) });
  b.statement('8640', 'prednisone', 7.5, b.day(161), { end: b.day(300) });
  b.statement('8640', 'prednisone', 5, b.day(301));
  b.statement('5521', 'hydroxychloroquine', 400, b.day(-365));

  // Screening labs on day -7 fall inside week 0's 10-day window.
  const c3 = { referenceRange: [{ low: { value: 90, code: 'mg/dL' }, high: { value: 180, code: 'mg/dL' } }] };
  const dsdna = { referenceRange: [{ high: { value: 30, code: '[IU]/mL' } }] };
  b.lab(b.day(-7), '4485-9', 62, 'mg/dL', c3);
  b.lab(b.day(-7), '33800-4', 210, '[IU]/mL', dsdna);
  b.lab(b.day(-7), '2889-4', 0.9, 'g/(24.h)');
  b.lab(b.day(-7), '777-3', 150, '10*3/uL');
  b.lab(b.day(-7), '8310-5', 36.8, 'Cel');
  // Week 0: arthritis 4 + rash 2 + alopecia 2 + labs (low complement 2, DNA 2, proteinuria 4) = 16.
  b.visit('week-0', {
    recordAbsent: 'clinical',
    present: ['arthritis', 'rash', 'alopecia'],
    bilag: grades('E', { musculoskeletal: 'B', mucocutaneous: 'B', renal: 'B', hematological: 'D' }),
    pga: 2.0,
  });
  recordUnmeasured(b, 'week-0', ['low-complement', 'increased-dna-binding', 'proteinuria', 'thrombocytopenia', 'fever']);
  b.ehrTotal('week-0', b.visitDate('week-0'), 10);
  // Week 12: arthritis 4 + rash 2 + low complement 2 + DNA 2 = 10 (reduction 6).
  b.lab(b.day(80), '4485-9', 80, 'mg/dL', c3);
  b.lab(b.day(80), '33800-4', 95, '[IU]/mL', dsdna);
  b.lab(b.day(80), '2889-4', 0.4, 'g/(24.h)');
  b.visit('week-12', { recordAbsent: 'clinical', present: ['arthritis', 'rash'], bilag: grades('E', { musculoskeletal: 'B', mucocutaneous: 'C', renal: 'C', hematological: 'D' }), pga: 1.2 });
  recordUnmeasured(b, 'week-12', ['low-complement', 'increased-dna-binding', 'proteinuria']);
  // Week 24: DNA 2 only.
  b.lab(b.day(165), '4485-9', 95, 'mg/dL', c3);
  b.lab(b.day(165), '33800-4', 60, '[IU]/mL', dsdna);
  b.visit('week-24', { recordAbsent: 'clinical', present: [], bilag: grades('E', { musculoskeletal: 'D', mucocutaneous: 'D', renal: 'D', hematological: 'D' }), pga: 0.6 });
  recordUnmeasured(b, 'week-24', ['low-complement', 'increased-dna-binding']);
  // Week 48: 0, 8 days late inside its window.
  const week48 = b.day(344);
  b.lab(b.day(340), '4485-9', 101, 'mg/dL', c3);
  b.lab(b.day(340), '33800-4', 12, '[IU]/mL', dsdna);
  b.visit('week-48', { date: week48, recordAbsent: 'clinical', present: [], bilag: grades('E', { musculoskeletal: 'D', mucocutaneous: 'D', renal: 'D', hematological: 'D' }), pga: 0.3 });
  for (const rule of rules.labs.rules.filter((r) => !['low-complement', 'increased-dna-binding'].includes(r.descriptor))) {
    b.descriptor('week-48', week48, rule.descriptor, false);
  }
  return b;
}

describe('Function: deriveSubject — a whole 48-week subject', () => {
  const b = wholeSubject();
  const out = b.derive('2025-06-01');

  it('scores SLEDAI-2K at every assessed visit, labs from the 10-day window included', () => {
    expect(['week-0', 'week-12', 'week-24', 'week-48'].map((v) => find(out, 'sledai-2k', v).valueInteger)).toEqual([16, 10, 2, 0]);
  });

  it('returns one SLEDAI-2K per visit and SRI-4..8, LLDAS and DORIS per post-baseline visit', () => {
    expect(out).toHaveLength(4 + 3 * 7);
    expect(new Set(out.map((o) => o.id)).size).toBe(out.length);
  });

  it('flags the EHR total of 10 against the derived 16 at week 0', () => {
    expect(find(out, 'sledai-2k', 'week-0').note?.[0]?.text).toMatch(/total of 10; the descriptors give 16/);
  });

  it('follows the course: SRI-6 but not SRI-7 at week 12, SRI-4..8 at weeks 24 and 48', () => {
    expect(['sri4', 'sri5', 'sri6', 'sri7', 'sri8'].map((i) => outcomeOf(find(out, i, 'week-12')))).toEqual([
      'responder',
      'responder',
      'responder',
      'non-responder',
      'non-responder',
    ]);
    for (const visit of ['week-24', 'week-48']) {
      expect(['sri4', 'sri5', 'sri6', 'sri7', 'sri8'].map((i) => outcomeOf(find(out, i, visit)))).toEqual(Array(5).fill('responder'));
    }
  });

  it('is in LLDAS from week 24 (prednisone 7.5 mg/day) and in DORIS remission at week 48 (PGA 0.3, 5 mg/day)', () => {
    expect(['week-12', 'week-24', 'week-48'].map((v) => find(out, 'lldas', v).valueBoolean)).toEqual([false, true, true]);
    expect(['week-12', 'week-24', 'week-48'].map((v) => find(out, 'doris-remission', v).valueBoolean)).toEqual([false, false, true]);
    expect(componentOf(find(out, 'lldas', 'week-24'), 'prednisone-equivalent-dose')?.valueQuantity?.value).toBe(7.5);
  });

  it('dates the week-48 response on its assessment day, with the study day, as the primary endpoint', () => {
    const endpoint = find(out, 'sri4', 'week-48');
    expect(endpoint.effectiveDateTime).toBe(b.day(344));
    expect(endpoint.extension).toContainEqual({ url: `${BASE}/StructureDefinition/study-day`, valueInteger: 344 });
    expect(endpoint.category?.map((c) => c.coding?.[0]?.code)).toEqual(['survey', 'primary-endpoint']);
    expect(reasonsOf(endpoint)).toEqual([]);
  });
});

describe('Function: deriveSubject — determinism', () => {
  it('gives ids that are a function of (subject, visit, kind)', () => {
    const out = wholeSubject().derive('2025-06-01');
    expect(find(out, 'sledai-2k', 'week-0').id).toBe(derivedId(SUBJECT, 'week-0', 'sledai-2k'));
    expect(find(out, 'sri4', 'week-48').id).toBe(derivedId(SUBJECT, 'week-48', 'sri4'));
    expect(derivedId(SUBJECT, 'week-48', 'sri4')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('returns the same Observations across runs and whatever the input order, with no versionId', () => {
    const b = wholeSubject();
    const first = b.derive('2025-06-01');
    const shuffled = new SubjectBuilder();
    shuffled.resources.push(...[...b.resources].reverse());
    expect(shuffled.derive('2025-06-01')).toEqual(first);
    expect(b.derive('2025-06-01')).toEqual(first);
    expect(first.every((o) => o.meta?.versionId === undefined)).toBe(true);
  });

  it('ignores its own earlier outputs when they are passed back in with the stored resources', () => {
    const b = wholeSubject();
    const first = b.derive('2025-06-01');
    const stored: Observation[] = first.map((o) => ({ ...o, meta: { ...o.meta, versionId: '3' } }));
    b.resources.push(...stored);
    expect(b.derive('2025-06-01')).toEqual(first);
  });

  it("ignores another subject's resources", () => {
    const b = wholeSubject();
    const first = b.derive('2025-06-01');
    const other = new SubjectBuilder('2024-06-03', 'sub-0002');
    other.visit('week-0', { present: ['seizure'] });
    other.administration('121191', 'rituximab', other.day(30), 1000, 'mg', IV);
    b.resources.push(...other.resources);
    expect(b.derive('2025-06-01')).toEqual(first);
  });

  it('uses the base it is given, never a hard-coded one', () => {
    const b = wholeSubject();
    const rebased = JSON.parse(JSON.stringify(b.resources).replaceAll(BASE, 'https://other.example/fhir')) as typeof b.resources;
    const out = deriveSubject({ base: 'https://other.example/fhir', subject: SUBJECT, resources: rebased, asOf: new Date('2025-06-01') }, rules).observations
      .map((o) => JSON.stringify(o))
      .join('');
    expect(out).not.toContain(BASE);
    expect(out).toContain('https://other.example/fhir/CodeSystem/sledai-2k');
  });
});

describe('Function: deriveSubject — visits', () => {
  it('keeps two unscheduled visits apart, one score each', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ['arthritis'] });
    b.visit('unscheduled', { date: b.day(40), present: ['rash'] });
    b.visit('unscheduled', { date: b.day(70), present: ['alopecia', 'rash'] });
    const scores = b.derive().filter((o) => o.code.coding?.[0]?.code === 'total');
    expect(scores.map((o) => [o.effectiveDateTime, o.valueInteger])).toEqual([
      [b.day(0), 4],
      [b.day(40), 2],
      [b.day(70), 4],
    ]);
    expect(new Set(scores.map((o) => o.id)).size).toBe(3);
  });

  it('ignores Observations that are not final, amended or corrected', () => {
    const b = new SubjectBuilder();
    b.visit('week-0', { present: [] });
    const lab = b.lab(b.day(0), '777-3', 20, '10*3/uL');
    lab.status = 'entered-in-error';
    expect(find(b.derive(), 'sledai-2k', 'week-0').valueInteger).toBe(0);
  });
});
