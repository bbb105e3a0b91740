import type { Adapters } from '../commons/runtime.js';
import { notifyDeps } from '../notify/root.js';
import type { RestHook } from '../notify/rest-hook.js';
import type { SubscriptionLedger } from './ledger/port.js';
import type { SubscriptionsDeps } from './subscription-request.js';

/**
 * The subscriptions function's composition root: the notifier's ports (the handshake is a delivery)
 * and the endpoint policy (plain http to loopback only where SUBSCRIPTION_ALLOW_LOOPBACK_HTTP says so:
 * the local run).
 * @param adapters - Config, store, logger, the ledger, and optionally another sender (tests).
 * @returns The function's ports.
 */
export function subscriptionsDeps(adapters: Pick<Adapters, 'config' | 'store' | 'logger' | 'audit'> & { readonly ledger: SubscriptionLedger; readonly post?: RestHook }): SubscriptionsDeps {
  return { ...notifyDeps(adapters), allowLoopbackHttp: adapters.config.SUBSCRIPTION_ALLOW_LOOPBACK_HTTP === 'true' };
}
