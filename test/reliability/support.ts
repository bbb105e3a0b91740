/**
 * Shared helpers of the reliability suite: sizes (default run vs `npm run test:stress`), store
 * snapshots through the API, small bundles, a bounded-concurrency runner and the summary lines.
 */
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { STORE_TYPES } from '../../lambdas/serve/core/capability-statement.js';
import type { TestApp } from '../support/local-app.js';

/** `STRESS=1` (set by `npm run test:stress`) selects the long variants. */
export const STRESS = process.env.STRESS === '1';

/**
 * A size for the current variant.
 * @param normal - Size in the default `npm test` run.
 * @param stress - Size under `npm run test:stress`.
 * @returns The size to use.
 */
export function sized(normal: number, stress: number): number {
  return STRESS ? stress : normal;
}

/** The seed of every fast-check run in this process: `FC_SEED` to replay one, else the clock. */
export const FC_SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2_147_483_647;

/**
 * Prints one summary line of a section, so that both variants leave their figures in the log.
 * @param section - Section name.
 * @param figures - Figures to print.
 */
export function printSummary(section: string, figures: Record<string, string | number>): void {
  const text = Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`[reliability${STRESS ? ':stress' : ''}] ${section}: ${text}`);
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight.
 * @param items - Inputs.
 * @param limit - Concurrency.
 * @param fn - The call.
 * @returns Results in input order.
 */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** `type/id` → versionId of everything the study store serves. */
export type StoreSnapshot = Map<string, string>;

/**
 * Every resource of every store type, read through the API (search pages of 1,000, following `next`).
 * AuditEvents only when asked: every access, the snapshot's own reads included, adds one (issue 17),
 * so a snapshot of the study data leaves the audit trail out.
 * @param app - The running app.
 * @param options - `withAudit`: include the AuditEvents.
 * @returns The snapshot.
 */
export async function snapshotStore(app: TestApp, options: { withAudit?: boolean } = {}): Promise<StoreSnapshot> {
  const snapshot: StoreSnapshot = new Map();
  // AuditEvents need a scope naming them (no wildcard reaches them).
  const token = await app.token('system/*.rs system/AuditEvent.rs');
  for (const type of STORE_TYPES.filter((t) => options.withAudit || t !== 'AuditEvent')) {
    let path: string | undefined = `/${type}?_count=1000`;
    while (path) {
      const res = await app.fetchFhir(path, { token });
      if (res.status !== 200) throw new Error(`snapshot ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
      for (const e of res.body.entry ?? []) snapshot.set(`${type}/${e.resource.id}`, e.resource.meta.versionId);
      const next: string | undefined = res.body.link?.find((l: any) => l.relation === 'next')?.url;
      path = next ? next.slice(next.indexOf('/fhir') + '/fhir'.length) : undefined;
    }
  }
  return snapshot;
}

/**
 * What changed between two snapshots: new resources and new versions, as `type/id/_history/vid`.
 * @param before - Earlier snapshot.
 * @param after - Later snapshot.
 * @returns The changes.
 */
export function snapshotDiff(before: StoreSnapshot, after: StoreSnapshot): string[] {
  const changes: string[] = [];
  for (const [key, vid] of after) if (before.get(key) !== vid) changes.push(`${key}/_history/${vid}`);
  for (const key of before.keys()) if (!after.has(key)) changes.push(`${key} (gone)`);
  return changes;
}

/** LOINC codes the study stores as lab Observations, with their canonical UCUM unit (see the ObservationDefinitions). */
export const LABS = [
  { code: '777-3', unit: '10*3/uL', value: 250 },
  { code: '6690-2', unit: '10*3/uL', value: 6.1 },
  { code: '718-7', unit: 'g/dL', value: 13.2 },
] as const;

/**
 * A small EHR bundle: one hospital Patient and `observations` lab Observations (LOINC, UCUM),
 * every value and date derived from `patientId` and the index, so a replay is byte-identical.
 * @param patientId - The hospital Patient id.
 * @param observations - Number of Observations.
 * @param type - Bundle type (`collection` goes to `POST /fhir/Bundle`).
 * @returns The bundle.
 */
export function labBundle(patientId: string, observations: number, type: 'transaction' | 'batch' | 'collection' = 'transaction'): Bundle {
  const patientUrl = `urn:uuid:${patientId}`;
  const request = (method: 'PUT' | 'POST', url: string): Pick<BundleEntry, 'request'> => (type === 'collection' ? {} : { request: { method, url } });
  const entry: BundleEntry[] = [
    {
      fullUrl: patientUrl,
      resource: { resourceType: 'Patient', id: patientId, gender: 'female', birthDate: '1985-05-17' },
      ...request('PUT', `Patient/${patientId}`),
    },
  ];
  for (let i = 0; i < observations; i++) {
    const lab = LABS[i % LABS.length]!;
    const id = `${patientId}-o${i}`;
    entry.push({
      fullUrl: `urn:uuid:${id}`,
      resource: {
        resourceType: 'Observation',
        id,
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: lab.code }] },
        subject: { reference: patientUrl },
        effectiveDateTime: `2024-0${1 + (i % 9)}-${String(1 + (i % 28)).padStart(2, '0')}T08:30:00Z`,
        valueQuantity: { value: lab.value + i, unit: lab.unit, system: 'http://unitsofmeasure.org', code: lab.unit },
      },
      ...request('POST', 'Observation'),
    });
  }
  return { resourceType: 'Bundle', id: `bundle-${patientId}-${type}`, type, entry };
}

/**
 * The `type/id` locations of the entries a batch/transaction response says were stored.
 * @param response - The response Bundle.
 * @returns `type/id/_history/vid` of each 200/201 entry with a location.
 */
export function acceptedLocations(response: any): string[] {
  return (response?.entry ?? [])
    .filter((e: any) => /^20[01]/.test(e.response?.status ?? '') && e.response?.location)
    .map((e: any) => e.response.location as string);
}
