import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { Observation, Patient, Provenance, Resource } from '@medplum/fhirtypes';
import { DynamoStudyStore } from '../../lambdas/commons/store/dynamo-study-store.js';
import type { StudyDataChanged, StudyStore } from '../../lambdas/commons/store/port.js';
import { ensureTables } from '../../lambdas/commons/store/tables.js';
import { SUBJECT_TYPES } from '../../lambdas/commons/study-types.js';
import { loadSubjectRecords } from '../../lambdas/commons/subject-records.js';
import { countingClient } from './counting-client.js';
import { LegacyDynamoStudyStore } from './legacy-study-store.js';

/**
 * The store's own costs, counted: DynamoDB calls and wall time of a subject's visit bundles committed
 * one after another, of loading that subject's whole record, and of 1,000-entry transaction and
 * batch commits, for the store as it is (`current`) or as it was before issue 13 (`legacy`).
 */

/** Which store to measure. */
export type StoreKind = 'current' | 'legacy';

/** Calls and time of one operation. */
export interface Measured {
  readonly calls: number;
  readonly ms: number;
  readonly byCommand: Readonly<Record<string, number>>;
}

export interface StoreScenarioResult {
  readonly kind: StoreKind;
  /** One per visit bundle, in order (the first also creates the Patient). */
  readonly visitCommits: readonly Measured[];
  /** Loading the subject's record (every subject type) after all visits. */
  readonly load: Measured & { readonly resources: number };
  readonly transaction1000?: Measured;
  readonly batch1000?: Measured;
}

export interface StoreScenarioOptions {
  readonly visits?: number;
  readonly entriesPerVisit?: number;
  /** Also commit 1,000 entries as one transaction and as one batch. */
  readonly big?: boolean;
}

const LOINC = 'http://loinc.org';
const PROFILE = 'https://belimumab-sle.example.org/fhir/StructureDefinition/sle-lab-observation';
const WEEKS = [0, 2, 4, 8, 12, 24, 36, 48];

/**
 * A visit bundle's resources as the ingest commits them: the Patient (unchanged after the first
 * visit), `entries - 2` lab Observations and the bundle's Provenance.
 * @param patient - Pseudonym.
 * @param visit - Visit number from 0.
 * @param entries - Resources in the bundle.
 * @returns The resources.
 */
export function visitResources(patient: string, visit: number, entries: number): (Resource & { id: string })[] {
  const day = new Date(Date.UTC(2024, 0, 8) + (WEEKS[visit % WEEKS.length] ?? visit) * 7 * 86_400_000 + Math.floor(visit / WEEKS.length) * 365 * 86_400_000);
  const observations: (Observation & { id: string })[] = Array.from({ length: Math.max(0, entries - 2) }, (_, i) => ({
    resourceType: 'Observation',
    id: `${patient}-v${visit}-o${i}`,
    meta: { profile: [PROFILE] },
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: LOINC, code: `${1000 + (i % 40)}-${i % 10}` }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: new Date(day.getTime() + i * 60_000).toISOString(),
    valueQuantity: { value: 10 + ((i * 7 + visit) % 90) / 10, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
  }));
  const patientResource: Patient & { id: string } = { resourceType: 'Patient', id: patient, gender: 'female', birthDate: '1985' };
  const provenance: Provenance & { id: string } = {
    resourceType: 'Provenance',
    id: `${patient}-v${visit}-prov`,
    recorded: day.toISOString(),
    agent: [{ who: { display: 'ingest' } }],
    target: observations.map((o) => ({ reference: `Observation/${o.id}` })),
  };
  return [patientResource, ...observations, provenance];
}

function event(patient: string, id: string): StudyDataChanged {
  return { eventId: id, patient, kinds: ['Observation'], occurredAt: '2024-06-10T00:00:00.000Z', origin: 'source' };
}

/**
 * Runs the scenario on a fresh table of a DynamoDB endpoint (dynalite in the bench and the test).
 * @param config - Client config of the endpoint.
 * @param kind - Which store.
 * @param options - Sizes.
 * @returns Calls and times.
 */
export async function runStoreScenario(config: DynamoDBClientConfig, kind: StoreKind, options: StoreScenarioOptions = {}): Promise<StoreScenarioResult> {
  const visits = options.visits ?? 8;
  const entries = options.entriesPerVisit ?? 50;
  const { client, documentClient, counter } = countingClient(config);
  try {
    const tables = await ensureTables(client, `bench-${kind}-${Date.now().toString(36)}`);
    const settings = { client: documentClient, tableName: tables.study, logger: { warn: (): void => undefined } };
    const store: StudyStore = kind === 'current' ? new DynamoStudyStore(settings) : new LegacyDynamoStudyStore(settings);
    const measure = async <T>(work: () => Promise<T>): Promise<Measured & { value: T }> => {
      counter.reset();
      const started = performance.now();
      const value = await work();
      return { value, calls: counter.total(), ms: performance.now() - started, byCommand: Object.fromEntries(counter.byCommand) };
    };
    const strip = <T extends Measured>({ calls, ms, byCommand }: T): Measured => ({ calls, ms, byCommand });
    const patient = 'S-BENCH0001';
    const visitCommits: Measured[] = [];
    for (let v = 0; v < visits; v++) {
      const resources = visitResources(patient, v, entries);
      visitCommits.push(strip(await measure(() => store.commit(resources, { atomic: true, events: [event(patient, `visit-${v}`)] }))));
    }
    const load = await measure(() => loadSubjectRecords(store, patient, SUBJECT_TYPES));
    let transaction1000: Measured | undefined;
    let batch1000: Measured | undefined;
    if (options.big) {
      const many = (tag: string): (Resource & { id: string })[] =>
        Array.from({ length: 20 }, (_, p) => visitResources(`S-${tag}${String(p).padStart(4, '0')}`, 0, 52).slice(1, 51)).flat();
      transaction1000 = strip(await measure(() => store.commit(many('TX'), { atomic: true, events: [event('S-TX0000', 'tx-1000')] })));
      batch1000 = strip(await measure(() => store.commit(many('BA'), { atomic: false, events: [event('S-BA0000', 'batch-1000')] })));
    }
    return { kind, visitCommits, load: { ...strip(load), resources: load.value.length }, ...(transaction1000 ? { transaction1000 } : {}), ...(batch1000 ? { batch1000 } : {}) };
  } finally {
    client.destroy();
  }
}
