import { Logger } from '@aws-lambda-powertools/logger';
import type { Resource } from '@medplum/fhirtypes';
import { loadDerivationRules } from '../derive/core/rules.js';
import { recomputeSubject, type DeriveDeps } from '../derive/recompute.js';
import type { IngestHttpDeps } from '../ingest/ingest-request.js';
import { activeModel, loadModels, toLibrary, type PredictionModel } from '../predict/core/model-spec.js';
import { repredictSubject, type PredictDeps } from '../predict/recompute.js';
import { loadEligibilityCriteria, type EligibilityCriteria } from '../screen/core/index.js';
import { rescreenPatient, type ScreenDeps } from '../screen/rescreen.js';
import type { AlertsPort } from './alerts/port.js';
import { StudyCodes } from '../ingest/core/codes.js';
import type { ServeDeps } from '../serve/serve-request.js';
import type { Config } from './config.js';
import { loadConformance, type Conformance } from './conformance/index.js';
import type { EventsPort } from './events/port.js';
import { validateBase } from './fhir/validate-base.js';
import type { IdentityStore, StudyDataChanged, StudyStore } from './store/port.js';
import { annotationRules, unitAliases } from './study-context.js';

/** The adapters a runtime plugs into the cores: DynamoDB and EventBridge in AWS, dynalite and in-process consumers locally. */
export interface Adapters {
  readonly config: Config;
  readonly store: StudyStore;
  readonly identity: IdentityStore;
  readonly events: EventsPort;
  readonly alerts: AlertsPort;
  readonly logger?: Logger;
}

/** Ports of each function, built from one set of adapters and the study's conformance resources. */
export interface Runtime {
  readonly conformance: Conformance;
  readonly logger: Logger;
  ingest(): IngestHttpDeps & { publicBaseUrl?: string };
  serve(): ServeDeps & { publicBaseUrl?: string };
  derive(): DeriveDeps;
  screen(): ScreenDeps;
  predict(): PredictDeps;
  /** The "study data changed" consumers, in the order the local run calls them (in AWS each has its own queue). */
  consumers(): readonly ((event: StudyDataChanged) => Promise<void>)[];
}

/**
 * Builds the functions' ports over a set of adapters.
 * @param adapters - Store, identity, events and configuration.
 * @returns The runtime.
 */
export function createRuntime(adapters: Adapters): Runtime {
  const { config, store, identity, events, alerts } = adapters;
  const logger = adapters.logger ?? new Logger({ serviceName: 'belimumab-sle' });
  const dir = config.FHIR_PROFILES_DIR;
  const baseConformance = loadConformance({ base: config.CANONICAL_BASE, ...(dir ? { dir } : {}) });
  const models = loadModels(dir ? `${dir}/models` : undefined);
  // The prediction models are served as FHIR Libraries beside the other conformance resources.
  const conformance = withResources(baseConformance, models.map((m) => toLibrary(m, baseConformance.base)));
  const codes = new StudyCodes(conformance);
  const rules = annotationRules(conformance);
  const aliases = unitAliases(conformance);
  const now = (): Date => new Date();
  const publicBaseUrl = config.PUBLIC_BASE_URL ? { publicBaseUrl: config.PUBLIC_BASE_URL } : {};
  let derivationRules: ReturnType<typeof loadDerivationRules> | undefined;
  const derive = (): DeriveDeps => {
    derivationRules ??= loadDerivationRules(dir ? `${dir}/derivation` : undefined);
    return { store, events, conformance, annotation: rules, rules: derivationRules, logger, now };
  };
  let criteria: EligibilityCriteria | undefined;
  const screen = (): ScreenDeps => {
    criteria ??= loadEligibilityCriteria(dir ? `${dir}/eligibility` : undefined);
    return { store, conformance, criteria, alerts, logger, now };
  };
  let model: PredictionModel | undefined | null = null;
  const predict = (): PredictDeps => {
    if (model === null) model = activeModel(models);
    return { store, conformance, model, logger, now };
  };
  return {
    conformance,
    logger,
    derive,
    screen,
    predict,
    consumers: () => [
      async (event) => {
        const summary = await recomputeSubject(event.patient, derive());
        logger.debug('Subject recomputed', { ...summary });
      },
      async (event) => {
        const overall = await rescreenPatient(event.patient, screen());
        logger.debug('Patient screened', { overall });
      },
      async (event) => {
        const status = await repredictSubject(event.patient, predict());
        logger.debug('Subject predicted', { status });
      },
    ],
    ingest: () => ({
      conformance,
      codes,
      rules,
      unitAliases: aliases,
      store,
      identity,
      events,
      logger,
      validateBase: (resource) => validateBase(resource, { vitalSignsProfile: 'warning' }),
      maxEntries: config.MAX_ENTRIES,
      maxBodyBytes: config.MAX_BODY_BYTES,
      maxDepth: config.MAX_DEPTH,
      defaultSourceSystem: config.SOURCE_SYSTEM,
      now,
      ...publicBaseUrl,
    }),
    serve: () => ({ conformance, store, logger, now, ...publicBaseUrl }),
  };
}

/**
 * The conformance resources plus some the layer builds itself (the model Libraries), for serving.
 * @param conformance - The loaded conformance resources.
 * @param extra - Resources to add.
 * @returns A Conformance whose `resources`, `get` and `byUrl` see the extra ones too.
 */
function withResources(conformance: Conformance, extra: readonly (Resource & { id: string; url?: string })[]): Conformance {
  const resources = [...conformance.resources, ...extra];
  return Object.assign(Object.create(conformance) as Conformance, {
    resources,
    get: <T extends Resource>(type: T['resourceType'], id: string): T | undefined =>
      (extra.find((r) => r.resourceType === type && r.id === id) as T | undefined) ?? conformance.get<T>(type, id),
    byUrl: <T extends Resource>(url: string): T | undefined =>
      (extra.find((r) => r.url === url) as T | undefined) ?? conformance.byUrl<T>(url),
  });
}
