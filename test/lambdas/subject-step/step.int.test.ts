/*
 * Issue 13, "one subject step after a change", on dynalite over a real connection: one source event
 * of a subject with 8 study visits runs derive, screen and predict on ONE load of the record and
 * writes every result in ONE atomic commit with ONE `derived` outbox event naming what changed
 * (StudyDataChanged.origin/changed); a `derived` event starts nothing; a replayed source event reads
 * the record once and writes nothing. The results equal those of the three consumers run the old way
 * (each its own load and commit, a changed score sending screen and predict round again).
 * Call counts come from a middleware on each client (one per logical call; SDK retries not counted).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecruitmentAlert } from '../../../lambdas/commons/alerts/port.js';
import { loadConfig } from '../../../lambdas/commons/config.js';
import type { EventsPort } from '../../../lambdas/commons/events/port.js';
import { createRuntime, type Runtime } from '../../../lambdas/commons/runtime.js';
import { DynamoIdentityStore } from '../../../lambdas/commons/store/dynamo-identity-store.js';
import { DynamoStudyStore } from '../../../lambdas/commons/store/dynamo-study-store.js';
import type { StoredResource, StudyDataChanged } from '../../../lambdas/commons/store/port.js';
import { ensureTables } from '../../../lambdas/commons/store/tables.js';
import { loadSubjectRecords } from '../../../lambdas/commons/subject-records.js';
import { recomputeSubject } from '../../../lambdas/derive/recompute.js';
import { handleIngest } from '../../../lambdas/ingest/ingest-request.js';
import { repredictSubject } from '../../../lambdas/predict/recompute.js';
import { rescreenPatient } from '../../../lambdas/screen/rescreen.js';
import { runSubjectStep, stepForEvents } from '../../../lambdas/subject-step/step.js';
import { studyCourseBundle, type VisitRecord } from '../../../local/samples/study-course.js';
import { startDynalite, type LocalDynamo } from '../../support/dynalite.js';

const active = { c3: 0.6, c4: 0.08, dsdna: 180, uprot24: 1200, plt: 210, wbc: 5.1, cd19: 14, nsmb: 9 };
const quiet = { c3: 1.1, c4: 0.2, dsdna: 40, uprot24: 150, plt: 220, wbc: 5.4, cd19: 8, nsmb: 6 };
/** Eight study visits (weeks 0-48), as the measurement. */
const VISITS: VisitRecord[] = [0, 2, 4, 8, 12, 24, 36, 48].map((week, i) => ({
  week,
  present: i < 2 ? ['arthritis', 'rash', 'mucosal-ulcers'] : ['rash'],
  bilag: i < 2 ? { musculoskeletal: 'B', mucocutaneous: 'B', renal: 'B' } : { mucocutaneous: 'C' },
  pga: Math.max(0.5, 1.5 - i * 0.15),
  labs: i < 2 ? active : quiet,
}));
/** One instant for every run, old and new: the screening is dated by day, and a run either side of midnight would differ. */
const AT = new Date('2025-07-01T12:00:00Z');
const at = (): Date => AT;
const WRITES = new Set(['PutCommand', 'UpdateCommand', 'DeleteCommand', 'BatchWriteCommand', 'TransactWriteCommand']);

/** One side of the comparison: its own study table, counted client and event log. */
interface Side {
  readonly runtime: Runtime;
  readonly store: DynamoStudyStore;
  readonly calls: string[];
  readonly published: StudyDataChanged[];
  /** What a publish does besides recording (the old way: run the three consumers on every event). */
  onPublish?: (events: readonly StudyDataChanged[]) => Promise<void>;
}

let dynamo: LocalDynamo;
let identity: DynamoIdentityStore;
const quietLogger = new Logger({ serviceName: 'test', logLevel: 'ERROR' });

async function side(prefix: string): Promise<Side> {
  const tables = await ensureTables(dynamo.client, prefix);
  const base = new DynamoDBClient(dynamo.clientConfig);
  const calls: string[] = [];
  base.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  const store = new DynamoStudyStore({ client: DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } }), tableName: tables.study });
  const published: StudyDataChanged[] = [];
  const s: Side = { runtime: undefined as unknown as Runtime, store, calls, published };
  const events: EventsPort = {
    publish: async (batch) => {
      published.push(...batch);
      await s.onPublish?.(batch);
    },
  };
  const alerts = { publish: (_a: RecruitmentAlert) => Promise.resolve() };
  (s as { runtime: Runtime }).runtime = createRuntime({ config: loadConfig({}), store, identity, events, alerts, logger: quietLogger });
  return s;
}

async function ingest(s: Side, bundle: unknown): Promise<string> {
  const res = await handleIngest(
    {
      method: 'POST',
      path: '/',
      query: {},
      headers: { 'content-type': 'application/fhir+json' },
      body: Buffer.from(JSON.stringify(bundle)),
      claims: { sub: 'step-test', scope: 'system/*.cruds' },
      baseUrl: 'http://127.0.0.1/fhir',
    },
    s.runtime.ingest(),
  );
  expect(res.status).toBe(200);
  const body = (typeof res.body === 'string' ? JSON.parse(res.body) : res.body) as { entry: { response: { location: string } }[] };
  return body.entry[0]!.response.location.split('/')[1]!;
}

/** What the consumers wrote for a subject, by ref, without version, time or the alert's instant. */
async function results(s: Side, patient: string): Promise<Map<string, string>> {
  const all = await loadSubjectRecords(s.store, patient, ['Observation', 'ResearchSubject', 'Task', 'Communication']);
  const out = new Map<string, string>();
  for (const r of all as StoredResource<Resource & { sent?: string; payload?: unknown }>[]) {
    const { meta, ...rest } = r;
    const key = r.resourceType === 'Communication' ? `Communication/alert-${[...out.keys()].filter((k) => k.startsWith('Communication/')).length}` : `${r.resourceType}/${r.id}`;
    const content = r.resourceType === 'Communication' ? { ...rest, id: undefined, sent: undefined, payload: undefined } : rest;
    out.set(key, JSON.stringify({ ...content, profile: meta.profile, source: meta.source }));
  }
  return out;
}

let step: Side;
let old: Side;
let patient: string;

beforeAll(async () => {
  dynamo = await startDynalite({ prefix: 'step-id' });
  identity = new DynamoIdentityStore({ client: dynamo.documentClient, tableName: dynamo.tables.identity });
  [step, old] = [await side('step-new'), await side('step-old')];
  const bundle = studyCourseBundle({ patientId: 'step-8v', day0: '2024-07-01', visits: VISITS });
  patient = await ingest(step, bundle);
  expect(await ingest(old, bundle)).toBe(patient);
}, 120_000);

afterAll(async () => {
  await dynamo?.stop();
});

describe('The subject step on an 8-visit subject (issue 13)', () => {
  let sourceEvent: StudyDataChanged;
  let stepCallsOnSource = 0;

  it('runs on the source event: one load, one commit, one derived event naming what changed', async () => {
    sourceEvent = step.published.find((e) => e.patient === patient)!;
    expect(sourceEvent).toMatchObject({ origin: 'source' });
    expect(sourceEvent.changed?.length).toBeGreaterThan(VISITS.length);
    step.published.length = 0;
    step.calls.length = 0;
    // What the local consumer runs (runtime.consumers()[0]), on the test's fixed clock.
    await stepForEvents(sourceEvent.patient, [sourceEvent], { ...step.runtime.step(), now: at });
    stepCallsOnSource = step.calls.length;
    expect(step.published).toHaveLength(1);
    const derived = step.published[0]!;
    expect(derived).toMatchObject({ patient, origin: 'derived' });
    expect(derived.changed?.length).toBeGreaterThan(VISITS.length);
    // One commit: every resource it names is stored, at the one instant of that commit (the alert's
    // Communication excepted: its delivery marks it completed afterwards).
    const written = await Promise.all((derived.changed ?? []).map((ref) => step.store.read(ref.split('/')[0] as 'Observation', ref.split('/')[1]!)));
    const instants = new Set(written.filter((r) => r && r.resourceType !== 'Communication').map((r) => r!.meta.lastUpdated));
    expect(written.every(Boolean)).toBe(true);
    expect(instants.size).toBe(1);
    // And it names every derived result: each SLEDAI-2K, response, screening and prediction Observation.
    const derivedObservations = (await loadSubjectRecords(step.store, patient, ['Observation'])).filter((o) => o.meta.source?.endsWith('/derived'));
    expect(derivedObservations.length).toBeGreaterThan(VISITS.length);
    const named = new Set(derived.changed);
    expect(derivedObservations.filter((o) => !named.has(`Observation/${o.id}`))).toEqual([]);
    expect(derived.kinds).toEqual(expect.arrayContaining(['Observation', 'ResearchSubject']));
  }, 60_000);

  it('writes what the three consumers write run the old way, each with its own load and commit', async () => {
    // The old local order: derive, whose changed scores publish an event that runs all three again, then screen, then predict.
    const chain = async (e: StudyDataChanged): Promise<void> => {
      await recomputeSubject(e.patient, { ...old.runtime.derive(), now: at });
      await rescreenPatient(e.patient, { ...old.runtime.screen(), now: at });
      await repredictSubject(e.patient, { ...old.runtime.predict(), now: at });
    };
    old.onPublish = async (batch) => {
      for (const e of batch) await chain(e);
    };
    const source = old.published.find((e) => e.patient === patient)!;
    old.calls.length = 0;
    await chain(source);
    const [a, b] = [await results(step, patient), await results(old, patient)];
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [ref, content] of a) expect(content, ref).toBe(b.get(ref));
    // One step costs fewer calls than the three consumers' loads and commits.
    expect(stepCallsOnSource).toBeLessThan(old.calls.length);
    old.onPublish = undefined;
  }, 120_000);

  it('starts nothing on its own derived event', async () => {
    const derived = step.published[0]!;
    step.calls.length = 0;
    for (const consume of step.runtime.consumers()) await consume(derived);
    expect(step.calls).toEqual([]);
  });

  it('reads the record once and writes nothing when a source event is replayed', async () => {
    step.calls.length = 0;
    step.published.length = 0;
    const summary = await runSubjectStep(patient, { ...step.runtime.step(), now: at });
    expect(summary).toMatchObject({ written: 0, derived: 0, screened: 0, predicted: 0 });
    expect(step.published).toEqual([]);
    expect(step.calls.filter((c) => WRITES.has(c))).toEqual([]);
    const stepCalls = step.calls.length;
    // The same store's cost of one load of the record: the step adds at most the ResearchSubject's history read.
    step.calls.length = 0;
    await loadSubjectRecords(step.store, patient, ['Patient', 'Observation', 'Condition', 'Encounter', 'AllergyIntolerance', 'MedicationAdministration', 'MedicationRequest', 'MedicationStatement', 'ResearchSubject', 'Communication', 'Task']);
    expect(stepCalls).toBeLessThanOrEqual(step.calls.length + 2);
  }, 60_000);
});
