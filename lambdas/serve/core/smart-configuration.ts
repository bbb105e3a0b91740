import { IDENTITY_RESOLVE_SCOPE } from '../../commons/auth/index.js';
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

/** The scopes each route takes (the layer honours `system/` scopes only: see lambdas/commons/auth/scopes.ts). */
export function supportedScopes(): string[] {
  return [
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
}

/**
 * SMART App Launch 2.x discovery (`.well-known/smart-configuration`). Capabilities are only what
 * holds: backend services with asymmetric client authentication (system scopes are all the layer
 * honours), SMART v1 and v2 scope syntax. No `launch-*`, `client-public` or `context-*`: the layer has
 * no patient or user scopes and no launch context, so an interactive app would be refused anyway.
 * @param settings - The identity provider.
 * @returns The discovery document.
 */
export function smartConfiguration(settings: SmartSettings): Record<string, unknown> {
  return {
    issuer: settings.issuer,
    token_endpoint: settings.tokenEndpoint,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    grant_types_supported: ['client_credentials'],
    ...(settings.authorizationEndpoint
      ? { authorization_endpoint: settings.authorizationEndpoint, code_challenge_methods_supported: ['S256'] }
      : {}),
    scopes_supported: supportedScopes(),
    capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
  };
}
