/*
 * Figure: base R4 validation of whole Bundles, in resources/s, no I/O. Per timed run, for each input: the
 * parsed Bundle is validated as the ingest validates it (vital-signs profile as warnings) by the compiled
 * validators (validateBase: ajv standalone code, R4 invariants and the project's checks in one walk) and,
 * in the same run, interleaved, by the validation as it was (validateBaseReference: @medplum/core's
 * validateResource plus the project's checks), over the same objects. The floor is JSON.parse +
 * JSON.stringify of the same bytes. Both validators must agree on the verdict; the figure says so.
 * The compiled validators are thousands of small functions that V8 optimises on a background thread: on a
 * loaded machine they need more warm-up runs than the parse floor before the ratio settles.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { isBlocking } from '../../lambdas/commons/fhir/issues.js';
import { parseFhirJson } from '../../lambdas/commons/fhir/parse-body.js';
import { validateBase, validateBaseReference } from '../../lambdas/commons/fhir/validate-base.js';
import { SHARED_DATA } from '../lib/context.js';
import { row, runFigure, type FigureRow } from '../lib/figure.js';
import { labBundle } from '../lib/generate.js';
import { median } from '../lib/stats.js';

/** The aim for the compiled validation on Synthea (issue 13: the prototype measured 5.2×). */
const TARGET_RATIO = 6;

interface Input {
  readonly name: string;
  readonly bytes: readonly Buffer[];
  readonly resources: number;
  readonly runs: number;
  readonly warmup: number;
}

type Method = 'floor' | 'reference' | 'compiled';
const OPTIONS = { vitalSignsProfile: 'warning' } as const;

function main(): { rows: FigureRow[]; notes: string[] } {
  const syntheaDir = join(SHARED_DATA, 'synthea');
  const synthea = readdirSync(syntheaDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readFileSync(join(syntheaDir, f)));
  const count = (bytes: readonly Buffer[]): number => bytes.reduce((n, b) => n + 1 + ((JSON.parse(b.toString('utf8')) as Bundle).entry?.length ?? 0), 0);
  const generated = Buffer.from(JSON.stringify(labBundle(10_000, 5)));
  const inputs: Input[] = [
    { name: `Synthea (${synthea.length} transaction bundles)`, bytes: synthea, resources: count(synthea), runs: 9, warmup: 15 },
    { name: 'generated 10,000-entry lab batch (5 patients)', bytes: [generated], resources: count([generated]), runs: 3, warmup: 2 },
  ];

  const rows: FigureRow[] = [];
  const notes: string[] = [];
  for (const input of inputs) {
    const parsed = input.bytes.map((b) => parseFhirJson(b));
    const verdicts = { reference: parsed.map((r) => validateBaseReference(r, OPTIONS).some(isBlocking)), compiled: parsed.map((r) => validateBase(r, OPTIONS).some(isBlocking)) };
    const samples = new Map<Method, number[]>([['floor', []], ['reference', []], ['compiled', []]]);
    const once: Record<Method, (i: number) => void> = {
      floor: (i) => void JSON.stringify(JSON.parse((input.bytes[i] as Buffer).toString('utf8'))),
      reference: (i) => void validateBaseReference(parsed[i] as Resource, OPTIONS),
      compiled: (i) => void validateBase(parsed[i] as Resource, OPTIONS),
    };
    for (let r = 0; r < input.warmup + input.runs; r++) {
      // Interleaved, so that each run of the figure and its baselines share the machine's state.
      for (const method of ['floor', 'reference', 'compiled'] as const) {
        global.gc?.();
        const start = performance.now();
        for (let i = 0; i < parsed.length; i++) once[method](i);
        const ms = performance.now() - start;
        if (r >= input.warmup) samples.get(method)?.push(input.resources / (ms / 1000));
      }
    }
    const medianOf = (m: Method): number => median(samples.get(m) ?? []);
    rows.push(
      row(
        {
          group: '1 ingest core',
          figure: `validation (compiled), ${input.name}, ${input.resources} resources`,
          unit: 'resources/s',
          samples: samples.get('compiled') ?? [],
          baselines: [
            { name: 'floor JSON.parse+stringify', median: medianOf('floor') },
            { name: 'validation as it was (@medplum/core validateResource + checks)', median: medianOf('reference') },
          ],
          target: `within ${TARGET_RATIO}× of the floor`,
          meets: (m) => medianOf('floor') / m <= TARGET_RATIO,
        },
        true,
      ),
      row(
        {
          group: '1 ingest core',
          figure: `  baseline: validation as it was, ${input.name}`,
          unit: 'resources/s',
          samples: samples.get('reference') ?? [],
          baselines: [{ name: 'floor JSON.parse+stringify', median: medianOf('floor') }],
        },
        true,
      ),
    );
    const x = (m: Method): string => (medianOf('floor') / medianOf(m)).toFixed(1);
    const agree = verdicts.reference.every((v, i) => v === verdicts.compiled[i]);
    notes.push(
      `validation, ${input.name}: compiled ${x('compiled')}× the floor, as it was ${x('reference')}× (${(medianOf('compiled') / medianOf('reference')).toFixed(1)}× faster); ` +
        `verdicts ${agree ? 'agree' : 'DISAGREE'} (${verdicts.compiled.filter((v) => !v).length} of ${parsed.length} accepted)`,
    );
  }
  return { rows, notes };
}

await runFigure('validation', () => Promise.resolve(main()));
