import { Logger } from '@aws-lambda-powertools/logger';
import type { IngestHttpDeps } from '../ingest/ingest-request.js';
import { StudyCodes } from '../ingest/core/codes.js';
import type { ServeDeps } from '../serve/serve-request.js';
import type { Config } from './config.js';
import { loadConformance, type Conformance } from './conformance/index.js';
import type { EventsPort } from './events/port.js';
import { validateBase } from './fhir/validate-base.js';
import type { IdentityStore, StudyStore } from './store/port.js';
import { annotationRules, unitAliases } from './study-context.js';

/** The adapters a runtime plugs into the cores: DynamoDB and EventBridge in AWS, dynalite and in-process consumers locally. */
export interface Adapters {
  readonly config: Config;
  readonly store: StudyStore;
  readonly identity: IdentityStore;
  readonly events: EventsPort;
  readonly logger?: Logger;
}

/** Ports of each function, built from one set of adapters and the study's conformance resources. */
export interface Runtime {
  readonly conformance: Conformance;
  readonly logger: Logger;
  ingest(): IngestHttpDeps & { publicBaseUrl?: string };
  serve(): ServeDeps & { publicBaseUrl?: string };
}

/**
 * Builds the functions' ports over a set of adapters.
 * @param adapters - Store, identity, events and configuration.
 * @returns The runtime.
 */
export function createRuntime(adapters: Adapters): Runtime {
  const { config, store, identity, events } = adapters;
  const logger = adapters.logger ?? new Logger({ serviceName: 'belimumab-sle' });
  const conformance = loadConformance({ base: config.CANONICAL_BASE });
  const codes = new StudyCodes(conformance);
  const rules = annotationRules(conformance);
  const aliases = unitAliases(conformance);
  const now = (): Date => new Date();
  const publicBaseUrl = config.PUBLIC_BASE_URL ? { publicBaseUrl: config.PUBLIC_BASE_URL } : {};
  return {
    conformance,
    logger,
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
