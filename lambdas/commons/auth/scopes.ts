/**
 * SMART on FHIR scopes, as this service reads them.
 *
 * Grammar (SMART App Launch 2.x, "Scopes for requesting FHIR resources"):
 * `<patient|user|system>/<ResourceType|*>.<c?r?u?d?s?>[?param=value&...]`, with the v1 forms
 * `.read`, `.write` and `.*` still accepted.
 * @see https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
 *
 * Two kinds of client call this service, and their scopes grant the same things:
 * - backends (client credentials, SMART Backend Services) with `system/` scopes;
 * - the study's web app (SMART App Launch, standalone launch, authorization code with PKCE) acting
 *   for a person, with `user/` scopes. A `user/` scope grants here what the same `system/` scope would,
 *   because the bound that SMART puts on it, "what this user may do", is applied where the token is
 *   issued: the authorization server grants each role only the scopes `fhir-profiles/access/roles.json`
 *   lists for it (locally `local/auth/`; in AWS the identity provider's groups carry the same lists),
 *   and narrows a wildcard request (`user/*.cruds`) to them. So a `user/` token never carries more
 *   than its role's job needs, and this module need not know the roles.
 *
 * Two checks stay here as defence in depth, for a token from a misconfigured identity provider:
 * a `user/` scope grants only on a type it names (`user/*.rs` grants nothing: no role is granted a
 * wildcard), and never on the types in `BACKEND_ONLY_TYPES`. `Bundle` is one: the EHR feed
 * (`POST /fhir`, `POST /fhir/Bundle`) asks for create on `Bundle` before it reads a body, so no `user/`
 * token reaches it, whatever else it may create (the investigator's `user/Observation.c` is for
 * `Task/{id}/$settle`).
 *
 * `patient/` scopes grant nothing: they only make sense with a patient launch context, which the layer
 * has not, and reading them as `user/` would widen a grant the authorization server meant to be narrow
 * to one patient. Query-restricted scopes grant nothing either (see `ResourceScope.restriction`).
 */

/** One FHIR interaction letter of a SMART v2 scope: create, read, update, delete, search. */
export type Interaction = 'c' | 'r' | 'u' | 'd' | 's';

/** The context a SMART resource scope is granted in. */
export type ScopeContext = 'patient' | 'user' | 'system';

/** A scope in SMART's resource grammar, v1 forms already mapped to v2 letters. */
export interface ResourceScope {
  readonly kind: 'resource';
  /** The scope as granted. */
  readonly raw: string;
  readonly context: ScopeContext;
  /** A FHIR resource type, or `*` for all of them. */
  readonly resourceType: string;
  readonly interactions: ReadonlySet<Interaction>;
  /**
   * Search-parameter restriction (`?category=laboratory`), if any. `can` never treats a restricted
   * scope as a grant: honouring it needs the restriction applied to every read and search, which
   * no handler here does yet, and ignoring it would hand out more than was granted.
   */
  readonly restriction?: URLSearchParams;
}

/** Any scope outside the resource grammar: named scopes (`openid`, `recruitment/identity.read`) and malformed ones. */
export interface OtherScope {
  readonly kind: 'other';
  readonly raw: string;
}

/** A parsed scope. */
export type ParsedScope = ResourceScope | OtherScope;

/**
 * Grants the identity-resolution route (pseudonym to hospital key), which only the recruitment
 * role may call.
 *
 * Not a SMART resource scope on purpose: it must not be implied by `system/*.cruds` or by any
 * `system/Patient.*` grant, since study clients read pseudonymous Patients and must never reach
 * the identity link. The `<resource-server>/<name>` shape is what Cognito resource-server scopes
 * look like, so the same string works there unchanged.
 */
export const IDENTITY_RESOLVE_SCOPE = 'recruitment/identity.read';

/**
 * Resource types a wildcard (`system/*.rs`, `system/*.read`) does not reach: only a scope naming the
 * type grants them. AuditEvents record who resolved which pseudonym to a hospital identity; a study
 * client reading them would learn which subjects the recruitment team looked at, and when.
 */
export const NAMED_SCOPE_ONLY_TYPES: ReadonlySet<string> = new Set(['AuditEvent']);

/** All five interactions, in the order SMART v2 requires them to be written. */
const V2_ORDER = 'cruds';

/** SMART v1 suffixes and the v2 interactions they stand for (SMART 2.x, "Scopes for requesting FHIR resources"). */
const V1_SUFFIXES: ReadonlyMap<string, string> = new Map([
  ['read', 'rs'],
  ['write', 'cud'],
  ['*', 'cruds'],
]);

const RESOURCE_SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)(?:\?(.*))?$/;

/**
 * Parses one scope. Anything that does not fit the resource grammar exactly, including v2 letters
 * out of order (`.sr`) or repeated, comes back as `kind: 'other'` and so grants no resource access.
 * @param raw - One scope token.
 * @returns The parsed scope.
 */
export function parseScope(raw: string): ParsedScope {
  const match = RESOURCE_SCOPE.exec(raw);
  if (!match) {
    return { kind: 'other', raw };
  }
  const [, context, resourceType, suffix, query] = match;
  if (!isContext(context) || resourceType === undefined || suffix === undefined) {
    return { kind: 'other', raw };
  }
  const letters = V1_SUFFIXES.get(suffix) ?? suffix;
  if (!isOrderedSubsequence(letters)) {
    return { kind: 'other', raw };
  }
  const interactions = new Set(letters.split('') as Interaction[]);
  if (query === undefined) {
    return { kind: 'resource', raw, context, resourceType, interactions };
  }
  const restriction = new URLSearchParams(query);
  if (restriction.size === 0) {
    return { kind: 'other', raw };
  }
  return { kind: 'resource', raw, context, resourceType, interactions, restriction };
}

/**
 * Splits an OAuth `scope` value (space-separated, RFC 6749 section 3.3) into distinct tokens.
 * @param scope - The claim or parameter value.
 * @returns The scope tokens in first-seen order, without duplicates.
 */
export function splitScopes(scope: string): string[] {
  return [...new Set(scope.split(/\s+/).filter((s) => s.length > 0))];
}

/**
 * Types no `user/` scope reaches, named or not: `Bundle` is what the EHR feed's routes ask a create
 * scope on (lambdas/ingest/ingest-request.ts), and the feed belongs to backend services.
 */
export const BACKEND_ONLY_TYPES: ReadonlySet<string> = new Set(['Bundle']);

/**
 * Whether the scopes grant an interaction on a resource type without restriction.
 * Only unrestricted `system/` and `user/` scopes count; see the module comment and `ResourceScope.restriction`.
 * A wildcard type does not reach the types in `NAMED_SCOPE_ONLY_TYPES`; a `user/` scope must name the
 * type, and never reaches `BACKEND_ONLY_TYPES`.
 * @param scopes - Scope tokens as granted.
 * @param resourceType - The FHIR resource type acted on (for example `Observation`).
 * @param interaction - The interaction letter.
 * @returns `true` if some scope allows it.
 * @example
 * can(['system/Observation.rs'], 'Observation', 's'); // true
 * can(['system/*.read'], 'Patient', 'c'); // false
 * can(['user/Task.rsu'], 'Task', 'u'); // true
 * can(['patient/*.rs'], 'Patient', 'r'); // false
 */
export function can(scopes: readonly string[], resourceType: string, interaction: Interaction): boolean {
  return scopes.some((raw) => {
    const scope = parseScope(raw);
    if (scope.kind !== 'resource' || scope.restriction !== undefined || !scope.interactions.has(interaction)) {
      return false;
    }
    if (scope.context === 'user') {
      return scope.resourceType === resourceType && !BACKEND_ONLY_TYPES.has(resourceType);
    }
    return scope.context === 'system' && (scope.resourceType === resourceType || (scope.resourceType === '*' && !NAMED_SCOPE_ONLY_TYPES.has(resourceType)));
  });
}

/**
 * Whether a named (non-resource) scope such as `IDENTITY_RESOLVE_SCOPE` was granted. Exact match:
 * no wildcard reaches a named scope.
 * @param scopes - Scope tokens as granted.
 * @param scope - The scope required.
 * @returns `true` if granted.
 */
export function hasScope(scopes: readonly string[], scope: string): boolean {
  return scopes.includes(scope);
}

function isContext(value: string | undefined): value is ScopeContext {
  return value === 'patient' || value === 'user' || value === 'system';
}

/** True when `letters` is non-empty and each letter of `cruds` appears at most once, in that order. */
function isOrderedSubsequence(letters: string): boolean {
  if (letters.length === 0) {
    return false;
  }
  let from = 0;
  for (const letter of letters) {
    const at = V2_ORDER.indexOf(letter, from);
    if (at < 0) {
      return false;
    }
    from = at + 1;
  }
  return true;
}
