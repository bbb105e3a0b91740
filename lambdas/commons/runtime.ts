import { Logger } from '@aws-lambda-powertools/logger';
import { recomputeSubject, type DeriveDeps } from '../derive/recompute.js';
import type { IngestHttpDeps } from '../ingest/ingest-request.js';
import { repredictSubject, type PredictDeps } from '../predict/recompute.js';
import { rescreenPatient, type ScreenDeps } from '../screen/rescreen.js';
import type { ServeDeps } from '../serve/serve-request.js';
import type { AlertsPort } from './alerts/port.js';
import type { Config } from './config.js';
import type { Conformance } from './conformance/index.js';
import type { EventsPort } from './events/port.js';
import { once } from './once.js';
import { deriveDeps } from '../derive/root.js';
import { ingestDeps } from '../ingest/root.js';
import { predictDeps } from '../predict/root.js';
import { screenDeps } from '../screen/root.js';
import { serveDeps } from '../serve/root.js';
import type { IdentityStore, StudyDataChanged, StudyStore } from './store/port.js';

/*
 * Each Lambda is its own composition root (lambdas/<function>/root.ts), so that its bundle
 * carries only what it runs. This module composes all of them over one set of adapters for the
 * processes that run every function at once: the local server, the scripts, the integration tests and
 * the bench. No Lambda handler imports it.
 */

/** The adapters a runtime plugs into the cores: DynamoDB and EventBridge in AWS, dynalite and in-process consumers locally. */
export interface Adapters {
  readonly config: Config;
  readonly store: StudyStore;
  readonly identity: IdentityStore;
  readonly events: EventsPort;
  readonly alerts: AlertsPort;
  readonly logger: Logger;
}

/** Ports of every function, built from one set of adapters and the study's conformance resources. */
export interface Runtime {
  /** The conformance resources as served (the prediction models as Libraries included). */
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
 * Composes every function's root over one set of adapters; each root is built once, on first use.
 * @param adapters - Store, identity, events and configuration (a default logger when none is given).
 * @returns The runtime.
 */
export function createRuntime(adapters: Omit<Adapters, 'logger'> & { readonly logger?: Logger }): Runtime {
  const logger = adapters.logger ?? new Logger({ serviceName: 'belimumab-sle' });
  const all: Adapters = { ...adapters, logger };
  const serve = once(() => serveDeps(all));
  const derive = once(() => deriveDeps(all));
  const screen = once(() => screenDeps(all));
  const predict = once(() => predictDeps(all));
  return {
    get conformance() {
      return serve().conformance;
    },
    logger,
    ingest: once(() => ingestDeps(all)),
    serve,
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
  };
}
