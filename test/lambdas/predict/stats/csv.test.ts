import { describe, expect, it } from 'vitest';
import { CsvFormatError, parseCsv, readAnalysisCsv } from '../../../../lambdas/predict/stats/csv.js';
import { compareCodePoints, DesignError, factorLevels, parseBinary } from '../../../../lambdas/predict/stats/design.js';
import { DesignArgsError, parseDesignArgs } from '../../../../lambdas/predict/stats/design-args.js';
import { loadReference } from './reference-data.js';

describe('Function: parseCsv', () => {
  it('takes an unnamed first column as row names, as R write.csv writes them', () => {
    const table = parseCsv('"","admit","rank"\n"1","0","3"\n"2","1","1"\n');

    expect(table.header).toEqual(['admit', 'rank']);
    expect(table.rowNames).toEqual(['1', '2']);
    expect(table.columns.get('rank')).toEqual(['3', '1']);
  });

  it('takes row names from a header one field short (write.table) and numbers rows otherwise', () => {
    expect(parseCsv('a,b\nr1,1,2\n').rowNames).toEqual(['r1']);
    expect(parseCsv('a,b\n1,2\n3,4\n').rowNames).toEqual(['1', '2']);
  });

  it('reads quoted commas, doubled quotes, line breaks in quotes, CRLF and a byte-order mark', () => {
    const table = parseCsv('\uFEFFid,note\r\n1,"a, ""b"""\r\n2,"two\nlines"\r\n');

    expect(table.columns.get('note')).toEqual(['a, "b"', 'two\nlines']);
  });

  it('reads NA and empty fields as missing', () => {
    expect(parseCsv('a,b\n1,NA\n,2\n').columns.get('a')).toEqual(['1', null]);
  });

  it('refuses ragged rows, duplicate names and an unterminated quote', () => {
    expect(() => parseCsv('a,b\n1,2,3,4\n')).toThrow(CsvFormatError);
    expect(() => parseCsv('a,a\n1,2\n')).toThrow(/appears twice/);
    expect(() => parseCsv('a,b\n1,"2\n')).toThrow(/unterminated/);
  });
});

describe('Function: readAnalysisCsv', () => {
  const csv = [
    '"","responder","sledai","arm","site"',
    '"p1","Yes",10,"belimumab","B"',
    '"p2","no",8,"placebo","a"',
    '"p3","TRUE",NA,"belimumab","B"',
    '"p4","false",12,"placebo","C"',
    '"p5","1",6,"belimumab","a"',
    '"p6","0",9,,"B"',
  ].join('\n');

  it('reads 1/0, true/false and yes/no outcomes in any case', () => {
    expect(['1', 'TRUE', 'yes', 'Yes'].map(parseBinary)).toEqual([1, 1, 1, 1]);
    expect(['0', 'False', 'NO'].map(parseBinary)).toEqual([0, 0, 0]);
    expect(() => parseBinary('2')).toThrow(DesignError);
  });

  it('drops rows with a missing value in a used column and reports them (na.omit)', () => {
    const design = readAnalysisCsv(csv, { outcome: 'responder', predictors: ['sledai', 'arm'] });

    expect(design.omitted).toEqual({ count: 2, rowNames: ['p3', 'p6'] });
    expect(design.rowNames).toEqual(['p1', 'p2', 'p4', 'p5']);
    expect(design.y).toEqual([1, 0, 0, 1]);
  });

  it('does not drop a row for a missing value in a column the model does not use', () => {
    expect(readAnalysisCsv(csv, { outcome: 'responder', predictors: ['site'] }).omitted.count).toBe(0);
  });

  it('codes a text column as a factor with treatment contrasts, reference = first level in R ICU order', () => {
    const design = readAnalysisCsv(csv, { outcome: 'responder', predictors: ['sledai', 'arm', 'site'] });

    // R 4.2.2 (ICU, C.UTF-8 locale): levels(factor(c("B", "a", "C"))) is "a" "B" "C".
    expect(design.factors).toEqual([
      { column: 'arm', levels: ['belimumab', 'placebo'], reference: 'belimumab', dummies: ['armplacebo'] },
      { column: 'site', levels: ['a', 'B', 'C'], reference: 'a', dummies: ['siteB', 'siteC'] },
    ]);
    expect(design.columnNames).toEqual(['(Intercept)', 'sledai', 'armplacebo', 'siteB', 'siteC']);
    expect(design.x).toEqual([
      [1, 10, 0, 1, 0],
      [1, 8, 1, 0, 0],
      [1, 12, 1, 0, 1],
      [1, 6, 0, 0, 0],
    ]);
  });

  it('sorts text levels as R does under LC_COLLATE=C when asked', () => {
    const design = readAnalysisCsv(csv, { outcome: 'responder', predictors: ['site'], collation: 'C' });

    // R: Sys.setlocale("LC_COLLATE", "C"); levels(factor(c("B", "a", "C"))) is "B" "C" "a".
    expect(design.factors[0]?.levels).toEqual(['B', 'C', 'a']);
  });

  it('orders punctuation, digits and case as R with ICU does', () => {
    // R 4.2.2, C.UTF-8 (ICU root): levels(factor(c("B","a","C","b","_x","10","9","a b","a-b","ab")))
    const values = ['B', 'a', 'C', 'b', '_x', '10', '9', 'a b', 'a-b', 'ab'];

    expect(factorLevels(values).levels).toEqual(['_x', '10', '9', 'a', 'a b', 'a-b', 'ab', 'b', 'B', 'C']);
    // R: Sys.setlocale("LC_COLLATE", "C"); the same
    expect(factorLevels(values, undefined, 'C').levels).toEqual(['10', '9', 'B', 'C', '_x', 'a', 'a b', 'a-b', 'ab', 'b']);
  });

  it('honours an explicit level order, as factor(x, levels = …)', () => {
    const design = readAnalysisCsv(csv, { outcome: 'responder', predictors: ['arm'], levels: { arm: ['placebo', 'belimumab'] } });

    expect(design.columnNames).toEqual(['(Intercept)', 'armbelimumab']);
  });

  it('sorts numeric factor levels numerically and names them as R prints the number', () => {
    expect(factorLevels(['10', '9', '1.0', '2']).levels).toEqual(['1', '2', '9', '10']);
    expect(compareCodePoints('Z', 'a')).toBeLessThan(0);
  });

  it('drops factor levels left without rows after na.omit, as glm does (drop.unused.levels)', () => {
    const text = 'y,g,x\n1,a,1\n0,b,2\n1,c,NA\n0,a,4\n1,b,5\n';

    const design = readAnalysisCsv(text, { outcome: 'y', predictors: ['g', 'x'] });

    expect(design.factors[0]?.levels).toEqual(['a', 'b']);
  });

  it('refuses a factor with one level and an unknown column', () => {
    expect(() => readAnalysisCsv('y,g\n1,a\n0,a\n', { outcome: 'y', predictors: ['g'] })).toThrow(/fewer than two levels/);
    expect(() => readAnalysisCsv(csv, { outcome: 'responder', predictors: ['nope'] })).toThrow(/no column "nope"/);
  });

  it('dummy-codes factor(rank) of the UCLA data as rank2, rank3, rank4 against rank 1', () => {
    const design = loadReference('ucla_binary.csv', { outcome: 'admit', predictors: ['gre', 'gpa', 'rank'], factors: ['rank'] });

    expect(design.columnNames).toEqual(['(Intercept)', 'gre', 'gpa', 'rank2', 'rank3', 'rank4']);
    expect(design.factors[0]?.reference).toBe('1');
    // Row "1" of ucla_binary.csv: "0",380,3.61,"3"
    expect(design.x[0]).toEqual([1, 380, 3.61, 0, 1, 0]);
    expect(design.rowNames[0]).toBe('1');
    expect(design.omitted.count).toBe(0);
  });

  it('builds a grouped outcome from success and failure counts (R cbind(ncases, ncontrols))', () => {
    const design = loadReference('Rdatasets_datasets_esoph.csv', { outcome: { successes: 'ncases', failures: 'ncontrols' }, predictors: ['alcgp'] });

    // Rdatasets row 1: 25-34, 0-39g/day, 0-9g/day, 0 cases, 40 controls.
    expect([design.y[0], design.weights?.[0]]).toEqual([0, 40]);
    expect(design.factors[0]?.levels).toEqual(['0-39g/day', '120+', '40-79', '80-119']);
  });
});

describe('Function: parseDesignArgs', () => {
  it('reads --outcome, --predictors and repeated --factor into a spec', () => {
    expect(parseDesignArgs(['ucla.csv', '--outcome', 'admit', '--predictors', 'gre,gpa', '--factor', 'rank'])).toEqual({
      file: 'ucla.csv',
      spec: { outcome: 'admit', predictors: ['gre', 'gpa', 'rank'], factors: ['rank'] },
    });
  });

  it('reads a grouped outcome and refuses an incomplete one or an unknown flag', () => {
    expect(parseDesignArgs(['e.csv', '--successes', 'ncases', '--failures', 'ncontrols', '--predictors', 'agegp']).spec.outcome).toEqual({ successes: 'ncases', failures: 'ncontrols' });
    expect(() => parseDesignArgs(['e.csv', '--successes', 'ncases'])).toThrow(DesignArgsError);
    expect(() => parseDesignArgs(['e.csv', '--outcome', 'y', '--bogus', 'x'])).toThrow(/unknown flag/);
    expect(() => parseDesignArgs(['--outcome', 'y'])).toThrow(/no CSV file/);
  });
});
