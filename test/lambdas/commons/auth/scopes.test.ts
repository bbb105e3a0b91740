import { describe, expect, it } from 'vitest';
import { can, hasScope, IDENTITY_RESOLVE_SCOPE, parseScope, splitScopes } from '../../../../lambdas/commons/auth/scopes.js';
import type { Interaction } from '../../../../lambdas/commons/auth/scopes.js';

const ALL: Interaction[] = ['c', 'r', 'u', 'd', 's'];

/** The interactions `scope` grants on `resourceType`, as a string in cruds order. */
function granted(scope: string, resourceType: string): string {
  return ALL.filter((i) => can([scope], resourceType, i)).join('');
}

describe('Function: parseScope', () => {
  it('parses a v2 resource scope', () => {
    const scope = parseScope('system/Observation.rs');
    expect(scope).toMatchObject({ kind: 'resource', context: 'system', resourceType: 'Observation' });
    expect(scope.kind === 'resource' && [...scope.interactions]).toEqual(['r', 's']);
  });

  it.each([
    ['system/*.read', 'rs'],
    ['system/*.write', 'cud'],
    ['system/*.*', 'cruds'],
  ])('maps the v1 form %s to %s', (raw, letters) => {
    const scope = parseScope(raw);
    expect(scope.kind === 'resource' && [...scope.interactions].join('')).toBe(letters);
  });

  it('keeps a query restriction', () => {
    const scope = parseScope('system/Observation.rs?category=laboratory&code=http://loinc.org|718-7');
    expect(scope.kind === 'resource' && scope.restriction?.get('category')).toBe('laboratory');
    expect(scope.kind === 'resource' && scope.restriction?.get('code')).toBe('http://loinc.org|718-7');
  });

  it.each([
    'system/Observation.sr', // out of cruds order
    'system/Observation.rrs', // repeated
    'system/Observation.', // no interactions
    'system/Observation.x',
    'system/Observation.constructor', // not a v1 suffix, whatever the prototype says
    'system/observation.rs', // resource types start upper-case
    'system/Observation.rs?', // empty restriction
    'admin/Observation.rs',
    'system/.rs',
    'openid',
    IDENTITY_RESOLVE_SCOPE,
    '',
  ])('treats %j as a non-resource scope', (raw) => {
    expect(parseScope(raw)).toEqual({ kind: 'other', raw });
  });
});

describe('Function: splitScopes', () => {
  it('splits on any whitespace, drops empties and duplicates', () => {
    expect(splitScopes('  system/*.rs\tsystem/*.rs\n openid ')).toEqual(['system/*.rs', 'openid']);
  });

  it('returns nothing for an empty string', () => {
    expect(splitScopes('')).toEqual([]);
  });
});

describe('Function: can', () => {
  it.each([
    // scope, resource type, interactions granted
    ['system/*.cruds', 'Observation', 'cruds'],
    ['system/*.cruds', 'Patient', 'cruds'],
    ['system/*.rs', 'Patient', 'rs'],
    ['system/*.cud', 'Patient', 'cud'],
    ['system/Observation.rs', 'Observation', 'rs'],
    ['system/Observation.rs', 'Patient', ''],
    ['system/Observation.c', 'Observation', 'c'],
    ['system/Observation.d', 'Observation', 'd'],
    ['system/Observation.cruds', 'ObservationDefinition', ''],
    ['system/*.read', 'Condition', 'rs'],
    ['system/*.write', 'Condition', 'cud'],
    ['system/Condition.*', 'Condition', 'cruds'],
    ['system/Observation.rs?category=laboratory', 'Observation', ''],
    ['system/Observation.sr', 'Observation', ''],
    ['patient/*.cruds', 'Observation', ''],
    ['patient/Observation.rs', 'Observation', ''],
    // user/ scopes grant what system/ ones do on the type they name: the authorization server bounds
    // them per role (roles.json), and no role is granted a wildcard.
    ['user/*.cruds', 'Observation', ''],
    ['user/*.read', 'Observation', ''],
    ['user/Observation.read', 'Observation', 'rs'],
    ['user/Task.rus', 'Task', 'rus'],
    ['user/Bundle.c', 'Bundle', ''],
    ['user/Task.rus', 'Observation', ''],
    ['user/Observation.rs?code=http://loinc.org|718-7', 'Observation', ''],
    [IDENTITY_RESOLVE_SCOPE, 'Patient', ''],
    ['openid', 'Patient', ''],
  ])('%s grants %s: %j', (scope, resourceType, letters) => {
    expect(granted(scope, resourceType)).toBe(letters);
  });

  it('unions the grants of several scopes', () => {
    const scopes = ['system/Observation.rs', 'system/Observation.cu', 'patient/*.d'];
    expect(ALL.filter((i) => can(scopes, 'Observation', i)).join('')).toBe('crus');
  });

  it('grants nothing with no scopes', () => {
    expect(can([], 'Observation', 'r')).toBe(false);
  });
});

describe('user/ scopes and the EHR feed (issue 16)', () => {
  it('never reach Bundle create, the gate of POST /fhir and POST /fhir/Bundle, even with every other create', () => {
    expect(can(['user/Bundle.cruds', 'user/Observation.c', 'user/Patient.c'], 'Bundle', 'c')).toBe(false);
    expect(can(['system/Bundle.c'], 'Bundle', 'c')).toBe(true);
  });
});

describe('Function: hasScope', () => {
  it('matches the identity scope exactly', () => {
    expect(hasScope([IDENTITY_RESOLVE_SCOPE], IDENTITY_RESOLVE_SCOPE)).toBe(true);
  });

  it('is not implied by any resource wildcard', () => {
    expect(hasScope(['system/*.cruds', 'system/Patient.cruds', 'system/*.*'], IDENTITY_RESOLVE_SCOPE)).toBe(false);
  });
});

describe('AuditEvents (issue 14: any system/*.rs client could read them)', () => {
  it('are not reached by a wildcard, in any form', () => {
    for (const scope of ['system/*.rs', 'system/*.read', 'system/*.cruds', 'system/*.*']) {
      expect(can([scope], 'AuditEvent', 'r'), scope).toBe(false);
      expect(can([scope], 'AuditEvent', 's'), scope).toBe(false);
    }
  });

  it('are not reached by a user/ wildcard either (SMART v2 user scopes, issue 16)', () => {
    for (const scope of ['user/*.rs', 'user/*.read', 'user/*.cruds', 'user/*.*']) {
      expect(can([scope], 'AuditEvent', 'r'), scope).toBe(false);
    }
    expect(can(['user/AuditEvent.rs'], 'AuditEvent', 'r')).toBe(true);
  });

  it('are read with a scope that names them, and the wildcard still reaches the study types', () => {
    expect(can(['system/AuditEvent.rs'], 'AuditEvent', 's')).toBe(true);
    expect(can(['system/AuditEvent.rs'], 'Observation', 's')).toBe(false);
    expect(can(['system/*.rs'], 'Observation', 's')).toBe(true);
  });
});
