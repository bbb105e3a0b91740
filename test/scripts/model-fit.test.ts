import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, SHARED_DATA } from '../support/local-app.js';

const run = promisify(execFile);

describe('Script: model-fit', () => {
  it("prints R's coefficients for the UCLA admissions data", async () => {
    // Act
    const { stdout } = await run('npx', ['tsx', 'scripts/model-fit.ts', '--data', `${SHARED_DATA}/logistic-regression/ucla_binary.csv`, '--outcome', 'admit', '--factor', 'rank', '--repeats', '2', '--bootstrap', '20'], {
      cwd: REPO_ROOT,
    });
    // Assess: glm(admit ~ gre + gpa + factor(rank), binomial) in R 4.x.
    const rows = Object.fromEntries([...stdout.matchAll(/^(\(Intercept\)|gre|gpa|rank\d)\s+(-?\d+\.\d+)\s+(\d+\.\d+)/gm)].map((m) => [m[1], [m[2], m[3]]]));
    expect(rows).toEqual({
      '(Intercept)': ['-3.989979', '1.139951'],
      gre: ['0.002264', '0.001094'],
      gpa: ['0.804038', '0.331819'],
      rank2: ['-0.675443', '0.316490'],
      rank3: ['-1.340204', '0.345306'],
      rank4: ['-1.551464', '0.417832'],
    });
    expect(stdout).toContain('Residual deviance: 458.52 on 394 degrees of freedom');
    expect(stdout).toContain('AIC: 470.52');
    expect(stdout).toMatch(/optimism-corrected AUC 0\.\d{3}/);
    expect(stdout).toContain('nothing written');
  });

  it('reports separation instead of a diverged fit', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sep-')), 'sep.csv');
    writeFileSync(file, 'y,x\n0,1\n0,2\n0,3\n1,4\n1,5\n1,6\n');
    const result = await run('npx', ['tsx', 'scripts/model-fit.ts', '--data', file, '--outcome', 'y'], { cwd: REPO_ROOT }).catch((e: any) => e);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('complete separation');
    expect(result.stderr).toContain('--method firth');
  });
});
