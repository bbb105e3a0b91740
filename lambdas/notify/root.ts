import { randomUUID } from 'node:crypto';
import { LogAudit } from '../commons/audit/log-audit.js';
import type { AuditPort } from '../commons/audit/port.js';
import type { Adapters } from '../commons/runtime.js';
import { loadTopics } from '../subscriptions/core/topics.js';
import type { SubscriptionLedger } from '../subscriptions/ledger/port.js';
import type { DeliveryDeps } from './deliver.js';
import { postNotification, type RestHook } from './rest-hook.js';

/**
 * The notify function's composition root: the study's topics over the store, the subscriptions'
 * ledger, the rest-hook sender, and the audit port of each POST (the local server hands its in-process
 * queue through the runtime's adapters; a Lambda writes the access-record log line).
 * @param adapters - Config, store, logger, the ledger, and optionally another sender or audit port (tests).
 * @returns The notifier's ports.
 */
export function notifyDeps(adapters: Pick<Adapters, 'config' | 'store' | 'logger'> & { readonly ledger: SubscriptionLedger; readonly post?: RestHook; readonly audit?: AuditPort }): DeliveryDeps {
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
    audit: adapters.audit ?? new LogAudit(),
  };
}
