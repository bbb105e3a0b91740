/*
 * Figure 3: the pure cores of screening, responder derivation and prediction.
 * - screenPatient over 10,000 generated patients (one core, as the unit test's population);
 * - deriveSubject over 72 subjects × 8 visits, whose records are first ingested through the ingest core
 *   (mapping and annotation as stored; validation skipped in that untimed setup), and, for the cost of
 *   the consumer around it, recomputeSubject over the in-memory store (profile-validates what it derives);
 * - fitLogistic and 10 × 5-fold repeated cross-validation on a simulated 72-subject cohort.
 */
import type { Resource } from '@medplum/fhirtypes';
import { deriveSubject } from '../../lambdas/derive/core/derive-subject.js';
import { recomputeSubject } from '../../lambdas/derive/recompute.js';
import { hasProfile } from '../../lambdas/commons/subject-records.js';
import { indexFacts } from '../../lambdas/commons/store/index-keys.js';
import { ingestBundle, type IngestDeps } from '../../lambdas/ingest/core/ingest-bundle.js';
import { DERIVED_PROFILE_IDS } from '../../lambdas/ingest/core/codes.js';
import { fitLogistic } from '../../lambdas/predict/stats/logistic.js';
import { mulberry32 } from '../../lambdas/predict/stats/prng.js';
import { ridgeFitter } from '../../lambdas/predict/stats/ridge.js';
import { crossValidate } from '../../lambdas/predict/stats/validation.js';
import { screenPatient, toScreeningObservation } from '../../lambdas/screen/core/index.js';
import { memoryRuntime } from '../lib/context.js';
import { row, runFigure, type FigureRow } from '../lib/figure.js';
import { courseBundle, predictionCohort, screeningRecord } from '../lib/generate.js';
import { MemoryStudyStore } from '../lib/memory-store.js';
import { repeat } from '../lib/stats.js';

const SCREEN_TARGET = 1000;

async function main(): Promise<{ rows: FigureRow[]; notes: string[] }> {
  const { runtime } = memoryRuntime();
  const base = runtime.conformance.base;
  const rows: FigureRow[] = [];
  const notes: string[] = [];

  // Screening.
  const criteria = runtime.screen().criteria;
  const random = mulberry32(20240610);
  const population = Array.from({ length: 10_000 }, (_, i) => screeningRecord(i, random));
  const asOf = new Date('2024-06-10T08:00:00Z');
  const screenAll = (): Promise<void> => {
    for (const p of population) {
      toScreeningObservation(screenPatient({ base, patient: p.id, resources: p.resources, asOf }, criteria), base);
    }
    return Promise.resolve();
  };
  const screenMs = await repeat(5, 1, screenAll);
  rows.push(
    row(
      {
        group: '3 screen/derive/predict',
        figure: `screenPatient + toScreeningObservation, 10,000 generated patients (${population.reduce((n, p) => n + p.resources.length, 0)} resources), one core`,
        unit: 'patients/s',
        samples: screenMs.map((ms) => population.length / (ms / 1000)),
        baselines: [],
        target: `≥ ${SCREEN_TARGET} patients/s`,
        meets: (m) => m >= SCREEN_TARGET,
      },
      true,
    ),
  );

  // Derivation: 72 subjects' courses ingested (mapped and annotated as the store keeps them).
  const store = new MemoryStudyStore();
  const setupDeps: IngestDeps = {
    ...runtime.ingest(),
    store,
    validateBase: () => [],
    conformance: Object.assign(Object.create(runtime.conformance) as typeof runtime.conformance, { validateProfile: () => [] }),
  };
  const courseRandom = mulberry32(4893161);
  for (let i = 0; i < 72; i++) {
    await ingestBundle(courseBundle(i, courseRandom), 'system', setupDeps);
  }
  const derivedProfiles = new Set([...DERIVED_PROFILE_IDS].map((id) => `${base}/StructureDefinition/${id}`));
  const bySubject = new Map<string, Resource[]>();
  for (const r of store.all()) {
    const patient = indexFacts(r).patient;
    if (patient && r.resourceType !== 'Patient' && r.resourceType !== 'Provenance' && !hasProfile(r, derivedProfiles)) {
      bySubject.set(patient, [...(bySubject.get(patient) ?? []), r]);
    }
  }
  const rules = runtime.derive().rules;
  const deriveAsOf = new Date('2025-06-01T12:00:00Z');
  let derivedCount = 0;
  const deriveAll = (): Promise<void> => {
    derivedCount = 0;
    for (const [subject, resources] of bySubject) {
      derivedCount += deriveSubject({ base, subject, resources, asOf: deriveAsOf }, rules).observations.length;
    }
    return Promise.resolve();
  };
  const deriveMs = await repeat(7, 2, deriveAll);
  const inputCount = [...bySubject.values()].reduce((n, rs) => n + rs.length, 0);
  rows.push(
    row(
      {
        group: '3 screen/derive/predict',
        figure: `deriveSubject (SLEDAI-2K, SRI-4..8, LLDAS, DORIS), ${bySubject.size} subjects × 8 visits (${inputCount} resources)`,
        unit: 'subjects/s',
        samples: deriveMs.map((ms) => bySubject.size / (ms / 1000)),
        baselines: [],
      },
      true,
    ),
  );
  notes.push(`deriveSubject: ${derivedCount} derived Observations per pass over ${bySubject.size} subjects`);

  // The consumer around it, over the in-memory store: load, revisit, derive, profile-validate, commit.
  const deriveDeps = { ...runtime.derive(), store, now: () => deriveAsOf };
  // A third of the cohort, twice: at about 4 subjects/s the whole cohort would take most of the time budget.
  const subjects = [...bySubject.keys()].slice(0, 24);
  const recomputeMs = await repeat(2, 0, async () => {
    for (const subject of subjects) {
      await recomputeSubject(subject, deriveDeps);
    }
  });
  rows.push(
    row(
      {
        group: '3 screen/derive/predict',
        figure: `  recomputeSubject (derive consumer, in-memory store, validates derived Observations), ${subjects.length} subjects`,
        unit: 'subjects/s',
        samples: recomputeMs.map((ms) => subjects.length / (ms / 1000)),
        baselines: [{ name: 'pure deriveSubject', median: deriveMs.length ? subjects.length / (deriveMs.sort((a, b) => a - b)[Math.floor(deriveMs.length / 2)]! / 1000) : 1 }],
      },
      true,
    ),
  );

  // Prediction.
  const cohort = predictionCohort();
  const fitAndValidate = (): Promise<void> => {
    fitLogistic(cohort);
    crossValidate(cohort, { fitter: (d) => fitLogistic(d), folds: 5, repeats: 10, seed: 42 });
    return Promise.resolve();
  };
  const predictMs = await repeat(7, 2, fitAndValidate);
  rows.push(
    row(
      {
        group: '3 screen/derive/predict',
        figure: 'fitLogistic (IRLS) + crossValidate 10 × 5-fold, 72 simulated subjects, 3 markers',
        unit: 's',
        samples: predictMs.map((ms) => ms / 1000),
        baselines: [],
      },
      false,
    ),
  );
  const ridge = ridgeFitter();
  const ridgeMs = await repeat(3, 0, () => {
    crossValidate(cohort, { fitter: ridge, folds: 5, repeats: 10, seed: 42 });
    return Promise.resolve();
  });
  rows.push(
    row(
      {
        group: '3 screen/derive/predict',
        figure: '  ridge with nested λ choice (25 λ × 5 inner folds) + crossValidate 10 × 5-fold, same cohort',
        unit: 's',
        samples: ridgeMs.map((ms) => ms / 1000),
        baselines: [],
      },
      false,
    ),
  );
  return { rows, notes };
}

await runFigure('screen-derive-predict', main);
