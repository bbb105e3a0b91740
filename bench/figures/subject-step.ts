/*
 * Figure (issue 13, "one subject step after a change"): DynamoDB calls and wall time of the consumers
 * for ONE source event of a subject with 8 study visits, on dynalite over a real connection, counted
 * by a middleware on the client (one per logical call; SDK retries not counted):
 * - before: the three consumers as they ran until issue 13 (derive, screen, predict, each loading the
 *   record and committing on its own; derive's changed scores publish an event that runs all three
 *   again), i.e. `recomputeSubject`, `rescreenPatient`, `repredictSubject` chained as the old local runtime did;
 * - after: `runSubjectStep` (one load, derive → screen → predict in memory, one atomic commit, one event).
 * Two cases: the first event after the subject's course arrives (everything is written), and a
 * replayed event (nothing changes). Each sample runs on its own fresh study table with the same bundle.
 * `npm run bench -- --only=subject-step` once registered in bench/run.ts FIGURES.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadConfig } from '../../lambdas/commons/config.js';
import type { EventsPort } from '../../lambdas/commons/events/port.js';
import { createRuntime, type Runtime } from '../../lambdas/commons/runtime.js';
import { DynamoIdentityStore } from '../../lambdas/commons/store/dynamo-identity-store.js';
import { DynamoStudyStore } from '../../lambdas/commons/store/dynamo-study-store.js';
import type { StudyDataChanged } from '../../lambdas/commons/store/port.js';
import { ensureTables } from '../../lambdas/commons/store/tables.js';
import { recomputeSubject } from '../../lambdas/derive/recompute.js';
import { ingestBundle } from '../../lambdas/ingest/core/ingest-bundle.js';
import { repredictSubject } from '../../lambdas/predict/recompute.js';
import { rescreenPatient } from '../../lambdas/screen/rescreen.js';
import { runSubjectStep } from '../../lambdas/subject-step/step.js';
import { startDynalite } from '../../local/dynalite.js';
import { quietLogger } from '../lib/context.js';
import { row, runFigure, type FigureRow } from '../lib/figure.js';
import { courseBundle } from '../lib/generate.js';
import { mulberry32 } from '../../lambdas/predict/stats/prng.js';
import { timeAsync } from '../lib/stats.js';

const GROUP = '2 end to end';
/** Fresh-table samples per side (each ingests the 8-visit course first, untimed). */
const SAMPLES = 3;

interface Counted {
  readonly runtime: Runtime;
  calls: number;
  /** What a publish does (before: the old consumers on every event; after: nothing, the step ignores its own event). */
  onPublish?: (events: readonly StudyDataChanged[]) => Promise<void>;
  readonly published: StudyDataChanged[];
}

async function main(): Promise<{ rows: FigureRow[]; notes: string[] }> {
  const dynamo = await startDynalite();
  const config = { endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
  const admin = new DynamoDBClient(config);
  const idTables = await ensureTables(admin, 'bench-step-id');
  const identity = new DynamoIdentityStore({ client: DynamoDBDocumentClient.from(admin), tableName: idTables.identity });
  const bundle = courseBundle(0, mulberry32(4893161));
  let tableNo = 0;

  /** A runtime on a fresh study table whose client counts its calls, with the subject's course ingested. */
  const fresh = async (): Promise<{ side: Counted; patient: string }> => {
    const tables = await ensureTables(admin, `bench-step-${tableNo++}`);
    const client = new DynamoDBClient(config);
    const published: StudyDataChanged[] = [];
    const side: Counted = { runtime: undefined as unknown as Runtime, calls: 0, published };
    client.middlewareStack.add(
      (next) => async (args) => {
        side.calls++;
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
    const store = new DynamoStudyStore({ client: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }), tableName: tables.study });
    const events: EventsPort = {
      publish: async (batch) => {
        published.push(...batch);
        await side.onPublish?.(batch);
      },
    };
    const runtime = createRuntime({ config: loadConfig({}), store, identity, events, alerts: { publish: () => Promise.resolve() }, logger: quietLogger() });
    (side as { runtime: Runtime }).runtime = runtime;
    const result = await ingestBundle(bundle, 'system', runtime.ingest());
    const source = result.changed[0];
    if (!source) throw new Error('The ingest published no study event');
    return { side, patient: source.patient };
  };

  const before = async (side: Counted, patient: string): Promise<void> => {
    const chain = async (e: StudyDataChanged): Promise<void> => {
      await recomputeSubject(e.patient, side.runtime.derive());
      await rescreenPatient(e.patient, side.runtime.screen());
      await repredictSubject(e.patient, side.runtime.predict());
    };
    side.onPublish = async (batch) => {
      for (const e of batch) await chain(e);
    };
    await chain({ eventId: 'bench', patient, kinds: ['Observation'], occurredAt: new Date().toISOString() });
    side.onPublish = undefined;
  };
  const after = async (side: Counted, patient: string): Promise<void> => {
    await runSubjectStep(patient, side.runtime.step());
  };

  const measure = async (run: (side: Counted, patient: string) => Promise<void>): Promise<{ first: { calls: number; ms: number }[]; replay: { calls: number; ms: number }[] }> => {
    const first: { calls: number; ms: number }[] = [];
    const replay: { calls: number; ms: number }[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const { side, patient } = await fresh();
      for (const into of [first, replay]) {
        side.calls = 0;
        const { ms } = await timeAsync(() => run(side, patient));
        into.push({ calls: side.calls, ms });
      }
    }
    return { first, replay };
  };

  // Warm-up (rules, definitions, JIT: the stages are the same code either way) on a table of its own.
  const warm = await fresh();
  await after(warm.side, warm.patient);

  const old = await measure(before);
  const step = await measure(after);
  admin.destroy();
  await dynamo.close();

  const med = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;
  const rows: FigureRow[] = [];
  for (const [label, key] of [
    ['first event after the course (all results written)', 'first'],
    ['replayed event (nothing changes)', 'replay'],
  ] as const) {
    rows.push(
      row(
        {
          group: GROUP,
          figure: `subject step, one source event of an 8-visit subject, ${label}: DynamoDB calls`,
          unit: 'calls',
          samples: step[key].map((s) => s.calls),
          baselines: [{ name: 'derive+screen+predict (before)', median: med(old[key].map((s) => s.calls)) }],
          target: '< the three consumers',
          meets: (m) => m < med(old[key].map((s) => s.calls)),
        },
        false,
      ),
      row(
        {
          group: GROUP,
          figure: `  the same, wall time on dynalite`,
          unit: 'ms',
          samples: step[key].map((s) => s.ms),
          baselines: [{ name: 'derive+screen+predict (before)', median: med(old[key].map((s) => s.ms)) }],
        },
        false,
      ),
    );
  }
  const notes = [
    `subject step calls, first event: ${step.first.map((s) => s.calls).join(', ')}; before: ${old.first.map((s) => s.calls).join(', ')}`,
    `subject step calls, replayed event: ${step.replay.map((s) => s.calls).join(', ')}; before: ${old.replay.map((s) => s.calls).join(', ')}`,
    'The step loads the record once (loadSubjectRecords: its cost is the store\'s, one paged Query once the subject-partition store lands) and commits once; before, each consumer loaded the record and committed on its own, and a changed score ran all three again.',
  ];
  return { rows, notes };
}

void runFigure('subject-step', main);
