/**
 * A prediction model as versioned data (fhir-profiles/models/*.json): the outcome, the timepoint it
 * predicts from, each feature (codes, visit, transform, unit), the coefficients on the features' own
 * scale as R reports them, the missing-data policy, the interpretation threshold and the
 * cross-validated performance of the fit that produced it. A changed coefficient or feature is a new
 * version of the file, never a code change. Served as an R4 Library (see {@link toLibrary}).
 */
import type { Library } from '@medplum/fhirtypes';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Thrown for a model document that does not validate; the message names the file and each bad path. */
export class ModelSpecError extends Error {
  override name = 'ModelSpecError';
}

/** The placeholder model files use for the canonical base (`{base}/CodeSystem/...`). */
export const BASE_PLACEHOLDER = '{base}';

const VISIT = /^week-(\d+)$/;

/**
 * The week of a scheduled study visit code.
 * @param visit - e.g. `week-4`.
 * @returns 4, or undefined for `screening`, `unscheduled` or anything else.
 */
export function visitWeek(visit: string): number | undefined {
  const m = VISIT.exec(visit);
  return m ? Number(m[1]) : undefined;
}

const visitCode = z.string().regex(VISIT, 'a scheduled visit code such as "week-4"');
const codingSchema = z.strictObject({ system: z.string().min(1), code: z.string().min(1), display: z.string().optional() });
const featureId = z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower-case letters, digits and "_", starting with a letter (a valid R column name)');

const measureSchema = z.discriminatedUnion('source', [
  z.strictObject({
    /** A column-friendly name of the measured quantity (`cd19_pct`), shared by features of the same measure. */
    key: featureId,
    source: z.literal('observation'),
    /** Any of these codings (the ingest's canonical codes; `{base}` allowed). */
    codes: z.array(codingSchema).min(1),
    /** The UCUM code the value must carry (the canonical unit of its ObservationDefinition). */
    unit: z.string().min(1),
  }),
  z.strictObject({
    key: featureId,
    /** The derived SLEDAI-2K total (profile `sledai-2k-score`, valueInteger). */
    source: z.literal('sledai-2k-total'),
    unit: z.literal('{score}'),
  }),
]);

const featureSchema = z
  .strictObject({
    id: featureId,
    label: z.string().min(1),
    measure: measureSchema,
    /** value: at `visit`; change: at `visit` minus at `baseline`; log-ratio: ln(at `visit` / at `baseline`). */
    transform: z.enum(['value', 'change', 'log-ratio']),
    visit: visitCode,
    baseline: visitCode.default('week-0'),
    /** UCUM code of the transformed value: the measure's unit for value and change, `1` for log-ratio. */
    unit: z.string().min(1),
  })
  .superRefine((f, ctx) => {
    const expected = f.transform === 'log-ratio' ? '1' : f.measure.unit;
    if (f.unit !== expected) ctx.addIssue({ code: 'custom', path: ['unit'], message: `a ${f.transform} of ${f.measure.unit} has unit "${expected}", not "${f.unit}"` });
    if (f.transform !== 'value' && f.visit === f.baseline) {
      ctx.addIssue({ code: 'custom', path: ['visit'], message: `a ${f.transform} needs a visit other than its baseline ${f.baseline}` });
    }
  });

const estimateSchema = z.strictObject({
  estimate: z.number(),
  /** Full precision; null where the method gives none (ridge, or a made-up draft). */
  standardError: z.number().nonnegative().nullable(),
});

const coefficientSchema = estimateSchema.extend({
  feature: featureId,
  /** Centring and scaling the fitter used (ridge); the estimate is still on the feature's own scale. */
  standardisation: z.strictObject({ center: z.number(), scale: z.number().positive() }).optional(),
});

const aucSchema = z.strictObject({ estimate: z.number(), standardError: z.number(), lower: z.number(), upper: z.number(), level: z.number() });

const performanceSchema = z.strictObject({
  subjects: z.int().positive(),
  events: z.int().nonnegative(),
  /** Residual and null deviance of the fit (unpenalised). */
  deviance: z.number(),
  nullDeviance: z.number(),
  /** AIC for a maximum-likelihood fit; null for penalised ones. */
  aic: z.number().nullable(),
  separation: z.enum(['none', 'quasi-complete', 'complete']),
  crossValidation: z.strictObject({
    folds: z.int().positive(),
    repeats: z.int().positive(),
    seed: z.int(),
    auc: aucSchema,
    brier: z.number(),
    calibrationIntercept: z.number(),
    calibrationSlope: z.number(),
  }),
  bootstrap: z.strictObject({ replicates: z.int().positive(), seed: z.int(), apparentAuc: z.number(), optimism: z.number(), correctedAuc: z.number() }),
});

/** The model document's schema (exported so tests and tools can check a file on its own). */
export const PredictionModelSchema = z
  .strictObject({
    schemaVersion: z.literal(1),
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'lower-case kebab-case'),
    title: z.string().min(1),
    version: z.string().regex(/^\d+\.\d+\.\d+$/, 'semantic version MAJOR.MINOR.PATCH'),
    status: z.enum(['draft', 'active', 'retired']),
    date: z.iso.date(),
    description: z.string().min(1),
    /** Said in a note of every prediction made from the model (e.g. ILLUSTRATIVE AND UNCALIBRATED). */
    caution: z.string().min(1).optional(),
    outcome: z.strictObject({
      /** Column name of the outcome in the analysis dataset. */
      id: featureId,
      label: z.string().min(1),
      /** The derived Observation that holds it: profile id, code, visit, and which value counts as the event. */
      profile: z.string().min(1),
      code: codingSchema,
      visit: visitCode,
      event: z.string().min(1),
      nonEvent: z.string().min(1),
    }),
    /** The visit whose data the model predicts from: every feature's visit is at or before it. */
    timepoint: visitCode,
    features: z.array(featureSchema).min(1),
    model: z.strictObject({
      family: z.literal('binomial'),
      link: z.literal('logit'),
      /** How the coefficients were obtained; `expert` for hand-set (made-up) ones. */
      method: z.enum(['irls', 'firth', 'ridge', 'expert']),
      /** Ridge penalty on the summed log-likelihood scale. */
      lambda: z.number().nonnegative().optional(),
      intercept: estimateSchema,
      coefficients: z.array(coefficientSchema).min(1),
    }),
    missingData: z.strictObject({ policy: z.literal('not-evaluable') }),
    interpretation: z.strictObject({
      /** Probability at or above which the subject is a likely responder. */
      threshold: z.number().gt(0).lt(1),
      atOrAbove: z.literal('likely-responder'),
      below: z.literal('unlikely-responder'),
    }),
    /** Cross-validated performance of the fit that produced the coefficients; null for a hand-set model. */
    performance: performanceSchema.nullable(),
    provenance: z.strictObject({ source: z.string().min(1), fittedAt: z.iso.datetime().optional(), basedOn: z.string().optional() }).optional(),
  })
  .superRefine((m, ctx) => {
    const ids = m.features.map((f) => f.id);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) ctx.addIssue({ code: 'custom', path: ['features', i, 'id'], message: `feature "${id}" appears twice` });
    });
    const timepoint = visitWeek(m.timepoint) ?? 0;
    m.features.forEach((f, i) => {
      if ((visitWeek(f.visit) ?? 0) > timepoint) {
        ctx.addIssue({ code: 'custom', path: ['features', i, 'visit'], message: `${f.visit} is after the model's timepoint ${m.timepoint}` });
      }
    });
    const named = m.model.coefficients.map((c) => c.feature);
    m.model.coefficients.forEach((c, i) => {
      if (!ids.includes(c.feature)) ctx.addIssue({ code: 'custom', path: ['model', 'coefficients', i, 'feature'], message: `no feature "${c.feature}"` });
      if (named.indexOf(c.feature) !== i) ctx.addIssue({ code: 'custom', path: ['model', 'coefficients', i, 'feature'], message: `"${c.feature}" has two coefficients` });
    });
    ids.forEach((id, i) => {
      if (!named.includes(id)) ctx.addIssue({ code: 'custom', path: ['features', i], message: `feature "${id}" has no coefficient` });
    });
    if (m.model.method === 'expert' && m.performance !== null) {
      ctx.addIssue({ code: 'custom', path: ['performance'], message: 'a hand-set (expert) model has no fit performance' });
    }
    if (m.model.method !== 'expert' && m.performance === null) {
      ctx.addIssue({ code: 'custom', path: ['performance'], message: 'a fitted model records its cross-validated performance' });
    }
  });

/** A validated prediction model. */
export type PredictionModel = z.infer<typeof PredictionModelSchema>;
/** One feature of a model. */
export type FeatureSpec = PredictionModel['features'][number];
/** What a feature measures. */
export type MeasureSpec = FeatureSpec['measure'];

/**
 * Validates a model document.
 * @param raw - Parsed JSON.
 * @param where - Where it came from, for the message.
 * @returns The model.
 * @throws ModelSpecError naming every bad path.
 * @example
 * parseModel(JSON.parse(text), 'sri4-week4-0.1.0.json');
 */
export function parseModel(raw: unknown, where = 'model'): PredictionModel {
  const result = PredictionModelSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new ModelSpecError(`Invalid prediction model ${where}:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** fhir-profiles/models/ in this repository. */
export const DEFAULT_MODELS_DIR = fileURLToPath(new URL('../../../fhir-profiles/models/', import.meta.url));

/**
 * Reads and validates every model file of a folder.
 * @param dir - Folder of `*.json` model files. Default fhir-profiles/models/.
 * @returns The models, sorted by name then version.
 * @throws ModelSpecError for an unreadable or invalid file, or a name and version given twice.
 */
export function loadModels(dir: string = DEFAULT_MODELS_DIR): PredictionModel[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const models = files.map((file) => {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (error) {
      throw new ModelSpecError(`Cannot read model ${file}: ${(error as Error).message}`, { cause: error });
    }
    return parseModel(raw, file);
  });
  const seen = new Set<string>();
  for (const m of models) {
    const key = `${m.name}|${m.version}`;
    if (seen.has(key)) throw new ModelSpecError(`Model ${m.name} version ${m.version} is defined twice in ${dir}`);
    seen.add(key);
  }
  return models.sort((a, b) => a.name.localeCompare(b.name) || compareVersions(a.version, b.version));
}

/**
 * Orders semantic versions.
 * @param a - e.g. `0.2.0`.
 * @param b - e.g. `0.10.0`.
 * @returns Negative, zero or positive.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The model predictions are made with: the active one, else the newest draft (by date, then version).
 * Retired models are never chosen.
 * @param models - Loaded models.
 * @returns The model, or undefined when there is none to use.
 * @throws ModelSpecError when more than one model is active.
 */
export function activeModel(models: readonly PredictionModel[]): PredictionModel | undefined {
  const active = models.filter((m) => m.status === 'active');
  if (active.length > 1) {
    throw new ModelSpecError(`More than one active model: ${active.map((m) => `${m.name} ${m.version}`).join(', ')}; retire all but one`);
  }
  if (active[0]) return active[0];
  const drafts = models.filter((m) => m.status === 'draft').sort((a, b) => a.date.localeCompare(b.date) || compareVersions(a.version, b.version));
  return drafts.at(-1);
}

/**
 * The next version number for a newly fitted model of a name (next minor of the highest one).
 * @param models - Existing models.
 * @param name - The model name.
 * @returns e.g. `0.2.0` after `0.1.0`; `0.1.0` for a new name.
 */
export function nextVersion(models: readonly PredictionModel[], name: string): string {
  const versions = models.filter((m) => m.name === name).map((m) => m.version);
  const highest = versions.sort(compareVersions).at(-1);
  if (!highest) return '0.1.0';
  const [major = 0, minor = 0] = highest.split('.').map(Number);
  return `${major}.${minor + 1}.0`;
}

/**
 * The model's canonical URL (its Library).
 * @param model - The model.
 * @param base - Canonical base.
 * @returns `{base}/Library/{name}`.
 */
export function modelCanonical(model: Pick<PredictionModel, 'name'>, base: string): string {
  return `${base.replace(/\/+$/, '')}/Library/${model.name}`;
}

/**
 * A copy of the model with the `{base}` placeholder replaced by a concrete canonical base.
 * @param model - The model.
 * @param base - Canonical base.
 * @returns The resolved model (still valid against the schema).
 */
export function resolveBase(model: PredictionModel, base: string): PredictionModel {
  const root = base.replace(/\/+$/, '');
  return JSON.parse(JSON.stringify(model).replaceAll(BASE_PLACEHOLDER, root)) as PredictionModel;
}

/** The model file's name for a model version. */
export function modelFileName(model: Pick<PredictionModel, 'name' | 'version'>): string {
  return `${model.name}-${model.version}.json`;
}

/** R4 library-type: a model-definition Library holds a model's parameters, not executable logic. */
const LIBRARY_TYPE = 'http://terminology.hl7.org/CodeSystem/library-type';

/**
 * The model as an R4 Library the API can serve: url `{base}/Library/{name}`, the version and status,
 * and the model JSON (with `{base}` resolved) as a base64 application/json attachment.
 * @param model - The model.
 * @param base - Canonical base.
 * @returns The Library; its id is `{name}-{version}` so every version can be read.
 * @see https://hl7.org/fhir/R4/library.html
 */
export function toLibrary(model: PredictionModel, base: string): Library & { id: string } {
  const resolved = resolveBase(model, base);
  const json = JSON.stringify(resolved, null, 2);
  const computable = model.name.replace(/(^|-)([a-z0-9])/g, (_, _sep: string, c: string) => c.toUpperCase());
  return {
    resourceType: 'Library',
    id: `${model.name}-${model.version}`,
    url: modelCanonical(model, base),
    version: model.version,
    name: computable,
    title: model.title,
    status: model.status,
    experimental: model.status !== 'active',
    type: { coding: [{ system: LIBRARY_TYPE, code: 'model-definition', display: 'Model Definition' }] },
    date: model.date,
    description: model.caution ? `${model.caution} ${model.description}` : model.description,
    content: [{ contentType: 'application/json', data: Buffer.from(json, 'utf8').toString('base64'), title: modelFileName(model) }],
  };
}
