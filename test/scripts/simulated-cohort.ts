import type { Bundle } from '@medplum/fhirtypes';
import { studyCourseBundle, type VisitRecord } from '../../local/samples/study-course.js';
import { mulberry32, normalDraw } from '../../lambdas/predict/stats/prng.js';

/** What the generator decided for one subject. */
export interface SimulatedSubject {
  readonly patientId: string;
  readonly responder: boolean;
  /** ln(CD19 % week 4 / week 0) as written (after rounding the lab value to 2 decimals). */
  readonly cd19LogRatio: number;
  readonly sledaiChange: number;
}

const quiet = { c3: 1.1, c4: 0.2, dsdna: 40, uprot24: 150, plt: 220, wbc: 5.4 };

/**
 * A cohort with a known signal: SRI-4 response at week 48 is drawn from
 * logit P = −0.2 − 3·ln(CD19 w4/w0) − 0.2·ΔSLEDAI(w4), so deeper B-cell depletion and an early
 * SLEDAI-2K fall make response likelier. SLEDAI-2K is 6 at baseline (arthritis + rash, labs normal),
 * 6 or 2 at week 4; a responder loses the arthritis by week 48 (reduction 4, no new BILAG, PGA down),
 * a non-responder keeps it. Three visits per subject keep the push cheap.
 * @param n - Subjects.
 * @param seed - PRNG seed.
 * @returns The bundles and the truth.
 */
export function simulatedCohort(n: number, seed: number): { bundles: Bundle[]; subjects: SimulatedSubject[] } {
  const random = mulberry32(seed);
  const bundles: Bundle[] = [];
  const subjects: SimulatedSubject[] = [];
  for (let i = 0; i < n; i++) {
    const patientId = `sim-${seed}-${i}`;
    const cd19w4 = Math.round(12 * Math.exp(-0.3 + 0.4 * normalDraw(random)) * 100) / 100;
    const nsmbw4 = Math.round(8 * Math.exp(0.2 * normalDraw(random)) * 100) / 100;
    const keepsArthritis = random() < 0.5;
    const sledaiChange = keepsArthritis ? 0 : -4;
    const cd19LogRatio = Math.log(cd19w4 / 12);
    const logit = -0.2 - 3 * cd19LogRatio - 0.2 * sledaiChange;
    const responder = random() < 1 / (1 + Math.exp(-logit));
    const visits: VisitRecord[] = [
      { week: 0, present: ['arthritis', 'rash'], bilag: { musculoskeletal: 'B', mucocutaneous: 'C' }, pga: 1.5, labs: { ...quiet, cd19: 12, nsmb: 8 } },
      {
        week: 4,
        present: keepsArthritis ? ['arthritis', 'rash'] : ['rash'],
        bilag: { musculoskeletal: keepsArthritis ? 'B' : 'C', mucocutaneous: 'C' },
        pga: 1.3,
        labs: { ...quiet, cd19: cd19w4, nsmb: nsmbw4 },
      },
      responder
        ? { week: 48, present: ['rash'], bilag: { mucocutaneous: 'C' }, pga: 0.8, labs: quiet }
        : { week: 48, present: ['arthritis', 'rash'], bilag: { musculoskeletal: 'B', mucocutaneous: 'C' }, pga: 1.5, labs: quiet },
    ];
    bundles.push(studyCourseBundle({ patientId, day0: '2024-07-01', visits }));
    subjects.push({ patientId, responder, cd19LogRatio, sledaiChange });
  }
  return { bundles, subjects };
}
