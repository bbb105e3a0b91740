import type { Bundle, Resource } from '@medplum/fhirtypes';
import { createReadStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Conformance } from '../commons/conformance/index.js';
import { deterministicId } from '../commons/ids.js';
import type { StudyCodes } from '../ingest/core/codes.js';
import { hospitalPatientKey, mapResource } from '../ingest/core/map-resource.js';
import { SourceBundle } from '../ingest/core/source.js';
import { screenPatient, type EligibilityCriteria, type OverallState, type ScreeningResult } from './core/index.js';

/** What a population screen needs: the mapping's study facts and the criteria; no store. */
export interface BulkScreenDeps {
  readonly conformance: Conformance;
  readonly codes: StudyCodes;
  readonly unitAliases: ReadonlyMap<string, string>;
  readonly criteria: EligibilityCriteria;
  readonly sourceSystem: string;
  readonly asOf: Date;
}

/** Tally of a population screen. */
export interface SweepSummary {
  patients: number;
  byState: Record<OverallState, number>;
  /** Resources that could not be mapped (unknown local code, inconvertible unit, broken reference). */
  unmappable: number;
}

/**
 * Reads a FHIR Bulk Data export (a folder of `.ndjson` files, one resource per line) and groups the
 * resources by patient: the Patient itself and everything whose subject or patient references it.
 * @param dir - The export folder.
 * @returns Each patient's resources.
 */
export async function readBulkExport(dir: string): Promise<Map<string, Resource[]>> {
  const byPatient = new Map<string, Resource[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ndjson')).sort()) {
    const lines = createInterface({ input: createReadStream(join(dir, file), 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.trim()) continue;
      const resource = JSON.parse(line) as Resource & { subject?: { reference?: string }; patient?: { reference?: string } };
      if (typeof resource.resourceType !== 'string') continue; // the export's own log lines
      const ref = resource.resourceType === 'Patient' ? `Patient/${resource.id ?? ''}` : (resource.subject ?? resource.patient)?.reference;
      const id = ref?.startsWith('Patient/') ? ref.slice('Patient/'.length) : undefined;
      if (id) byPatient.set(id, [...(byPatient.get(id) ?? []), resource]);
    }
  }
  return byPatient;
}

/**
 * Screens one hospital patient from its raw records: maps them as the ingest would (in memory, under
 * a pseudonym that is never stored) and evaluates the criteria.
 * @param hospitalId - The hospital's Patient id.
 * @param resources - Its records.
 * @param deps - Study facts.
 * @returns The screening result and how many records could not be mapped.
 */
export function screenRecords(hospitalId: string, resources: readonly Resource[], deps: BulkScreenDeps): { result: ScreeningResult; unmappable: number } {
  const bundle: Bundle = { resourceType: 'Bundle', type: 'collection', entry: resources.map((r) => ({ fullUrl: `${r.resourceType}/${r.id ?? ''}`, resource: r })) };
  const source = new SourceBundle(bundle, deps.sourceSystem);
  const pseudonym = `sweep-${deterministicId(deps.sourceSystem, hospitalId).slice(0, 12)}`;
  const pseudonyms = new Map([[hospitalPatientKey(deps.sourceSystem, { resourceType: 'Patient', id: hospitalId }), pseudonym]]);
  const ctx = { source, codes: deps.codes, conformance: deps.conformance, unitAliases: deps.unitAliases, pseudonyms };
  const mapped: Resource[] = [];
  let unmappable = 0;
  for (const entry of bundle.entry ?? []) {
    try {
      const outcome = mapResource(entry.resource as Resource, source.keyOfEntry(entry), ctx);
      if (outcome.kind === 'mapped') mapped.push(outcome.resource);
    } catch {
      unmappable++;
    }
  }
  const result = screenPatient({ base: deps.conformance.base, patient: pseudonym, resources: mapped, asOf: deps.asOf }, deps.criteria);
  return { result, unmappable };
}

/**
 * Screens a whole population, reporting progress.
 * @param patients - Each hospital patient's records.
 * @param deps - Study facts.
 * @param onProgress - Called every `every` patients.
 * @param every - Progress interval.
 * @returns The summary.
 */
export function sweepPopulation(
  patients: ReadonlyMap<string, readonly Resource[]>,
  deps: BulkScreenDeps,
  onProgress: (done: number, total: number) => void = () => undefined,
  every = 1000,
): SweepSummary {
  const summary: SweepSummary = { patients: 0, byState: { eligible: 0, candidate: 0, ineligible: 0 }, unmappable: 0 };
  for (const [id, resources] of patients) {
    const { result, unmappable } = screenRecords(id, resources, deps);
    summary.patients++;
    summary.byState[result.overall]++;
    summary.unmappable += unmappable;
    if (summary.patients % every === 0) onProgress(summary.patients, patients.size);
  }
  onProgress(summary.patients, patients.size);
  return summary;
}
