import { randomUUID } from 'node:crypto';
import type { Adapters } from '../commons/runtime.js';
import { loadTopics } from '../subscriptions/core/topics.js';
import type { SubscriptionLedger } from '../subscriptions/ledger/port.js';
import type { DeliveryDeps } from './deliver.js';
import { postNotification, type RestHook } from './rest-hook.js';

/**
 * The notify function's composition root: the study's topics over the store, the subscriptions'
 * ledger and the rest-hook sender.
 * @param adapters - Config, store, logger, the ledger, and optionally another sender (tests).
 * @returns The notifier's ports.
 */
export function notifyDeps(adapters: Pick<Adapters, 'config' | 'store' | 'logger'> & { readonly ledger: SubscriptionLedger; readonly post?: RestHook }): DeliveryDeps {
  const { config, store, logger, ledger } = adapters;
  return {
    store,
    ledger,
    topics: loadTopics(config.CANONICAL_BASE, config.FHIR_PROFILES_DIR),
    post: adapters.post ?? postNotification,
    logger,
    now: () => new Date(),
    retryBaseMs: config.SUBSCRIPTION_RETRY_BASE_MS,
    holder: randomUUID(),
  };
}
