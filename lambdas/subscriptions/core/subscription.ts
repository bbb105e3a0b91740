import type { Extension, Subscription } from '@medplum/fhirtypes';
import { FilterError, parseFilter, type FilterCriterion } from './filters.js';
import type { Topic } from './topics.js';

/** The Subscriptions R5 Backport IG (STU 1.1) canonical base. */
export const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport';
/** The backport Subscription profile a created Subscription conforms to. */
export const BACKPORT_SUBSCRIPTION = `${BACKPORT}/StructureDefinition/backport-subscription`;
export const FILTER_CRITERIA = `${BACKPORT}/StructureDefinition/backport-filter-criteria`;
export const PAYLOAD_CONTENT = `${BACKPORT}/StructureDefinition/backport-payload-content`;
export const HEARTBEAT_PERIOD = `${BACKPORT}/StructureDefinition/backport-heartbeat-period`;
export const TIMEOUT = `${BACKPORT}/StructureDefinition/backport-timeout`;
export const MAX_COUNT = `${BACKPORT}/StructureDefinition/backport-max-count`;

/** How much of the focus a notification carries (Backport IG `backport-content-value-set`). */
export type PayloadContent = 'empty' | 'id-only' | 'full-resource';

/** A Subscription as the notifier uses it. */
export interface SubscriptionSpec {
  readonly id: string;
  readonly status: Subscription['status'];
  readonly topic: string;
  readonly filters: readonly FilterCriterion[];
  readonly endpoint: string;
  readonly headers: readonly string[];
  readonly content: PayloadContent;
  /** Seconds; absent: no heartbeats. */
  readonly heartbeatPeriod?: number;
  /** Seconds a delivery attempt may take. */
  readonly timeout: number;
  readonly maxCount?: number;
}

/** Where notifications may go. */
export interface EndpointPolicy {
  /** `http://127.0.0.1` / `http://localhost` too (the local run only); otherwise https alone. */
  readonly allowLoopbackHttp: boolean;
}

/** Limits on what a subscriber may ask for. */
export const LIMITS = {
  /** A delivery attempt longer than this ties up the notifier; the IG's default is the server's choice. */
  maxTimeoutSeconds: 30,
  defaultTimeoutSeconds: 10,
  /** Heartbeats faster than the AWS schedule (1 minute) cannot be kept; locally the timer is finer. */
  minHeartbeatSeconds: 1,
  maxHeartbeatSeconds: 86_400,
  maxHeaders: 5,
  maxHeaderChars: 1024,
  maxFilters: 10,
} as const;

/** What is wrong with a Subscription a client sent (answered 400 with an OperationOutcome naming it). */
export class SubscriptionInvalidError extends Error {
  public override readonly name = 'SubscriptionInvalidError';
  constructor(
    message: string,
    /** FHIRPath of the element at fault. */
    public readonly expression: string,
  ) {
    super(message);
  }
}

const ext = (list: readonly Extension[] | undefined, url: string): Extension[] => (list ?? []).filter((e) => e.url === url);

/** The extensions of a primitive element (`_criteria`, `_payload` in FHIR JSON), which the types leave out. */
const primitiveExtensions = (owner: object, element: string): Extension[] | undefined => (owner as Record<string, { extension?: Extension[] } | undefined>)[`_${element}`]?.extension;

/**
 * Checks a Subscription against the backport profile and what this server offers: `criteria` the
 * canonical of one of its topics, `backport-filter-criteria` the topic's filters, a `rest-hook`
 * channel to an https endpoint (plain http to loopback only in the local run), payload
 * `application/fhir+json` with `backport-payload-content`, and heartbeat, timeout and max-count
 * within limits.
 * @param subscription - The parsed Subscription (base R4 validation already passed).
 * @param topics - The server's topics.
 * @param policy - Endpoint policy.
 * @returns The topic and the spec (id and status to be set by the caller).
 * @throws SubscriptionInvalidError naming the element at fault.
 */
export function checkSubscription(subscription: Subscription, topics: readonly Topic[], policy: EndpointPolicy): { topic: Topic; spec: Omit<SubscriptionSpec, 'id' | 'status'> } {
  const fail = (message: string, expression: string): never => {
    throw new SubscriptionInvalidError(message, expression);
  };
  const topic = topics.find((t) => t.url === subscription.criteria) ?? fail(`criteria must be the canonical URL of a topic of this server: ${topics.map((t) => t.url).join(', ')}`, 'Subscription.criteria');
  const filterTexts = ext(primitiveExtensions(subscription, 'criteria'), FILTER_CRITERIA).map((e) => e.valueString ?? fail('backport-filter-criteria needs a valueString', 'Subscription.criteria.extension'));
  if (filterTexts.length > LIMITS.maxFilters) fail(`At most ${LIMITS.maxFilters} filters`, 'Subscription.criteria.extension');
  let filters: FilterCriterion[];
  try {
    filters = filterTexts.flatMap((text) => parseFilter(text, topic));
  } catch (err) {
    if (err instanceof FilterError) fail(err.message, 'Subscription.criteria.extension');
    throw err;
  }
  const channel = subscription.channel;
  if (channel?.type !== 'rest-hook') fail('Only the rest-hook channel is offered', 'Subscription.channel.type');
  const endpoint = channel.endpoint ?? fail('A rest-hook channel needs an endpoint', 'Subscription.channel.endpoint');
  if (!checkEndpoint(endpoint, policy)) fail('The endpoint must be an https URL (plain http to 127.0.0.1 or localhost in the local run only), without credentials', 'Subscription.channel.endpoint');
  if (channel.payload !== 'application/fhir+json') fail('payload must be application/fhir+json', 'Subscription.channel.payload');
  const contents = ext(primitiveExtensions(channel, 'payload'), PAYLOAD_CONTENT);
  if (contents.length !== 1) fail('The backport profile requires one backport-payload-content extension on channel.payload', 'Subscription.channel.payload.extension');
  const content = contents[0]?.valueCode;
  if (content !== 'empty' && content !== 'id-only' && content !== 'full-resource') fail('backport-payload-content is empty, id-only or full-resource', 'Subscription.channel.payload.extension');
  const heartbeat = ext(channel.extension, HEARTBEAT_PERIOD)[0]?.valueUnsignedInt;
  if (heartbeat !== undefined && (heartbeat < LIMITS.minHeartbeatSeconds || heartbeat > LIMITS.maxHeartbeatSeconds)) {
    fail(`backport-heartbeat-period must be ${LIMITS.minHeartbeatSeconds} to ${LIMITS.maxHeartbeatSeconds} seconds`, 'Subscription.channel.extension');
  }
  const timeout = ext(channel.extension, TIMEOUT)[0]?.valueUnsignedInt;
  if (timeout !== undefined && (timeout < 1 || timeout > LIMITS.maxTimeoutSeconds)) fail(`backport-timeout must be 1 to ${LIMITS.maxTimeoutSeconds} seconds`, 'Subscription.channel.extension');
  const maxCount = ext(channel.extension, MAX_COUNT)[0]?.valuePositiveInt;
  const headers = channel.header ?? [];
  if (headers.length > LIMITS.maxHeaders || headers.some((h) => h.length > LIMITS.maxHeaderChars || !/^[A-Za-z0-9-]+:\s?[^\r\n]*$/.test(h))) {
    fail(`At most ${LIMITS.maxHeaders} headers, each "Name: value" on one line`, 'Subscription.channel.header');
  }
  if (subscription.status !== 'requested' && subscription.status !== 'active') fail('A new Subscription is requested (or active)', 'Subscription.status');
  return {
    topic,
    spec: {
      topic: topic.url,
      filters,
      endpoint,
      headers,
      content: content as PayloadContent,
      ...(heartbeat !== undefined ? { heartbeatPeriod: heartbeat } : {}),
      timeout: timeout ?? LIMITS.defaultTimeoutSeconds,
      ...(maxCount !== undefined ? { maxCount } : {}),
    },
  };
}

/**
 * Whether notifications may be POSTed to an endpoint: https anywhere, http only to loopback when
 * allowed, never with user info in the URL (it would be stored and shown on read).
 * @param endpoint - The URL.
 * @param policy - Endpoint policy.
 * @returns True when allowed.
 */
export function checkEndpoint(endpoint: string, policy: EndpointPolicy): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return policy.allowLoopbackHttp && url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]');
}

/**
 * Reads a stored Subscription back into the spec the notifier uses (it passed {@link checkSubscription} when created).
 * @param subscription - The stored Subscription.
 * @param topics - The server's topics.
 * @returns The spec, or undefined when it no longer fits (a topic withdrawn): such a Subscription gets nothing.
 */
export function specOf(subscription: Subscription & { id: string }, topics: readonly Topic[]): SubscriptionSpec | undefined {
  try {
    const { spec } = checkSubscription({ ...subscription, status: 'requested' }, topics, { allowLoopbackHttp: true });
    return { ...spec, id: subscription.id, status: subscription.status };
  } catch {
    return undefined;
  }
}
