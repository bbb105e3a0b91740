import type { Resource } from '@medplum/fhirtypes';
// The model documents' schema and their Library form: data shared with predict, not its computation.
import { loadModels, toLibrary } from '../predict/core/model-spec.js';
import { smartSettings } from './core/smart-configuration.js';
import type { ServeDeps } from './serve-request.js';
import type { Conformance } from '../commons/conformance/index.js';
import type { Adapters } from '../commons/runtime.js';
import { studyConformance, studyDataDir } from '../commons/study-context.js';

/**
 * The study's conformance resources as the API serves them: those in fhir-profiles/ plus the
 * prediction models as FHIR Libraries.
 * @param config - The function's configuration.
 * @returns The conformance, its `resources`, `get` and `byUrl` seeing the Libraries too.
 */
export function servedConformance(config: Adapters['config']): Conformance {
  const conformance = studyConformance(config);
  const models = loadModels(studyDataDir(config, 'models'));
  return withResources(conformance, models.map((m) => toLibrary(m, conformance.base)));
}

/**
 * The serve function's composition root: the served conformance and the SMART settings over the
 * study store, read-only.
 * @param adapters - The adapters serve uses.
 * @returns The serve ports.
 */
export function serveDeps(adapters: Pick<Adapters, 'config' | 'store' | 'logger'>): ServeDeps & { publicBaseUrl?: string } {
  const { config, store, logger } = adapters;
  return {
    conformance: servedConformance(config),
    store,
    logger,
    now: () => new Date(),
    ...smartSettings(config),
    ...(config.PUBLIC_BASE_URL ? { publicBaseUrl: config.PUBLIC_BASE_URL } : {}),
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
