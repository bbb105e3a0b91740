import type { Bundle } from '@medplum/fhirtypes';

/** The outcome of one POST of a notification. */
export type PostOutcome =
  | { readonly ok: true; readonly status: number }
  /** `status`: the receiver's answer when there was one; `noAnswer`: why there was none (for the audit trail). */
  | { readonly ok: false; readonly error: string; readonly status?: number; readonly noAnswer?: 'timeout' | 'network' };

/** Sends one notification Bundle to a rest-hook endpoint. */
export type RestHook = (endpoint: string, headers: readonly string[], bundle: Bundle, timeoutSeconds: number) => Promise<PostOutcome>;

/**
 * POSTs a notification Bundle as `application/fhir+json` (Backport IG, rest-hook channel), with the
 * subscriber's own headers, giving up after the subscription's timeout. A 2xx is delivered; anything
 * else, a timeout or a network error is a failure to retry. The failure says only the status code or
 * the error class: never the receiver's answer, which the layer does not control.
 * @param endpoint - The channel endpoint.
 * @param headers - `Name: value` headers of the channel.
 * @param bundle - The notification.
 * @param timeoutSeconds - backport-timeout.
 * @returns The outcome.
 */
export const postNotification: RestHook = async (endpoint, headers, bundle, timeoutSeconds) => {
  const extra: Record<string, string> = {};
  for (const header of headers) {
    const at = header.indexOf(':');
    if (at > 0) extra[header.slice(0, at).trim()] = header.slice(at + 1).trim();
  }
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { ...extra, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      body: JSON.stringify(bundle),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutSeconds * 1000),
    });
    // The body is the receiver's; read and drop it so the connection is reused.
    await res.arrayBuffer().catch(() => undefined);
    return res.status >= 200 && res.status < 300 ? { ok: true, status: res.status } : { ok: false, error: `HTTP ${res.status}`, status: res.status };
  } catch (err) {
    const name = (err as Error)?.name ?? 'Error';
    return { ok: false, error: name, noAnswer: name === 'TimeoutError' ? 'timeout' : 'network' };
  }
};
