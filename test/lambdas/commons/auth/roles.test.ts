/**
 * The app's roles as data (fhir-profiles/access/roles.json) and what the authorization server grants
 * each: SMART App Launch 2 "Scopes for requesting FHIR resources" (user/ scopes, v2 letters), where the
 * granted scopes may be fewer than those requested.
 */
import { describe, expect, it } from 'vitest';
import rolesDocument from '../../../../fhir-profiles/access/roles.json' with { type: 'json' };
import { appRoles, grantFor, isRoleId, roleScopes, RolesDocumentSchema } from '../../../../lambdas/commons/auth/roles.js';
import { can, NAMED_SCOPE_ONLY_TYPES } from '../../../../lambdas/commons/auth/scopes.js';
import { CONFORMANCE_TYPES, STORE_TYPES } from '../../../../lambdas/serve/core/capability-statement.js';

describe('fhir-profiles/access/roles.json', () => {
  it('names each role once, with user/ scopes on types the layer serves and a reason for each', () => {
    const doc = appRoles();
    expect(doc.client.id).toBe('study-app');
    expect(doc.roles.map((r) => r.id).sort()).toEqual(['investigator', 'recruitment', 'statistician']);
    const served = new Set<string>([...STORE_TYPES, ...CONFORMANCE_TYPES]);
    for (const role of doc.roles) {
      for (const { scope } of role.scopes) {
        const type = /^user\/([A-Za-z]+)\./.exec(scope)?.[1];
        if (type !== undefined) expect(served.has(type), `${role.id}: ${scope}`).toBe(true);
      }
    }
  });

  it('gives no role the audit trail, and the identity reveal to recruitment alone', () => {
    for (const role of appRoles().roles) {
      for (const type of NAMED_SCOPE_ONLY_TYPES) expect(can(roleScopes(role.id), type, 'r'), role.id).toBe(false);
      expect(roleScopes(role.id).includes('recruitment/identity.read')).toBe(role.id === 'recruitment');
    }
  });

  it('gives write access only to what $settle needs: Task update and Observation create, investigator only', () => {
    for (const role of appRoles().roles) {
      const writes = roleScopes(role.id).filter((s) => /\.[a-z]*[cud][a-z]*$/.test(s) && s.startsWith('user/'));
      expect(writes.sort(), role.id).toEqual(role.id === 'investigator' ? ['user/Observation.crs', 'user/Task.rus'] : []);
    }
  });

  it('keeps the statistician to aggregates: no Patient, no evidence records', () => {
    for (const type of ['Patient', 'Condition', 'MedicationRequest', 'Task', 'Provenance', 'Communication']) {
      expect(can(roleScopes('statistician'), type, 'r'), type).toBe(false);
    }
  });

  it('refuses a document with a wildcard, a system/ scope, a restricted scope, two scopes on one type or a missing role', () => {
    const withScopes = (scopes: string[]): unknown => ({
      ...rolesDocument,
      roles: rolesDocument.roles.map((r) => (r.id === 'statistician' ? { ...r, scopes: scopes.map((scope) => ({ scope, why: 'x' })) } : r)),
    });
    for (const scopes of [['user/*.rs'], ['system/Observation.rs'], ['user/Observation.rs?code=x'], ['user/Observation.rs', 'user/Observation.c'], ['patient/Observation.rs']]) {
      expect(RolesDocumentSchema.safeParse(withScopes(scopes)).success, scopes.join(' ')).toBe(false);
    }
    expect(RolesDocumentSchema.safeParse({ ...rolesDocument, roles: rolesDocument.roles.slice(1) }).success).toBe(false);
    expect(RolesDocumentSchema.safeParse(rolesDocument).success).toBe(true);
  });
});

describe('Function: grantFor', () => {
  it('narrows a wildcard request to the role', () => {
    expect(grantFor('statistician', 'user/*.cruds')).toEqual(roleScopes('statistician'));
    expect(grantFor('investigator', 'user/*.*')).toEqual(roleScopes('investigator'));
  });

  it('intersects the interactions asked for with the role', () => {
    expect(grantFor('investigator', 'user/*.rs')).toContain('user/Task.rs');
    expect(grantFor('investigator', 'user/*.rs')).toContain('user/Observation.rs');
    expect(grantFor('investigator', 'user/Task.u user/Patient.cruds')).toEqual(['user/Patient.rs', 'user/Task.u']);
    expect(grantFor('investigator', 'user/Observation.read')).toEqual(['user/Observation.rs']);
  });

  it('grants a named scope only to the role that holds it', () => {
    expect(grantFor('recruitment', 'recruitment/identity.read')).toEqual(['recruitment/identity.read']);
    expect(grantFor('investigator', 'recruitment/identity.read')).toEqual([]);
  });

  it('drops system/, patient/, restricted and unknown scopes', () => {
    expect(grantFor('investigator', 'system/*.cruds patient/*.rs user/Observation.rs?code=x openid fhirUser launch/patient')).toEqual([]);
    expect(grantFor('recruitment', 'user/AuditEvent.rs user/Library.rs')).toEqual([]);
  });

  it('knows the three roles and nothing else', () => {
    expect(['recruitment', 'investigator', 'statistician'].every(isRoleId)).toBe(true);
    expect(isRoleId('admin')).toBe(false);
    expect(isRoleId('constructor')).toBe(false);
  });
});
