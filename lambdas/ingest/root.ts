import type { IngestHttpDeps } from './ingest-request.js';
import { StudyCodes } from './core/codes.js';
import { validateBase } from '../commons/fhir/validate-base.js';
import { loadDeidentificationPolicy, policyFileIn } from '../commons/privacy/deidentify.js';
import type { Adapters } from '../commons/runtime.js';
import { annotationRules, studyConformance, unitAliases } from '../commons/study-context.js';

/**
 * The ingest's composition root: the study's conformance, codes and annotation rules over the store,
 * identity table and events it commits to. Nothing of derive, screen or predict.
 * @param adapters - The adapters the ingest uses.
 * @returns The ingest's ports (the source key is added by whoever holds it).
 */
export function ingestDeps(adapters: Pick<Adapters, 'config' | 'store' | 'identity' | 'events' | 'logger'>): IngestHttpDeps & { publicBaseUrl?: string } {
  const { config, store, identity, events, logger } = adapters;
  const conformance = studyConformance(config);
  return {
    conformance,
    codes: new StudyCodes(conformance),
    rules: annotationRules(conformance),
    unitAliases: unitAliases(conformance),
    store,
    identity,
    events,
    logger,
    validateBase: (resource) => validateBase(resource, { vitalSignsProfile: 'warning' }),
    // From FHIR_PROFILES_DIR: the module-relative default does not exist beside a bundle in /var/task.
    deidentification: loadDeidentificationPolicy(policyFileIn(config.FHIR_PROFILES_DIR)),
    maxEntries: config.MAX_ENTRIES,
    maxBodyBytes: config.MAX_BODY_BYTES,
    maxDepth: config.MAX_DEPTH,
    defaultSourceSystem: config.SOURCE_SYSTEM,
    now: () => new Date(),
    ...(config.PUBLIC_BASE_URL ? { publicBaseUrl: config.PUBLIC_BASE_URL } : {}),
  };
}
