/**
 * The study app's roles and the SMART `user/` scopes each is granted, as data
 * (`fhir-profiles/access/roles.json`, checked here by zod at load).
 *
 * The resource server does not read this file to decide a request: it honours whatever `user/`
 * scopes a verified token carries (./scopes.ts). The file bounds what the authorization server
 * grants: the local one (local/auth/) issues a role exactly `grantFor(role, requested)`, and the
 * AWS identity provider's groups are configured from the same lists. SMART discovery lists the
 * scopes from here too (lambdas/serve/core/smart-configuration.ts).
 */
import { z } from 'zod';
import rolesDocument from '../../../fhir-profiles/access/roles.json' with { type: 'json' };
import { parseScope, splitScopes, type Interaction } from './scopes.js';

/** A role's id, as the local sign-in takes it (`?role=`) and tokens carry it (`role` claim). */
export const ROLE_IDS = ['recruitment', 'investigator', 'statistician'] as const;

/** One of the app's roles. */
export type RoleId = (typeof ROLE_IDS)[number];

const ScopeGrantSchema = z
  .object({
    scope: z.string().refine((raw) => {
      const parsed = parseScope(raw);
      // A role's resource scope names one type, unrestricted, in the user/ context; named scopes
      // (`recruitment/identity.read`) are kept as written.
      return parsed.kind === 'other' ? /^[a-z]+\/[a-z.]+$/.test(raw) : parsed.context === 'user' && parsed.resourceType !== '*' && parsed.restriction === undefined;
    }, 'a user/<Type>.<cruds> scope naming one type, or a named scope'),
    why: z.string().min(1),
  })
  .strict();

const RoleSchema = z
  .object({
    id: z.enum(ROLE_IDS),
    title: z.string().min(1),
    job: z.string().min(1),
    scopes: z
      .array(ScopeGrantSchema)
      .min(1)
      // One scope per type, so a role's grant on a type is read in one place.
      .refine((scopes) => {
        const types = scopes.map((s) => parseScope(s.scope)).flatMap((p) => (p.kind === 'resource' ? [p.resourceType] : []));
        return new Set(types).size === types.length;
      }, 'one scope per resource type'),
  })
  .strict();

/** The schema of `fhir-profiles/access/roles.json`. */
export const RolesDocumentSchema = z
  .object({
    id: z.string().min(1),
    version: z.string().min(1),
    title: z.string().min(1),
    why: z.string().min(1),
    client: z.object({ id: z.string().min(1), why: z.string().min(1) }).strict(),
    roles: z
      .array(RoleSchema)
      .refine((roles) => ROLE_IDS.every((id) => roles.filter((r) => r.id === id).length === 1), 'each role exactly once'),
  })
  .strict();

/** The roles document, as checked. */
export type RolesDocument = z.infer<typeof RolesDocumentSchema>;

/** One role, as checked. */
export type Role = RolesDocument['roles'][number];

let cached: RolesDocument | undefined;

/**
 * The roles document, parsed and checked once per process.
 * @returns The roles, the app's client id.
 * @throws Error naming what is wrong when the file does not fit the schema.
 */
export function appRoles(): RolesDocument {
  if (cached === undefined) {
    const parsed = RolesDocumentSchema.safeParse(rolesDocument);
    if (!parsed.success) {
      throw new Error(`fhir-profiles/access/roles.json: ${z.prettifyError(parsed.error)}`);
    }
    cached = parsed.data;
  }
  return cached;
}

/**
 * Whether a string names one of the app's roles.
 * @param value - Anything, such as a query parameter.
 * @returns `true` for `recruitment`, `investigator` or `statistician`.
 */
export function isRoleId(value: unknown): value is RoleId {
  return typeof value === 'string' && (ROLE_IDS as readonly string[]).includes(value);
}

/**
 * The scopes a role holds, as written in the roles document.
 * @param role - The role.
 * @returns Its scope tokens.
 */
export function roleScopes(role: RoleId): string[] {
  return appRoles().roles.find((r) => r.id === role)!.scopes.map((s) => s.scope);
}

const CRUDS: readonly Interaction[] = ['c', 'r', 'u', 'd', 's'];

/**
 * What the authorization server grants a role for a requested `scope` (SMART App Launch 2: the
 * granted scopes may be fewer than requested): each requested `user/` resource scope is narrowed to
 * the role's scopes on the same type (a wildcard type reaches each of the role's types), interaction
 * letters intersected; a named scope is granted when the role holds it exactly. `system/` and
 * `patient/` scopes, restricted scopes and anything unknown (`openid`, `launch/patient`) are dropped:
 * the app is a public client acting for a person, and the layer has no launch context.
 * @param role - The signed-in role.
 * @param requested - The `scope` parameter of the authorization request.
 * @returns The granted scope tokens (each in cruds order), possibly none.
 * @example
 * grantFor('statistician', 'user/*.cruds'); // ['user/ResearchSubject.rs', 'user/Observation.rs', 'user/Group.rs', 'user/Library.rs']
 */
export function grantFor(role: RoleId, requested: string): string[] {
  const held = roleScopes(role);
  const letters = new Map<string, Set<Interaction>>();
  const named = new Set<string>();
  for (const raw of splitScopes(requested)) {
    const asked = parseScope(raw);
    if (asked.kind === 'other') {
      if (held.includes(raw)) named.add(raw);
      continue;
    }
    if (asked.context !== 'user' || asked.restriction !== undefined) continue;
    for (const heldRaw of held) {
      const mine = parseScope(heldRaw);
      if (mine.kind !== 'resource' || (asked.resourceType !== '*' && asked.resourceType !== mine.resourceType)) continue;
      const both = [...mine.interactions].filter((i) => asked.interactions.has(i));
      if (both.length === 0) continue;
      const set = letters.get(mine.resourceType) ?? new Set<Interaction>();
      for (const i of both) set.add(i);
      letters.set(mine.resourceType, set);
    }
  }
  // In the order the roles document lists them, so a grant reads like the role's entry.
  const out: string[] = [];
  for (const heldRaw of held) {
    const mine = parseScope(heldRaw);
    if (mine.kind === 'other') {
      if (named.has(heldRaw)) out.push(heldRaw);
      continue;
    }
    const set = letters.get(mine.resourceType);
    if (set !== undefined && !out.some((s) => s.startsWith(`user/${mine.resourceType}.`))) {
      out.push(`user/${mine.resourceType}.${CRUDS.filter((i) => set.has(i)).join('')}`);
    }
  }
  return out;
}

/**
 * Every scope some role may be granted, for SMART discovery's `scopes_supported`.
 * @returns Distinct scope tokens.
 */
export function allRoleScopes(): string[] {
  return [...new Set(appRoles().roles.flatMap((r) => r.scopes.map((s) => s.scope)))];
}
