/**
 * A simulated cohort for the demo and the browser tests, pushed into a running layer through its
 * FHIR API exactly as the hospital EHR would push it; the layer computes everything else (visits,
 * SLEDAI-2K, SRI-4, screening, review Tasks, predictions).
 *
 * What it holds, all invented (pseudonyms are assigned by the layer):
 * - screened patients in every eligibility state: candidates (the investigator's parts still in
 *   review), eligible ones (their reviews settled through `Task/{id}/$settle`), and ineligible ones
 *   (IgG deficiency, under 18, no SLE diagnosis on record);
 * - enrolled subjects through week 48: responders and non-responders (the week-4 B-cell depletion
 *   and SLEDAI-2K fall drive the response, as in test/scripts/simulated-cohort.ts), one withdrawal
 *   (D6), one still on study before week 48, and one anti-dsDNA result without a reference range
 *   (D4: undecided, a partial score and an open review Task).
 */
import type { Bundle, BundleEntry, Condition, MedicationStatement, Observation, OperationOutcome, Parameters, ResearchSubject, Resource, Task } from '@medplum/fhirtypes';
import { DEFAULT_CANONICAL_BASE } from '../lambdas/commons/config.js';
import { mulberry32, normalDraw } from '../lambdas/predict/stats/prng.js';
import { LOCAL_DIAGNOSIS, LOCAL_DRUG } from './samples/lupus-subject.js';
import { studyCourseBundle, type VisitRecord } from './samples/study-course.js';

/** What `seedDemoCohort` pushed and what the layer computed from it. */
export interface DemoCohortCounts {
  /** Patients pushed (screened and enrolled), each by its pseudonym. */
  readonly patients: number;
  /** Screening states as the layer computed them, after the seeded reviews were settled. */
  readonly screening: Readonly<Record<'eligible' | 'candidate' | 'ineligible', number>>;
  /** ResearchSubject statuses (the study's own, for enrolled subjects; screening's for the others). */
  readonly researchSubjects: Readonly<Record<string, number>>;
  /** Week-48 SRI-4 (primary endpoint) outcomes. */
  readonly week48: Readonly<Record<string, number>>;
  /** Review Tasks still open (status requested). */
  readonly openTasks: number;
  /** `response-prediction` Observations. */
  readonly predictions: number;
  /** Pseudonyms by role in the cohort, for links and tests. */
  readonly pseudonyms: Readonly<Record<DemoKind, readonly string[]>>;
}

/** What a simulated patient is meant to show. */
export type DemoKind = 'candidate' | 'eligible' | 'ineligible' | 'completed' | 'withdrawn' | 'on-study';

/** Options of `seedDemoCohort`. */
export interface DemoCohortOptions {
  /** How long to wait for the layer's results (default 120 s). */
  readonly timeoutMs?: number;
  /** Today, for the screening dates (default: now). */
  readonly today?: Date;
  /** PRNG seed of the enrolled subjects' course (default 16). */
  readonly seed?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  /**
   * Subjects who completed week 48 (default 4, which keeps a seed near 30 s on a shared 2-core
   * machine); `npm run demo` asks for more, with more visits.
   */
  readonly completed?: number;
  /** Their visits, in weeks (default 0, 4, 24, 48; week 0 and 4 are needed for the prediction, 48 for the endpoint). */
  readonly visits?: readonly number[];
}

interface DemoPatient {
  readonly id: string;
  readonly kind: DemoKind;
  readonly bundle: Bundle;
}

const NCT = { system: 'https://clinicaltrials.gov', value: 'NCT04893161' };
const LOINC = 'http://loinc.org';
const ORAL = { coding: [{ system: 'http://snomed.info/sct', code: '26643006' }] };
const QUIET = { c3: 1.1, c4: 0.2, dsdna: 40, uprot24: 150, plt: 220, wbc: 5.4 };

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Adds entries (POST, with ids) to a transaction bundle for one patient. */
function withEntries(bundle: Bundle, resources: readonly (Resource & { id: string })[]): Bundle {
  const extra: BundleEntry[] = resources.map((resource) => ({ fullUrl: `urn:uuid:${resource.id}`, resource, request: { method: 'POST', url: resource.resourceType } }));
  return { ...bundle, entry: [...(bundle.entry ?? []), ...extra] };
}

/** The SLE diagnosis (hospital code, mapped by the study's ConceptMap) and years of hydroxychloroquine (refractory, E1). */
function history(patientId: string, withSle: boolean): (Resource & { id: string })[] {
  const subject = { reference: `urn:uuid:${patientId}` };
  const out: (Resource & { id: string })[] = [];
  if (withSle) {
    out.push({
      resourceType: 'Condition',
      id: `${patientId}-sle`,
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
      code: { coding: [{ system: LOCAL_DIAGNOSIS, code: 'SLE' }] },
      subject,
      onsetDateTime: '2018-05-01',
    } satisfies Condition & { id: string });
  }
  out.push({
    resourceType: 'MedicationStatement',
    id: `${patientId}-hcq`,
    status: 'active',
    medicationCodeableConcept: { coding: [{ system: LOCAL_DRUG, code: 'HCQ' }] },
    subject,
    effectivePeriod: { start: '2019-03-01' },
    dosage: [{ route: ORAL }],
  } satisfies MedicationStatement & { id: string });
  return out;
}

/** IgG and IgA (mg/dL) and negative HIV, HBsAg, anti-HBc and HCV tests: the exclusions the data decides. */
function screeningLabs(patientId: string, date: string, igg: number): (Observation & { id: string })[] {
  const subject = { reference: `urn:uuid:${patientId}` };
  const at = `${date}T08:00:00Z`;
  const quantity = (code: string, value: number): Observation & { id: string } => ({
    resourceType: 'Observation',
    id: `${patientId}-lab-${code}`,
    status: 'final',
    code: { coding: [{ system: LOINC, code }] },
    subject,
    effectiveDateTime: at,
    valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  });
  const negative = (code: string): Observation & { id: string } => ({
    resourceType: 'Observation',
    id: `${patientId}-lab-${code}`,
    status: 'final',
    code: { coding: [{ system: LOINC, code }] },
    subject,
    effectiveDateTime: at,
    valueString: 'negative',
  });
  return [quantity('2465-3', igg), quantity('2458-8', 180), negative('56888-1'), negative('5196-1'), negative('16933-4'), negative('16128-1')];
}

/** The study's ResearchSubject as the coordinator records it (status and period only are kept). */
function researchSubject(patientId: string, status: ResearchSubject['status'], start: string, end?: string): ResearchSubject & { id: string } {
  return {
    resourceType: 'ResearchSubject',
    id: `${patientId}-rs`,
    status,
    study: { identifier: NCT },
    individual: { reference: `urn:uuid:${patientId}` },
    period: { start, ...(end ? { end } : {}) },
  };
}

/**
 * The investigator's decisions at enrolment on the criteria the data cannot decide, one Observation
 * each, in the shape `Task/{id}/$settle` records them (lambdas/review/core/settle.ts).
 */
function enrolmentDecisions(patientId: string, date: string, base: string): (Observation & { id: string })[] {
  const assessments = `${base}/CodeSystem/study-assessments`;
  const decided = [
    ['incl-sle-diagnosis', 'met'],
    ['excl-suicide-risk', 'not-met'],
    ['excl-lab-abnormality', 'not-met'],
    ['excl-intercurrent-illness', 'not-met'],
  ] as const;
  return decided.map(([criterion, decision]) => {
    const value = { coding: [{ system: assessments, code: decision }] };
    return {
      resourceType: 'Observation',
      id: `${patientId}-decision-${criterion}`,
      status: 'final',
      code: { coding: [{ system: assessments, code: 'investigator-decision' }] },
      subject: { reference: `urn:uuid:${patientId}` },
      effectiveDateTime: date,
      valueCodeableConcept: value,
      component: [{ code: { coding: [{ system: assessments, code: criterion }] }, valueCodeableConcept: value }],
    };
  });
}

/**
 * The demo cohort's bundles: screened patients dated up to `today`, enrolled subjects whose day 0 is
 * about a year before it. Deterministic for a seed and a day.
 * @param today - The screening day.
 * @param seed - PRNG seed.
 * @param base - Canonical base of the study's code systems.
 * @returns One transaction per patient, with what it is meant to show.
 */
export function demoCohortBundles(
  today: Date,
  { seed = 16, completed = 4, visits = [0, 4, 24, 48], base = DEFAULT_CANONICAL_BASE }: { seed?: number; completed?: number; visits?: readonly number[]; base?: string } = {},
): DemoPatient[] {
  const day = today.toISOString().slice(0, 10);
  const random = mulberry32(seed);
  const patients: DemoPatient[] = [];

  // Screened, not enrolled: a recent visit with a full SLEDAI-2K (arthritis and rash: 6, or more), no belimumab yet.
  const screened = (id: string, kind: DemoKind, daysAgo: number, o: { sle?: boolean; igg?: number; labs?: boolean; birthDate?: string; present?: VisitRecord['present'] } = {}): void => {
    const visitDay = addDays(day, -daysAgo);
    let bundle = studyCourseBundle({
      patientId: id,
      day0: visitDay,
      lastInfusionDay: -1,
      base,
      visits: [{ week: 0, present: o.present ?? ['arthritis', 'rash'], bilag: { musculoskeletal: 'B', mucocutaneous: 'C' }, pga: 1.6, labs: QUIET }],
    });
    if (o.birthDate) {
      bundle = { ...bundle, entry: bundle.entry?.map((e) => (e.resource?.resourceType === 'Patient' ? { ...e, resource: { ...e.resource, birthDate: o.birthDate } } : e)) };
    }
    const extra = [...history(id, o.sle ?? true), ...(o.labs === false ? [] : screeningLabs(id, visitDay, o.igg ?? 1050))];
    patients.push({ id, kind, bundle: withEntries(bundle, extra) });
  };
  screened('demo-candidate-1', 'candidate', 2, { labs: false });
  screened('demo-candidate-2', 'candidate', 5, { labs: false, present: ['arthritis', 'rash', 'alopecia'] });
  screened('demo-candidate-3', 'candidate', 9);
  screened('demo-eligible-1', 'eligible', 4);
  screened('demo-eligible-2', 'eligible', 12, { present: ['arthritis', 'rash', 'mucosal-ulcers'] });
  screened('demo-ineligible-igg', 'ineligible', 3, { igg: 350 });
  screened('demo-ineligible-age', 'ineligible', 6, { birthDate: addDays(day, -16 * 365) });
  screened('demo-ineligible-nosle', 'ineligible', 8, { sle: false });

  // Enrolled: the simulated signal of test/scripts/simulated-cohort.ts over more visits.
  // Who responds is chosen (so every demo has both); the week-4 markers are drawn to go with it, as
  // the simulated signal has them: deeper B-cell depletion and an early SLEDAI-2K fall for responders.
  const enrolled = (id: string, kind: DemoKind, day0: string, visits: readonly number[], status: ResearchSubject['status'], responder: boolean, end?: string, undecidedDsDnaAtWeek?: number): void => {
    const cd19w4 = Math.round(12 * Math.exp((responder ? -0.7 : -0.1) + 0.25 * normalDraw(random)) * 100) / 100;
    const nsmbw4 = Math.round(8 * Math.exp(0.2 * normalDraw(random)) * 100) / 100;
    const keepsArthritis = random() < (responder ? 0.3 : 0.7);
    const course: VisitRecord[] = visits.map((week) => {
      if (week === 0) return { week, present: ['arthritis', 'rash'], bilag: { musculoskeletal: 'B', mucocutaneous: 'C' }, pga: 1.5, labs: { ...QUIET, cd19: 12, nsmb: 8 } };
      if (week === 4) {
        return {
          week,
          present: keepsArthritis ? ['arthritis', 'rash'] : ['rash'],
          bilag: { musculoskeletal: keepsArthritis ? 'B' : 'C', mucocutaneous: 'C' },
          pga: 1.3,
          labs: { ...QUIET, cd19: cd19w4, nsmb: nsmbw4 },
        };
      }
      // Later visits: a responder has lost the arthritis (SLEDAI-2K 6 → 2), a non-responder keeps it.
      const c3 = Math.round((1.0 + 0.2 * random()) * 100) / 100;
      return responder
        ? { week, present: ['rash'], bilag: { mucocutaneous: 'C' }, pga: 0.8, labs: { ...QUIET, c3 } }
        : { week, present: ['arthritis', 'rash'], bilag: { musculoskeletal: 'B', mucocutaneous: 'C' }, pga: 1.5, labs: { ...QUIET, c3 } };
    });
    const lastVisit = Math.max(...visits) * 7;
    let bundle = studyCourseBundle({ patientId: id, day0, visits: course, base, lastInfusionDay: status === 'withdrawn' ? lastVisit : Math.min(336, lastVisit) });
    if (undecidedDsDnaAtWeek !== undefined) {
      // D4: an anti-dsDNA result with neither a reference range nor a flag cannot decide "increased DNA binding".
      const key = `${id}-w${undecidedDsDnaAtWeek}-lab-DSDNA`;
      bundle = {
        ...bundle,
        entry: bundle.entry?.map((e) => {
          if (e.resource?.id !== key) return e;
          const { referenceRange: _range, ...rest } = e.resource as Observation;
          return { ...e, resource: { ...rest, valueQuantity: { value: 240, unit: '[IU]/mL' } } };
        }),
      };
    }
    const extra = [...history(id, true), ...screeningLabs(id, addDays(day0, -7), 1000), ...enrolmentDecisions(id, addDays(day0, -3), base), researchSubject(id, status, day0, end)];
    patients.push({ id, kind, bundle: withEntries(bundle, extra) });
  };
  const yearAgo = addDays(day, -400);
  const weeks = [...new Set([0, 4, 48, ...visits])].sort((a, b) => a - b);
  // The undecided anti-dsDNA sits at a visit between week 4 and 48 when there is one (else week 48).
  const undecidedAt = weeks.find((w) => w > 4 && w < 48) ?? 48;
  for (let i = 0; i < completed; i++) {
    const day0 = addDays(yearAgo, i * 7);
    enrolled(`demo-subject-${i + 1}`, 'completed', day0, weeks, 'off-study', i % 2 === 0, addDays(day0, 340), i === 1 ? undecidedAt : undefined);
  }
  // Withdrawn after week 4 (D6: a non-responder at week 48, with a prediction made before).
  enrolled('demo-withdrawn-1', 'withdrawn', addDays(yearAgo, 14), [0, 4], 'withdrawn', false, addDays(yearAgo, 14 + 60));
  enrolled('demo-on-study-1', 'on-study', addDays(day, -60), [0, 4], 'on-study', true);
  return patients;
}

/** The study visit of a result (its `study-visit` extension). */
function visitOf(o: Observation): string | undefined {
  return o.extension?.find((e) => e.url.endsWith('/StructureDefinition/study-visit'))?.valueCoding?.code;
}

/** A small FHIR client with the one token. */
function client(baseUrl: string, token: string) {
  const call = async <T extends Resource>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    const body = (text ? JSON.parse(text) : undefined) as T | OperationOutcome | undefined;
    if (!res.ok) {
      const detail = body?.resourceType === 'OperationOutcome' ? body.issue?.map((i) => i.details?.text ?? i.diagnostics ?? i.code).join('; ') : undefined;
      throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status}${detail ? ` (${detail})` : ''}`);
    }
    return body as T;
  };
  const all = async <T extends Resource>(path: string): Promise<T[]> => {
    const out: T[] = [];
    let next: string | undefined = `${baseUrl}${path}${path.includes('?') ? '&' : '?'}_count=1000`;
    while (next) {
      const page: Bundle<T> = await call<Bundle<T>>(next.slice(baseUrl.length));
      out.push(...(page.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])));
      next = page.link?.find((l) => l.relation === 'next')?.url;
    }
    return out;
  };
  return { call, all };
}

/**
 * Pushes the demo cohort into a running layer, settles the seeded eligibility reviews, waits until
 * the layer has computed every result, and counts what it found.
 * @param baseUrl - The FHIR base (`http://127.0.0.1:8080/fhir`).
 * @param token - A bearer token that may create the study types, read them, and settle Tasks
 * (for example `system/*.cruds`).
 * @param options - Timeout, clock, seed, progress.
 * @returns The counts, and the pseudonyms by kind.
 * @example
 * const counts = await seedDemoCohort(app.baseUrl, await app.token('system/*.cruds'));
 */
export async function seedDemoCohort(baseUrl: string, token: string, options: DemoCohortOptions = {}): Promise<DemoCohortCounts> {
  const log = options.log ?? (() => undefined);
  const fhir = client(baseUrl, token);
  const patients = demoCohortBundles(options.today ?? new Date(), {
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.completed !== undefined ? { completed: options.completed } : {}),
    ...(options.visits !== undefined ? { visits: options.visits } : {}),
  });
  const pseudonymOf = new Map<string, string>();
  const queue = [...patients];
  const push = async (): Promise<void> => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      const response = await fhir.call<Bundle>('', { method: 'POST', body: p.bundle });
      const location = response.entry?.[0]?.response?.location ?? '';
      const failed = response.entry?.filter((e) => !/^2\d\d/.test(e.response?.status ?? '')) ?? [];
      if (!location.startsWith('Patient/') || failed.length > 0) {
        throw new Error(`${p.id}: the layer refused the bundle (${failed.map((e) => e.response?.status).join(', ')})`);
      }
      pseudonymOf.set(p.id, location.split('/')[1]!);
      log(`  pushed ${p.id} (${p.kind}) as Patient/${location.split('/')[1]}`);
    }
  };
  // Two at a time: the layer recomputes each subject as its bundle lands.
  await Promise.all([push(), push()]);

  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const base = DEFAULT_CANONICAL_BASE;
  const screeningProfile = `${base}/StructureDefinition/eligibility-screening`;
  const screeningOf = async (pseudonym: string): Promise<string | undefined> => {
    const [obs] = await fhir.all<Observation>(`/Observation?subject=Patient/${pseudonym}&_profile=${encodeURIComponent(screeningProfile)}`);
    return obs?.valueCodeableConcept?.coding?.[0]?.code;
  };
  const waitFor = async (what: string, done: () => Promise<boolean>): Promise<void> => {
    for (let delay = 100; !(await done()); delay = Math.min(delay * 2, 2000)) {
      if (Date.now() > deadline) throw new Error(`The layer did not compute ${what} in time`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  };
  const ids = (kind: DemoKind): string[] => patients.filter((p) => p.kind === kind).map((p) => pseudonymOf.get(p.id)!);

  // The screened patients meant to be eligible: the investigator settles their reviews, as in the app.
  for (const pseudonym of ids('eligible')) {
    // Eligible already when the demo runs again (the same bundles change nothing; the reviews stay settled).
    await waitFor(`the screening of ${pseudonym}`, async () => ['candidate', 'eligible'].includes((await screeningOf(pseudonym)) ?? ''));
    const tasks = await fhir.all<Task>(`/Task?patient=Patient/${pseudonym}&status=requested`);
    for (const task of tasks.filter((t) => t.code?.coding?.[0]?.code === 'review-eligibility-criterion')) {
      const criterion = task.input?.find((i) => i.type.coding?.[0]?.code === 'review-item')?.valueCoding?.code ?? '';
      const body: Parameters = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'decision', valueCode: criterion.startsWith('incl-') ? 'met' : 'not-met' },
          { name: 'reason', valueString: 'Demo: settled at the screening visit' },
        ],
      };
      await fhir.call(`/Task/${task.id}/$settle`, { method: 'POST', body });
    }
    log(`  settled the eligibility reviews of Patient/${pseudonym}`);
  }

  // Everything computed: every screening in its intended state, every enrolled subject's responses and prediction.
  const sri4 = `${base}/StructureDefinition/sri4-response`;
  const prediction = `${base}/StructureDefinition/response-prediction`;
  await waitFor('every screening', async () => {
    for (const p of patients.filter((q) => ['candidate', 'eligible', 'ineligible'].includes(q.kind))) {
      if ((await screeningOf(pseudonymOf.get(p.id)!)) !== p.kind) return false;
    }
    return true;
  });
  await waitFor('every response and prediction', async () => {
    for (const p of patients.filter((q) => ['completed', 'withdrawn', 'on-study'].includes(q.kind))) {
      const pseudonym = pseudonymOf.get(p.id)!;
      const predictions = await fhir.all<Observation>(`/Observation?subject=Patient/${pseudonym}&_profile=${encodeURIComponent(prediction)}`);
      if (predictions.length === 0) return false;
      if (p.kind === 'completed') {
        const responses = await fhir.all<Observation>(`/Observation?subject=Patient/${pseudonym}&_profile=${encodeURIComponent(sri4)}`);
        if (!responses.some((o) => visitOf(o) === 'week-48')) return false;
      }
    }
    return true;
  });

  const screenings = await fhir.all<Observation>(`/Observation?_profile=${encodeURIComponent(screeningProfile)}`);
  const mine = new Set(pseudonymOf.values());
  const screening = { eligible: 0, candidate: 0, ineligible: 0 };
  for (const o of screenings.filter((s) => mine.has(s.subject?.reference?.split('/')[1] ?? ''))) {
    const state = o.valueCodeableConcept?.coding?.[0]?.code as keyof typeof screening | undefined;
    if (state && state in screening) screening[state]++;
  }
  const researchSubjects: Record<string, number> = {};
  for (const rs of await fhir.all<ResearchSubject>('/ResearchSubject')) {
    if (mine.has(rs.individual?.reference?.split('/')[1] ?? '')) researchSubjects[rs.status] = (researchSubjects[rs.status] ?? 0) + 1;
  }
  const week48: Record<string, number> = {};
  for (const o of await fhir.all<Observation>(`/Observation?_profile=${encodeURIComponent(sri4)}`)) {
    if (!mine.has(o.subject?.reference?.split('/')[1] ?? '') || visitOf(o) !== 'week-48') continue;
    const outcome = o.valueCodeableConcept?.coding?.[0]?.code ?? 'unknown';
    week48[outcome] = (week48[outcome] ?? 0) + 1;
  }
  const openTasks = (await fhir.all<Task>('/Task?status=requested')).filter((t) => mine.has(t.for?.reference?.split('/')[1] ?? '')).length;
  const predictions = (await fhir.all<Observation>(`/Observation?_profile=${encodeURIComponent(prediction)}`)).filter((o) => mine.has(o.subject?.reference?.split('/')[1] ?? '')).length;
  const kinds: DemoKind[] = ['candidate', 'eligible', 'ineligible', 'completed', 'withdrawn', 'on-study'];
  return {
    patients: patients.length,
    screening,
    researchSubjects,
    week48,
    openTasks,
    predictions,
    pseudonyms: Object.fromEntries(kinds.map((k) => [k, ids(k)])) as Record<DemoKind, string[]>,
  };
}
