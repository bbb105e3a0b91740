import { Logger } from '@aws-lambda-powertools/logger';
import type { DeriveDeps } from '../derive/recompute.js';
import type { IngestHttpDeps } from '../ingest/ingest-request.js';
import type { PredictDeps } from '../predict/recompute.js';
import type { ScreenDeps } from '../screen/rescreen.js';
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
import { composeSubjectStep } from '../subject-step/root.js';
import { stepForEvents, type SubjectStepDeps } from '../subject-step/step.js';
import type { IdentityStore, StudyDataChanged, StudyStore } from './store/port.js';
import type { DeliveryDeps } from '../notify/deliver.js';
import { notifyEvent } from '../notify/notify-event.js';
import { notifyDeps } from '../notify/root.js';
import type { AuditPort } from './audit/port.js';
import type { SubscriptionLedger } from '../subscriptions/ledger/port.js';
import { subscriptionsDeps } from '../subscriptions/root.js';
import type { SubscriptionsDeps } from '../subscriptions/subscription-request.js';

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
  /** The subscriptions' ledger (its own table); without it there are no subscriptions and no notifier. */
  readonly ledger?: SubscriptionLedger;
  /**
   * Where work no API request carries (the notifier's POSTs) records its accesses: the local server's
   * in-process audit queue; absent, the access-record log line a Lambda's log group hands to the audit function.
   */
  readonly audit?: AuditPort;
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
  /** The subject step: derive, screen and predict over one load of the record, one commit (the three above its stages). */
  step(): SubjectStepDeps;
  /** The notifier (subscriptions): throws when the adapters have no ledger. */
  notify(): DeliveryDeps;
  /** The Subscriptions API: throws when the adapters have no ledger. */
  subscriptions(): SubscriptionsDeps;
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
  const step = once(() => composeSubjectStep(all, { derive: derive(), screen: screen(), predict: predict() }));
  const needLedger = (): SubscriptionLedger => {
    if (!all.ledger) throw new Error('Subscriptions need a ledger among the adapters');
    return all.ledger;
  };
  const notify = once(() => notifyDeps({ ...all, ledger: needLedger() }));
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
    step,
    notify,
    subscriptions: once(() => subscriptionsDeps({ ...all, ledger: needLedger() })),
    consumers: () => [
      // The subject step runs on source events only; its own `derived` event passes by it.
      async (event) => {
        const summary = await stepForEvents(event.patient, [event], step());
        if (summary) logger.debug('Subject step', { ...summary });
      },
      // Subscribers hear source and derived events alike (the ledger de-duplicates a focus version).
      ...(all.ledger
        ? [
            async (event: StudyDataChanged) => {
              const summary = await notifyEvent(event, notify());
              if (summary.recorded > 0) logger.debug('Subscribers notified', { ...summary });
            },
          ]
        : []),
    ],
  };
}
