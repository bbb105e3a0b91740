import { IDENTITY_RESOLVE_SCOPE } from '../../commons/auth/index.js';
import { allRoleScopes } from '../../commons/auth/roles.js';
import type { Config } from '../../commons/config.js';
import { MAPPED_TYPES } from '../../commons/study-types.js';
import { CONFORMANCE_TYPES, STORE_TYPES } from './capability-statement.js';

/** Where the layer's tokens come from: the identity provider the API's JWT authorizer trusts. */
export interface SmartSettings {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly authorizationEndpoint?: string;
}

/**
 * The SMART settings of a configuration, when it names an issuer and a token endpoint.
 * @param config - The configuration (JWT_ISSUER, SMART_TOKEN_ENDPOINT, SMART_AUTHORIZATION_ENDPOINT).
 * @returns `{ smart }` to spread into the serve ports, or nothing.
 */
export function smartSettings(config: Pick<Config, 'JWT_ISSUER' | 'SMART_TOKEN_ENDPOINT' | 'SMART_AUTHORIZATION_ENDPOINT'>): { smart?: SmartSettings } {
  if (!config.JWT_ISSUER || !config.SMART_TOKEN_ENDPOINT) return {};
  return {
    smart: {
      issuer: config.JWT_ISSUER,
      tokenEndpoint: config.SMART_TOKEN_ENDPOINT,
      ...(config.SMART_AUTHORIZATION_ENDPOINT ? { authorizationEndpoint: config.SMART_AUTHORIZATION_ENDPOINT } : {}),
    },
  };
}

/**
 * The scopes each route takes: `system/` scopes for backends, and the `user/` (and named) scopes the
 * study app's roles are granted (fhir-profiles/access/roles.json; see lambdas/commons/auth/scopes.ts).
 */
export function supportedScopes(): string[] {
  const system = [
    // serve: read and search, every type or one.
    'system/*.rs',
    ...[...STORE_TYPES, ...CONFORMANCE_TYPES].map((t) => `system/${t}.rs`),
    // ingest: create (and update) of each mapped type.
    'system/*.cud',
    ...MAPPED_TYPES.map((t) => `system/${t}.cu`),
    // review: POST Task/{id}/$settle updates the Task and creates the decision Observation.
    'system/Task.u',
    'system/Observation.c',
    // identity: GET Patient/{pseudonym}/$hospital-identity.
    IDENTITY_RESOLVE_SCOPE,
  ];
  // The app's roles: what a person may be granted, each role bounded by the authorization server.
  return [...new Set([...system, ...allRoleScopes()])];
}

/**
 * SMART App Launch 2.x discovery (`.well-known/smart-configuration`). Capabilities are only what
 * holds: backend services with asymmetric client authentication and SMART v1 and v2 scope syntax;
 * and, when the identity provider has an authorization endpoint, the study app's standalone launch
 * (authorization code with PKCE S256, public client, `user/` scopes). No `launch-ehr` and no
 * `context-*`: the layer has no launch context, so a patient-scoped or EHR-launched app would be
 * refused anyway. Locally the authorization server is local/auth/ (its endpoints under `/auth/`);
 * in AWS the configured OIDC issuer's (lambdas/commons/config.ts).
 * @param settings - The identity provider.
 * @returns The discovery document.
 */
export function smartConfiguration(settings: SmartSettings): Record<string, unknown> {
  const interactive = settings.authorizationEndpoint !== undefined;
  return {
    issuer: settings.issuer,
    token_endpoint: settings.tokenEndpoint,
    token_endpoint_auth_methods_supported: interactive ? ['private_key_jwt', 'none'] : ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    grant_types_supported: interactive ? ['client_credentials', 'authorization_code'] : ['client_credentials'],
    ...(interactive
      ? { authorization_endpoint: settings.authorizationEndpoint, response_types_supported: ['code'], code_challenge_methods_supported: ['S256'] }
      : {}),
    scopes_supported: supportedScopes(),
    capabilities: [
      'client-confidential-asymmetric',
      'permission-v1',
      'permission-v2',
      // The study app: a browser app signing a person in, granted its role's user/ scopes.
      ...(interactive ? ['launch-standalone', 'client-public', 'permission-user'] : []),
    ],
  };
}
