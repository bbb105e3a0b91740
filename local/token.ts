/**
 * Prints a bearer token for the local server, and nothing else on stdout, so that
 * `TOKEN=$(npm run --silent token -- "system/*.rs")` works.
 *
 * Usage: `npm run --silent token -- [SCOPES...] [--sub NAME] [--expires-in SECONDS]`
 * Scopes may be one quoted space-separated string or several arguments; default `system/*.cruds`.
 * Warnings (scopes that grant nothing here) go to stderr.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { IDENTITY_RESOLVE_SCOPE, parseScope, splitScopes } from '../lambdas/commons/auth/scopes.js';
import { defaultLocalScopes, defaultLocalTokenLifetimeSec, resolveDataDir, signLocalToken } from './keys.js';

const USAGE = 'usage: npm run --silent token -- [SCOPES...] [--sub NAME] [--expires-in SECONDS]';

const ArgsSchema = z.object({
  sub: z.string().min(1).optional(),
  'expires-in': z.coerce.number().int().positive().default(defaultLocalTokenLifetimeSec),
});

/** Why a requested scope would grant nothing on this server, or `undefined` if it grants something. */
function uselessBecause(scope: string): string | undefined {
  const parsed = parseScope(scope);
  if (parsed.kind === 'other') {
    return scope === IDENTITY_RESOLVE_SCOPE ? undefined : 'not a SMART resource scope this server knows';
  }
  if (parsed.context === 'patient') {
    return 'patient/ scopes grant nothing here (no patient launch context); use system/ or user/';
  }
  if (parsed.context === 'user' && parsed.resourceType === '*') {
    return 'a user/ wildcard grants nothing here; name the type (user/Observation.rs)';
  }
  if (parsed.restriction !== undefined) {
    return 'query-restricted scopes are not honoured yet';
  }
  return undefined;
}

try {
  const { values, positionals } = parseArgs({
    options: { sub: { type: 'string' }, 'expires-in': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help === true) {
    console.error(USAGE);
    process.exit(0);
  }
  const args = ArgsSchema.parse(values);
  const requested = splitScopes(positionals.join(' '));
  const scopes = requested.length > 0 ? requested : splitScopes(defaultLocalScopes);
  for (const scope of scopes) {
    const reason = uselessBecause(scope);
    if (reason !== undefined) {
      console.warn(`warning: ${scope}: ${reason}`);
    }
  }
  const token = await signLocalToken(resolveDataDir(), scopes.join(' '), {
    subject: args.sub,
    expiresInSec: args['expires-in'],
  });
  process.stdout.write(`${token}\n`);
} catch (err) {
  const message = err instanceof z.ZodError ? z.prettifyError(err) : err instanceof Error ? err.message : String(err);
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}
