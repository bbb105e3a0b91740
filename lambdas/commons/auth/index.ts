/**
 * Bearer-token authentication and SMART on FHIR scope checks.
 * @see ./scopes.ts for which scopes grant what, ./verify.ts for the token checks.
 */
export { can, hasScope, IDENTITY_RESOLVE_SCOPE, NAMED_SCOPE_ONLY_TYPES, parseScope, splitScopes } from './scopes.js';
export type { Interaction, OtherScope, ParsedScope, ResourceScope, ScopeContext } from './scopes.js';
export { ALLOWED_ALGORITHMS, MAX_CLOCK_SKEW_SEC, MAX_TOKEN_LIFETIME_SEC, principalFromClaims, requireNamedScope, requireScope, verifyBearer } from './verify.js';
export type { Principal, VerificationKeys, VerifyBearerOptions } from './verify.js';
