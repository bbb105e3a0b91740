/**
 * `loadSubject`: a subject's whole record (its FHIR R4 patient compartment,
 * http://hl7.org/fhir/R4/compartmentdefinition-patient.html) in one Query, showing committed versions
 * only, as a FHIR transaction requires (all or nothing, http://hl7.org/fhir/R4/http.html#transaction).
 */
import type { Observation } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countingClient } from '../../../../bench/lib/counting-client.js';
import { DynamoStudyStore } from '../../../../lambdas/commons/store/dynamo-study-store.js';
import { startDynalite, type LocalDynamo } from '../../../support/dynalite.js';
import { faultyClient, SimulatedCrashError } from '../../../support/fault-injection.js';
import { observation, patient, scanAll } from './fixtures.js';

let local: LocalDynamo;
const logger = { warn: (): void => undefined };

beforeAll(async () => {
  local = await startDynalite({ prefix: 'subject' });
});

afterAll(async () => {
  await local.stop();
});

const healthy = (options: { clock?: () => Date } = {}): DynamoStudyStore =>
  new DynamoStudyStore({ client: local.documentClient, tableName: local.tables.study, logger, ...options });

/** A store whose process dies just before (or right after) the commit write. */
function doomed(when: 'before' | 'after'): DynamoStudyStore {
  const isCommit = (call: { input: Record<string, unknown> }): boolean => (call.input.UpdateExpression as string | undefined)?.includes(':committed') === true;
  const faulty = faultyClient(local.clientConfig, when === 'before' ? { crashBefore: isCommit } : { crashAfter: isCommit });
  return new DynamoStudyStore({ client: faulty.client, tableName: local.tables.study, logger });
}

const versions = (resources: readonly { id?: string; meta?: { versionId?: string } }[]): string[] =>
  resources.map((r) => `${r.id}@${r.meta?.versionId}`).sort();

describe('DynamoStudyStore.loadSubject', () => {
  it('reads the current versions of the whole compartment, the Patient included, in one Query', async () => {
    // Prepare
    const store = healthy();
    await store.commit([patient('LS-1'), observation('ls1-a', 'LS-1', '2024-01-01'), observation('ls1-b', 'LS-1', '2024-01-02')], { atomic: true });
    await store.commit([observation('ls1-a', 'LS-1', '2024-01-01', undefined, { status: 'amended' })], { atomic: true });
    await store.commit([observation('other-a', 'LS-OTHER', '2024-01-01')], { atomic: false });
    const counted = countingClient(local.clientConfig);
    const reader = new DynamoStudyStore({ client: counted.documentClient, tableName: local.tables.study, logger });

    // Act
    const record = await reader.loadSubject('LS-1');

    // Assess
    expect(versions(record)).toEqual(['LS-1@1', 'ls1-a@2', 'ls1-b@1']);
    expect((record.find((r) => r.id === 'ls1-a') as Observation | undefined)?.status).toBe('amended');
    expect(Object.fromEntries(counted.counter.byCommand)).toEqual({ QueryCommand: 1 });
    counted.client.destroy();
  });

  it('keeps showing the committed record while a newer commit is uncommitted, and after it is aborted', async () => {
    // Prepare
    await healthy().commit([patient('LS-2'), observation('ls2-a', 'LS-2', '2024-01-01')], { atomic: true });

    // Act: a commit that changes one resource and adds another dies before its commit point
    await expect(
      doomed('before').commit([observation('ls2-a', 'LS-2', '2024-02-02', undefined, { status: 'amended' }), observation('ls2-new', 'LS-2', '2024-02-02')], {
        atomic: true,
      }),
    ).rejects.toThrow(SimulatedCrashError);

    // Assess: uncommitted
    expect(versions(await healthy().loadSubject('LS-2'))).toEqual(['LS-2@1', 'ls2-a@1']);

    // Act: the sweep aborts it once it is old
    const report = await healthy({ clock: () => new Date(Date.now() + 10 * 60_000) }).sweep();

    // Assess: aborted, and nothing of it left in the subject's partition
    expect(report.cleaned).toBeGreaterThanOrEqual(1);
    const record = await healthy().loadSubject('LS-2');
    expect(versions(record)).toEqual(['LS-2@1', 'ls2-a@1']);
    expect((record.find((r) => r.id === 'ls2-a') as Observation).status).toBe('final');
    const items = (await scanAll(local.documentClient, local.tables.study)).filter((i) => String(i.pk) === 'S#LS-2');
    expect(items.map((i) => i.sk).sort()).toEqual(['C#Observation#ls2-a', 'C#Patient#LS-2']);
    expect(items.filter((i) => 'pend' in i || 'mv' in i)).toEqual([]);
  });

  it('shows a commit whose roll-forward never ran', async () => {
    // Prepare
    await healthy().commit([patient('LS-3'), observation('ls3-a', 'LS-3', '2024-01-01')], { atomic: true });

    // Act: the process dies right after the commit write
    const results = await doomed('after').commit([observation('ls3-a', 'LS-3', '2024-03-03', undefined, { status: 'amended' })], { atomic: true });

    // Assess
    expect(results[0]?.status).toBe('updated');
    expect(versions(await healthy().loadSubject('LS-3'))).toEqual(['LS-3@1', 'ls3-a@2']);
  });

  it('moves a resource between subjects only when the move commits', async () => {
    // Prepare
    await healthy().commit([patient('LS-4'), patient('LS-5'), observation('ls4-a', 'LS-4', '2024-01-01')], { atomic: true });
    const moved = observation('ls4-a', 'LS-5', '2024-01-01');

    // Act: a move that dies before its commit point
    await expect(doomed('before').commit([moved], { atomic: true })).rejects.toThrow(SimulatedCrashError);

    // Assess
    expect(versions(await healthy().loadSubject('LS-4'))).toEqual(['LS-4@1', 'ls4-a@1']);
    expect(versions(await healthy().loadSubject('LS-5'))).toEqual(['LS-5@1']);

    // Act: the same move by a writer that takes over the dead one's locks, and commits
    const [result] = await healthy({ clock: () => new Date(Date.now() + 10 * 60_000) }).commit([moved], { atomic: true });

    // Assess
    expect(result?.status).toBe('updated');
    expect(versions(await healthy().loadSubject('LS-4'))).toEqual(['LS-4@1']);
    expect(versions(await healthy().loadSubject('LS-5'))).toEqual(['LS-5@1', 'ls4-a@2']);
  });
});
