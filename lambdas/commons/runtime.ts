import { Logger } from '@aws-lambda-powertools/logger';
import { loadDerivationRules } from '../derive/core/rules.js';
import { recomputeSubject, type DeriveDeps } from '../derive/recompute.js';
import type { IngestHttpDeps } from '../ingest/ingest-request.js';
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
  const conformance = loadConformance({ base: config.CANONICAL_BASE, ...(dir ? { dir } : {}) });
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
  return {
    conformance,
    logger,
    derive,
    screen,
    consumers: () => [
      async (event) => {
        const summary = await recomputeSubject(event.patient, derive());
        logger.debug('Subject recomputed', { ...summary });
      },
      async (event) => {
        const overall = await rescreenPatient(event.patient, screen());
        logger.debug('Patient screened', { overall });
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
