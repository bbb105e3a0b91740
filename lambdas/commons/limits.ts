import { z } from 'zod';

/**
 * The bounds that keep every request's cost proportional to its size (issue 14): how much work a
 * body may ask for, how much a read may answer, and how close to its deadline a request may commit.
 * Each is an environment variable with a documented default; the defaults fit the study's data
 * (the largest Synthea subject bundle has fewer than 40 codings in one resource) with a wide margin.
 */
const schema = z.object({
  /** Validation stops after this many issues and says that it stopped (the first ones are what a sender fixes). */
  MAX_ISSUES: z.coerce.number().int().positive().default(100),
  /** Items of one repeating element of one resource (`Observation.component`, `Patient.name`...); `Bundle.entry` has MAX_ENTRIES. */
  MAX_ARRAY_ITEMS: z.coerce.number().int().positive().default(1000),
  /** Codings in one resource, nested ones included: each coding of an indexed element is an index item. */
  MAX_CODINGS_PER_RESOURCE: z.coerce.number().int().positive().default(200),
  /** Identifiers in one resource (each is an index item). */
  MAX_IDENTIFIERS_PER_RESOURCE: z.coerce.number().int().positive().default(50),
  /** Components of one Observation (each carries its own codings). */
  MAX_COMPONENTS_PER_RESOURCE: z.coerce.number().int().positive().default(100),
  /** Codings plus identifiers over a whole request: bounds the index items one commit may write. */
  MAX_INDEX_FANOUT_PER_REQUEST: z.coerce.number().int().positive().default(20_000),
  /**
   * The request body as API Gateway delivers it inside the Lambda event (JSON-escaped text or
   * base64), in bytes. Lambda refuses invocations above 6 MB (6,291,456 bytes) with no FHIR answer;
   * 5.5 MB leaves room for headers and the rest of the event, so a too-large body gets the layer's 413.
   */
  MAX_EVENT_BODY_BYTES: z.coerce.number().int().positive().default(5_500_000),
  /** Characters of the query string; longer ones are refused (414) before any parsing. */
  MAX_QUERY_CHARS: z.coerce.number().int().positive().default(4096),
  /** Largest `_count` a search accepts. */
  MAX_SEARCH_COUNT: z.coerce.number().int().positive().default(1000),
  /**
   * Bytes of JSON a response may carry: a search page is cut (with a `next` link) before it passes
   * this. Lambda's response limit is 6 MB (6,291,456 bytes) for the whole serialized result.
   */
  MAX_RESPONSE_BYTES: z.coerce.number().int().positive().default(4_500_000),
  /** Kept free before the Lambda's own timeout: the 503 must be written before the runtime is killed. */
  DEADLINE_MARGIN_MS: z.coerce.number().int().nonnegative().default(1000),
  /** Time a commit needs: a request with less than this left answers 503 instead of starting to commit. */
  COMMIT_RESERVE_MS: z.coerce.number().int().nonnegative().default(3000),
  /** `Retry-After` of a 503. */
  RETRY_AFTER_SECONDS: z.coerce.number().int().positive().default(5),
});

/** The layer's cost limits. */
export type Limits = Readonly<z.infer<typeof schema>>;

/** Every limit at its default (tests and documentation). */
export const DEFAULT_LIMITS: Limits = Object.freeze(schema.parse({}));

/**
 * Parses the limits from an environment, naming every bad key at once.
 * @param env - The environment (default `process.env`).
 * @returns Frozen limits.
 */
export function loadLimits(env: Record<string, string | undefined> = process.env): Limits {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid limits: ${problems}`);
  }
  return Object.freeze(result.data);
}

let cached: Limits | undefined;

/**
 * The limits of this process, read from `process.env` on first use (once per cold start).
 * @returns The limits.
 */
export function limits(): Limits {
  cached ??= loadLimits();
  return cached;
}
