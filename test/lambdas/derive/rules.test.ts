import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decideAbove, decideBelow, readingOf } from '../../../lambdas/derive/core/lab-rules.js';
import { DERIVATION_FILES, DerivationRulesError, loadDerivationRules, parseDerivationRules } from '../../../lambdas/derive/core/rules.js';
import { rules, SubjectBuilder, withRules } from './fixtures.js';

const DIR = fileURLToPath(new URL('../../../fhir-profiles/derivation/', import.meta.url));

function raw(): Record<keyof typeof DERIVATION_FILES, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(DERIVATION_FILES).map(([k, f]) => [k, JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Record<string, unknown>]),
  ) as Record<keyof typeof DERIVATION_FILES, Record<string, unknown>>;
}

describe('Function: loadDerivationRules', () => {
  it('loads and validates the repository data', () => {
    const loaded = loadDerivationRules();
    expect(loaded.sledai.lookBackDays).toBe(10);
    expect(loaded.labs.switches['upcrForProteinuria']).toBe(false);
    expect(loaded.response.sri.indices.map((i) => i.minReduction)).toEqual([4, 5, 6, 7, 8]);
  });

  it('names the file and path of every problem', () => {
    const data = raw();
    const labs = data.labs as { rules: { analytes: Record<string, unknown>[] }[] };
    delete labs.rules[2]!.analytes[0]!['limit'];
    (data.sledai as { lookBackDays: unknown }).lookBackDays = 'ten';
    expect(() => parseDerivationRules(data)).toThrow(DerivationRulesError);
    expect(() => parseDerivationRules(data)).toThrow(/sledai-2k-labs\.json: rules\.2\.analytes\.0\.limit: test 'below' needs a limit/);
    expect(() => parseDerivationRules(data)).toThrow(/sledai-2k\.json: lookBackDays/);
  });

  it('rejects a lab rule for an unknown descriptor and a duplicate descriptor', () => {
    const data = raw();
    (data.labs as { rules: { descriptor: string }[] }).rules[0]!.descriptor = 'hypocomplementemia';
    const descriptors = (data.sledai as { descriptors: unknown[] }).descriptors;
    descriptors.push(descriptors[0]);
    expect(() => parseDerivationRules(data)).toThrow(/unknown descriptor 'hypocomplementemia'.*|duplicate descriptor 'seizure'/);
  });

  it('throws a DerivationRulesError for a folder without the files', () => {
    const empty = mkdtempSync(join(tmpdir(), 'derivation-'));
    expect(() => loadDerivationRules(empty)).toThrow(/Cannot read derivation data sledai-2k\.json/);
  });

  it('reads a copied folder, so a changed threshold is a data change', () => {
    const dir = mkdtempSync(join(tmpdir(), 'derivation-'));
    const data = raw();
    const labs = data.labs as { rules: { descriptor: string; analytes: { limit?: number }[] }[] };
    labs.rules.find((r) => r.descriptor === 'thrombocytopenia')!.analytes.forEach((a) => (a.limit = 150));
    for (const [key, file] of Object.entries(DERIVATION_FILES)) {
      writeFileSync(join(dir, file), JSON.stringify(data[key as keyof typeof DERIVATION_FILES]));
    }
    const changed = loadDerivationRules(dir);
    const b = new SubjectBuilder();
    const date = b.visitDate('week-0');
    // Every other descriptor recorded absent, so the score is complete (D3) and the platelets decide it.
    for (const d of rules.sledai.descriptors.filter((x) => x.code !== 'thrombocytopenia')) {
      b.descriptor('week-0', date, d.code, false);
    }
    b.lab(date, '777-3', 120, '10*3/uL');
    expect(b.sledai('week-0').score?.total).toBe(0);
    expect(b.sledai('week-0', changed).score?.total).toBe(1);
  });

  it('keeps every weight in the data: doubling fever is visible in the score', () => {
    const heavy = withRules((r) => {
      r.sledai.descriptors.find((d) => d.code === 'fever')!.weight = 2;
    });
    const b = new SubjectBuilder();
    b.visit('week-0', { present: ['fever'] });
    expect(b.sledai('week-0', heavy).score?.total).toBe(2);
    expect(rules.sledai.descriptors.find((d) => d.code === 'fever')?.weight).toBe(1);
  });
});

describe('Comparators (sledai-2k.md §4: parse them explicitly and never drop them)', () => {
  it('decides "< limit" for each comparator', () => {
    expect(decideBelow(99, undefined, 100)).toBe('meets');
    expect(decideBelow(100, undefined, 100)).toBe('fails');
    expect(decideBelow(100, '<', 100)).toBe('meets');
    expect(decideBelow(120, '<', 100)).toBe('undecided');
    expect(decideBelow(100, '<=', 100)).toBe('undecided');
    expect(decideBelow(99, '<=', 100)).toBe('meets');
    expect(decideBelow(150, '>', 100)).toBe('fails');
    expect(decideBelow(50, '>', 100)).toBe('undecided');
  });

  it('decides "> limit" for each comparator', () => {
    expect(decideAbove(0.51, undefined, 0.5)).toBe('meets');
    expect(decideAbove(0.5, undefined, 0.5)).toBe('fails');
    expect(decideAbove(5, '>', 5)).toBe('meets');
    expect(decideAbove(4, '>', 5)).toBe('undecided');
    expect(decideAbove(5, '>=', 5)).toBe('undecided');
    expect(decideAbove(5, '<', 5)).toBe('fails');
    expect(decideAbove(10, '<', 5)).toBe('undecided');
  });

  it('reads comparators and ranges sent as strings', () => {
    const obs = (valueString: string) => readingOf({ resourceType: 'Observation', status: 'final', code: {}, valueString });
    expect(obs('<100')).toEqual({ value: 100, comparator: '<' });
    expect(obs(' >= 5 ')).toEqual({ value: 5, comparator: '>=' });
    expect(obs('5-10')).toEqual({ value: 5, high: 10 });
    expect(obs('many')).toBeUndefined();
  });
});
