import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { z } from 'zod';
import { DEFAULT_CANONICAL_BASE } from '../lambdas/commons/config.js';

/*
 * The deployment's configuration, read once at synth time from CDK context (`cdk.json` or `-c key=value`)
 * or, when a key has no context value, from the environment; then checked with zod so a bad value stops
 * the synth with every problem named. The defaults synthesise a `dev` stack offline; `prod` refuses the
 * placeholders (issuer, empty subscriptions).
 */

/** Placeholder issuer: fine for a synth or a sandbox, refused for `prod`. */
export const PLACEHOLDER_JWT_ISSUER = 'https://auth.example.org/';

/** Where each setting comes from: its context key, its environment variable and what it means. */
export const SETTINGS = {
  stage: { env: 'STAGE', meaning: 'deployment stage; names every resource `nct04893161-<stage>-...`' },
  // Not CDK_DEFAULT_*: the CLI fills those from whatever profile runs it, and where patient data lives
  // must not depend on that.
  account: { env: 'CDK_DEPLOY_ACCOUNT', meaning: 'AWS account (the placeholder is enough to synth; refused for prod)' },
  region: { env: 'CDK_DEPLOY_REGION', meaning: 'AWS region the data lives in (TableV2 with a customer-managed key needs an explicit one)' },
  canonicalBase: { env: 'CANONICAL_BASE', meaning: 'canonical base of the conformance resources (lambdas: CANONICAL_BASE)' },
  publicBaseUrl: { env: 'PUBLIC_BASE_URL', meaning: 'public FHIR base for links; unset = derived from the Host header' },
  jwtIssuer: { env: 'JWT_ISSUER', meaning: 'issuer (`iss`) the API JWT authorizer accepts; its OIDC discovery must be public' },
  jwtAudience: { env: 'JWT_AUDIENCE', meaning: 'accepted `aud` values, comma-separated' },
  smartTokenEndpoint: { env: 'SMART_TOKEN_ENDPOINT', meaning: "the identity provider's token endpoint, published at /.well-known/smart-configuration (unset = discovery answers 404)" },
  smartAuthorizationEndpoint: { env: 'SMART_AUTHORIZATION_ENDPOINT', meaning: "the identity provider's authorization endpoint, for apps that launch with PKCE (optional)" },
  alertEmails: { env: 'ALERT_EMAILS', meaning: 'email subscriptions of the recruitment alert topic, comma-separated' },
  opsEmails: { env: 'OPS_EMAILS', meaning: 'email subscriptions of the operations alarm topic, comma-separated' },
  logRetentionDays: { env: 'LOG_RETENTION_DAYS', meaning: 'retention of every log group (a CloudWatch Logs retention value)' },
  logLevel: { env: 'LOG_LEVEL', meaning: 'POWERTOOLS_LOG_LEVEL of every function' },
  reservedConcurrency: {
    env: 'RESERVED_CONCURRENCY',
    meaning: 'per-function reserved concurrency overrides, JSON (`{"ingest":5}`); 0 = unreserved',
  },
} as const;

/** A setting's key. */
export type SettingKey = keyof typeof SETTINGS;

const RETENTION_VALUES = new Set<number>(Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'));

/** A comma-separated string (environment, `-c`) or an array (cdk.json). */
const list = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s.length > 0) : v),
    z.array(item),
  );

/** A JSON string (environment, `-c`) or an object (cdk.json). */
const json = <T extends z.ZodType>(inner: T) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v; // left for zod to report as "expected object"
    }
  }, inner);

const schema = z
  .object({
    stage: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,15}$/, 'lower-case letters, digits and dashes, at most 16, starting with a letter')
      .default('dev'),
    account: z.string().regex(/^\d{12}$/, 'a 12-digit account id').default('123456789012'),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region such as eu-west-1').default('eu-west-1'),
    canonicalBase: z.url().default(DEFAULT_CANONICAL_BASE),
    publicBaseUrl: z.url().optional(),
    jwtIssuer: z.url({ protocol: /^https$/ }).default(PLACEHOLDER_JWT_ISSUER),
    jwtAudience: list(z.string().min(1)).default(['belimumab-sle-fhir']),
    smartTokenEndpoint: z.url({ protocol: /^https$/ }).optional(),
    smartAuthorizationEndpoint: z.url({ protocol: /^https$/ }).optional(),
    alertEmails: list(z.email()).default([]),
    opsEmails: list(z.email()).default([]),
    logRetentionDays: z.coerce
      .number()
      .int()
      .refine((d) => RETENTION_VALUES.has(d) && d !== Number(RetentionDays.INFINITE), 'a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)')
      .default(Number(RetentionDays.ONE_YEAR)),
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    reservedConcurrency: json(z.record(z.string(), z.number().int().min(0).max(1000))).default({}),
  })
  .superRefine((c, ctx) => {
    if (c.jwtAudience.length === 0) ctx.addIssue({ code: 'custom', path: ['jwtAudience'], message: 'at least one audience' });
    if (c.stage !== 'prod') return;
    // A production stack must not come up with placeholders nobody reads.
    if (c.jwtIssuer === PLACEHOLDER_JWT_ISSUER) ctx.addIssue({ code: 'custom', path: ['jwtIssuer'], message: 'prod needs the real issuer' });
    if (c.account === '123456789012') ctx.addIssue({ code: 'custom', path: ['account'], message: 'prod needs the real account' });
    if (c.alertEmails.length === 0) ctx.addIssue({ code: 'custom', path: ['alertEmails'], message: 'prod needs at least one recruitment alert subscription' });
    if (c.opsEmails.length === 0) ctx.addIssue({ code: 'custom', path: ['opsEmails'], message: 'prod needs at least one operations subscription' });
  });

/** The checked deployment configuration. */
export type InfraConfig = Readonly<z.infer<typeof schema>>;

/** A configuration value failed its check; the message names every bad key and where it was read from. */
export class InfraConfigError extends Error {
  public override readonly name = 'InfraConfigError';
}

/**
 * Reads and checks the deployment configuration. A context value wins over the environment variable.
 * @param context - Reads a context key (`app.node.tryGetContext`).
 * @param env - The environment (default `process.env`).
 * @returns The frozen configuration.
 * @example
 * const config = loadInfraConfig((k) => app.node.tryGetContext(k));
 */
export function loadInfraConfig(
  context: (key: string) => unknown,
  env: Record<string, string | undefined> = process.env,
): InfraConfig {
  const raw: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  for (const [key, { env: variable }] of Object.entries(SETTINGS)) {
    const fromContext = context(key);
    const fromEnv = env[variable];
    if (fromContext !== undefined && fromContext !== '') {
      raw[key] = fromContext;
      origin[key] = `context "${key}"`;
    } else if (fromEnv !== undefined && fromEnv !== '') {
      raw[key] = fromEnv;
      origin[key] = `environment ${variable}`;
    }
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      return `${i.path.join('.')} (${origin[key] ?? 'default'}): ${i.message}`;
    });
    throw new InfraConfigError(`Invalid deployment configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(result.data);
}

/**
 * The prefix of every resource name of a stage.
 * @param config - The configuration.
 * @returns `nct04893161-<stage>`.
 */
export function resourcePrefix(config: Pick<InfraConfig, 'stage'>): string {
  return `nct04893161-${config.stage}`;
}
