import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateBase } from '../../../../lambdas/commons/fhir/validate-base.js';
import {
  activeModel,
  compareVersions,
  loadModels,
  ModelSpecError,
  nextVersion,
  parseModel,
  toLibrary,
  type PredictionModel,
} from '../../../../lambdas/predict/core/model-spec.js';
import { base, smallModel, smallModelRaw } from './fixtures.js';

const withVersion = (m: PredictionModel, version: string, status: PredictionModel['status'], date = m.date): PredictionModel => ({ ...m, version, status, date });

describe('Model specification', () => {
  it('ships one valid draft model that says it is illustrative and uncalibrated', () => {
    // Act
    const models = loadModels();
    // Assess
    expect(models).toHaveLength(1);
    const model = models[0]!;
    expect(model.status).toBe('draft');
    expect(model.description).toContain('ILLUSTRATIVE AND UNCALIBRATED');
    expect(model.caution).toContain('ILLUSTRATIVE AND UNCALIBRATED');
    expect(model.timepoint).toBe('week-4');
    expect(model.model.coefficients.map((c) => c.feature)).toEqual(model.features.map((f) => f.id));
    expect(activeModel(models)).toBe(model);
  });

  it('rejects a bad model with a message naming each bad path', () => {
    // Prepare
    const raw = smallModelRaw();
    raw.features[1].unit = '%';
    raw.status = 'final';
    // Act
    const act = (): unknown => parseModel(raw, 'bad.json');
    // Assess
    expect(act).toThrow(ModelSpecError);
    const message = (() => {
      try {
        act();
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(message).toContain('Invalid prediction model bad.json');
    expect(message).toContain('status');
    expect(message).toContain('features.1.unit: a log-ratio of % has unit "1", not "%"');
  });

  it('rejects features after the timepoint and coefficients that do not match the features', () => {
    const raw = smallModelRaw();
    raw.features[0].visit = 'week-12';
    raw.model.coefficients.pop();
    raw.model.coefficients.push({ feature: 'c3', estimate: 1, standardError: 0.1 });
    expect(() => parseModel(raw, 'bad.json')).toThrow(
      /features\.0\.visit: week-12 is after the model's timepoint week-4[\s\S]*model\.coefficients\.1\.feature: no feature "c3"[\s\S]*feature "cd19_log_ratio_w4" has no coefficient/,
    );
  });

  it('rejects unknown keys and a fitted model without its performance', () => {
    const extra = { ...smallModelRaw(), colour: 'blue' };
    expect(() => parseModel(extra)).toThrow(/colour/);
    const fitted = smallModelRaw();
    fitted.model.method = 'irls';
    expect(() => parseModel(fitted)).toThrow(/records its cross-validated performance/);
  });

  it('loads a folder, refusing the same name and version twice', () => {
    const dir = mkdtempSync(join(tmpdir(), 'models-'));
    writeFileSync(join(dir, 'a.json'), JSON.stringify(smallModelRaw()));
    writeFileSync(join(dir, 'b.json'), JSON.stringify(smallModelRaw()));
    expect(() => loadModels(dir)).toThrow(/defined twice/);
    writeFileSync(join(dir, 'b.json'), '{');
    expect(() => loadModels(dir)).toThrow(/Cannot read model b.json/);
  });

  it('chooses the active model, else the newest draft, never a retired one', () => {
    const m = smallModel();
    const drafts = [withVersion(m, '0.2.0', 'draft', '2025-02-01'), withVersion(m, '0.10.0', 'draft', '2025-02-01'), withVersion(m, '0.1.0', 'draft', '2025-01-01')];
    expect(activeModel(drafts)?.version).toBe('0.10.0');
    expect(activeModel([...drafts, withVersion(m, '0.0.1', 'active')])?.version).toBe('0.0.1');
    expect(activeModel([withVersion(m, '1.0.0', 'retired')])).toBeUndefined();
    expect(() => activeModel([withVersion(m, '1.0.0', 'active'), withVersion(m, '1.1.0', 'active')])).toThrow(/More than one active/);
    expect(compareVersions('0.10.0', '0.9.1')).toBeGreaterThan(0);
    expect(nextVersion(drafts, m.name)).toBe('0.11.0');
    expect(nextVersion(drafts, 'other')).toBe('0.1.0');
  });

  it('publishes the model as an R4 model-definition Library with the JSON as a base64 attachment', () => {
    // Prepare
    const model = loadModels()[0]!;
    // Act
    const library = toLibrary(model, base);
    // Assess
    expect(validateBase(library).filter((i) => i.severity === 'error')).toEqual([]);
    expect(library.url).toBe(`${base}/Library/sri4-week4`);
    expect(library.version).toBe(model.version);
    expect(library.status).toBe('draft');
    expect(library.type.coding?.[0]?.code).toBe('model-definition');
    expect(library.description).toContain('ILLUSTRATIVE AND UNCALIBRATED');
    const content = library.content?.[0];
    expect(content?.contentType).toBe('application/json');
    const decoded = parseModel(JSON.parse(Buffer.from(content?.data ?? '', 'base64').toString('utf8')));
    expect(decoded.model).toEqual(model.model);
    expect(JSON.stringify(decoded)).not.toContain('{base}');
    expect(JSON.stringify(decoded)).toContain(`${base}/CodeSystem/b-cell-phenotypes`);
  });
});
