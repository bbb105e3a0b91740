import { z } from 'zod';

/** Default canonical base of the study's conformance resources. */
export const DEFAULT_CANONICAL_BASE = 'https://belimumab-sle.example.org/fhir';

const schema = z.object({
  CANONICAL_BASE: z.url().default(DEFAULT_CANONICAL_BASE),
  /** Public base URL of the API (links in search bundles); derived from the request when unset. */
  PUBLIC_BASE_URL: z.url().optional(),
  STUDY_TABLE: z.string().min(1).default('study'),
  IDENTITY_TABLE: z.string().min(1).default('identity'),
  /** Bulk Data jobs (export, import). */
  JOBS_TABLE: z.string().min(1).default('jobs'),
  /** AWS: the bucket export files are written to (presigned downloads); locally DATA_DIR/exports. */
  EXPORT_BUCKET: z.string().min(1).optional(),
  /** AWS: the queue that starts (and resumes) the export worker. */
  EXPORT_QUEUE_URL: z.url().optional(),
  /** AWS: the hospital's import bucket `POST /fhir/$import` reads NDJSON from (objects under imports/ only). */
  IMPORT_BUCKET: z.string().min(1).optional(),
  /** AWS: the queue that starts (and resumes) the import worker. */
  IMPORT_QUEUE_URL: z.url().optional(),
  /** Local run: the folder `POST /fhir/$import` may read NDJSON files from (file: URLs inside it only); unset, import is off. */
  IMPORT_DIR: z.string().min(1).optional(),
  /** Subscriptions: event numbers, notification records and delivery state (lambdas/subscriptions/ledger/). */
  SUBSCRIPTION_TABLE: z.string().min(1).default('subscriptions'),
  /** Subscriptions: also accept `http://127.0.0.1` / `http://localhost` endpoints (the local run only; https otherwise). */
  SUBSCRIPTION_ALLOW_LOOPBACK_HTTP: z.enum(['true', 'false']).default('false'),
  /** Subscriptions: the first retry delay after a failed delivery, doubled per failure (capped at an hour). */
  SUBSCRIPTION_RETRY_BASE_MS: z.coerce.number().int().positive().default(30_000),
  /** The study web app, for links in recruitment alerts (`{APP_BASE_URL}/#/worklist/{pseudonym}`); default the local app. */
  APP_BASE_URL: z.url().optional(),
  /** Local runs and tests point the SDK at dynalite. */
  DYNAMODB_ENDPOINT: z.url().optional(),
  AWS_REGION: z.string().default('eu-west-1'),
  /** The sending system's URI when a bundle has no `meta.source`: part of every pseudonym key and source identifier. */
  SOURCE_SYSTEM: z.string().min(1).default('urn:belimumab-sle:source:hospital-ehr'),
  MAX_ENTRIES: z.coerce.number().int().positive().default(1000),
  /** Lambda's synchronous payload limit is 6 MB. */
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(6 * 1024 * 1024),
  MAX_DEPTH: z.coerce.number().int().positive().default(64),
  EVENT_BUS_NAME: z.string().optional(),
  /** Where a bundled Lambda ships fhir-profiles/ (next to the source tree by default). */
  FHIR_PROFILES_DIR: z.string().optional(),
  ALERT_TOPIC_ARN: z.string().optional(),
  /** Local run: also POST each recruitment alert's JSON here. */
  ALERT_WEBHOOK_URL: z.url().optional(),
  /**
   * What the webhook receives: `alert-json` (the alert as SNS has it, the default) or `fhir-subscription`
   * (the webhook becomes a backport Subscription on the recruitment topic: notification Bundles).
   */
  ALERT_WEBHOOK_FORMAT: z.enum(['alert-json', 'fhir-subscription']).default('alert-json'),
  /** AWS: the Secrets Manager secret (own KMS key, ingest only) holding the key of the source-identifier hashes. */
  SOURCE_KEY_SECRET_ARN: z.string().min(1).optional(),
  /** Local run: the file holding that key (DATA_DIR/source-key, created on first use with mode 0600). */
  SOURCE_KEY_FILE: z.string().min(1).optional(),
  /** SMART discovery (serve, /.well-known/smart-configuration): the `iss` the API's JWT authorizer accepts... */
  JWT_ISSUER: z.url().optional(),
  /** ...and that identity provider's token endpoint; without both, discovery answers 404. */
  SMART_TOKEN_ENDPOINT: z.url().optional(),
  /** Its authorization endpoint, when it has one for interactive apps (then PKCE S256 is announced). */
  SMART_AUTHORIZATION_ENDPOINT: z.url().optional(),
});

/** The layer's configuration, read from the environment once per cold start. */
export type Config = Readonly<z.infer<typeof schema>>;

/**
 * Parses configuration from an environment, naming every bad key at once.
 * @param env - The environment (default `process.env`).
 * @returns A frozen configuration.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return Object.freeze(result.data);
}
