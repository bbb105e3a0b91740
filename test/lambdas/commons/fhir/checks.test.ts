import type { Bundle, Observation, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveInBundle, indexBundle, restfulUrlPattern } from '../../../../lambdas/commons/fhir/bundle-references.js';
import { checkBundle } from '../../../../lambdas/commons/fhir/check-bundle.js';
import { checkContainedReferenced } from '../../../../lambdas/commons/fhir/check-contained.js';
import { checkNotEmpty } from '../../../../lambdas/commons/fhir/check-empty.js';
import { checkIntegerRange } from '../../../../lambdas/commons/fhir/check-integer.js';
import { findXhtmlProblem } from '../../../../lambdas/commons/fhir/check-narrative.js';
import { checkPeriod, compareDateTimes } from '../../../../lambdas/commons/fhir/check-period.js';
import { checkResourceId } from '../../../../lambdas/commons/fhir/check-resource-id.js';
import { checkVitalSignCode } from '../../../../lambdas/commons/fhir/check-vital-signs.js';
import { definitionLoadStats, ensureDefinitions, resourceTypeNames } from '../../../../lambdas/commons/fhir/definitions.js';
import { isBlocking } from '../../../../lambdas/commons/fhir/issues.js';
import { validateBase } from '../../../../lambdas/commons/fhir/validate-base.js';

const texts = (issues: OperationOutcomeIssue[]): string[] => issues.map((i) => i.details?.text ?? '');
const XHTML = 'xmlns="http://www.w3.org/1999/xhtml"';

let types: ReadonlySet<string>;
beforeAll(() => {
  ensureDefinitions(['Patient']);
  types = resourceTypeNames();
});

describe('Function: ensureDefinitions', () => {
  it('indexes resource types lazily and knows all 147 R4 resource types', () => {
    const before = definitionLoadStats();
    ensureDefinitions(['Encounter', 'NotAType']);
    const after = definitionLoadStats();
    expect(after.fullFallback).toBe(false);
    expect(after.resourceTypesLoaded).toBeGreaterThanOrEqual(before.resourceTypesLoaded);
    expect(types.size).toBe(147);
    expect(types.has('MetadataResource')).toBe(false);
    expect(types.has('Patient')).toBe(true);
    expect(types.has('DomainResource')).toBe(false);
  });

  it('reports an unknown resource type as an error', () => {
    expect(validateBase({ resourceType: 'NotAType' } as unknown as Resource).some(isBlocking)).toBe(true);
  });
});

describe('Function: checkResourceId', () => {
  it.each(['a', 'A-b.9', 'x'.repeat(64)])('accepts %s', (id) => {
    expect(checkResourceId({ resourceType: 'Patient', id }, 'Patient')).toEqual([]);
  });
  it.each(['bad_id', 'bad id', '/x==', 'x'.repeat(65)])('rejects %s', (id) => {
    const [issue] = checkResourceId({ resourceType: 'Patient', id }, 'Patient');
    expect(issue).toMatchObject({ severity: 'error', code: 'value', expression: ['Patient.id'] });
  });
  it('applies to contained resources through validateBase', () => {
    const issues = validateBase({
      resourceType: 'Patient',
      managingOrganization: { reference: '#o_1' },
      contained: [{ resourceType: 'Organization', id: 'o_1', name: 'x' }],
    });
    expect(issues.filter(isBlocking).map((i) => i.expression?.[0])).toEqual(['Patient.contained[0].id']);
  });
});

describe('Function: checkNotEmpty', () => {
  it('rejects empty arrays, objects and strings', () => {
    expect(checkNotEmpty([], 'X.a')[0]?.code).toBe('structure');
    expect(checkNotEmpty({}, 'X.a')[0]?.code).toBe('structure');
    expect(checkNotEmpty('', 'X.a')[0]?.code).toBe('value');
    expect(checkNotEmpty([1], 'X.a')).toEqual([]);
    expect(checkNotEmpty(0, 'X.a')).toEqual([]);
  });
  it('finds an empty array nested in a resource', () => {
    const issues = validateBase({ resourceType: 'Patient', name: [{ given: [], family: 'x' }] });
    expect(issues.filter(isBlocking).some((i) => i.expression?.[0] === 'Patient.name[0].given')).toBe(true);
  });
});

describe('Function: checkPeriod', () => {
  it('compares with FHIRPath precision rules', () => {
    expect(compareDateTimes('2023-06-20', '2023-06-21T06:20:00Z')).toBeLessThan(0);
    expect(compareDateTimes('2023-06-21', '2023-06-21T06:20:00Z')).toBeUndefined();
    expect(compareDateTimes('2023-06-21T10:00:00+02:00', '2023-06-21T09:00:00Z')).toBeLessThan(0);
    expect(compareDateTimes('2023', '2023')).toBe(0);
  });
  it.each([
    [{ start: '2020-01-02', end: '2020-01-01' }, 1],
    [{ start: '2023-06-21', end: '2023-06-21T06:20:00Z' }, 1],
    [{ start: '2020-01-01', end: '2020-01-01' }, 0],
    [{ start: '2020-01-01' }, 0],
  ])('checks per-1 on %j', (period, count) => {
    const issues = checkPeriod(period, 'Encounter.period');
    expect(issues).toHaveLength(count);
    issues.forEach((i) => expect(i.code).toBe('invariant'));
  });
  it('finds Periods inside choice types through validateBase', () => {
    const issues = validateBase({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      effectivePeriod: { start: '2021-02-01', end: '2021-01-01' },
    });
    expect(issues.filter(isBlocking).map((i) => i.expression?.[0])).toContain('Observation.effectivePeriod');
  });
});

describe('Function: checkIntegerRange', () => {
  it('rejects values outside 32 bits', () => {
    expect(checkIntegerRange(2147483647, 'X.i')).toEqual([]);
    expect(checkIntegerRange(2147483648, 'X.i')).toHaveLength(1);
    expect(checkIntegerRange(-2147483649, 'X.i')).toHaveLength(1);
  });
  it('applies to integer elements through validateBase', () => {
    const issues = validateBase({ resourceType: 'Patient', multipleBirthInteger: 3_000_000_000 });
    expect(issues.filter(isBlocking).map((i) => i.expression?.[0])).toEqual(['Patient.multipleBirthInteger']);
  });
});

describe('Function: findXhtmlProblem', () => {
  it('accepts ordinary narrative', () => {
    expect(findXhtmlProblem(`<div ${XHTML}><p>a &lt; b &#169; <b>c</b><br/></p><table><tr><td colspan="2">x</td></tr></table><!-- c --></div>`)).toBeUndefined();
  });
  it.each([
    ['a missing namespace', '<div><p>x</p></div>', /namespace/],
    ['a non-div root', `<p ${XHTML}>x</p>`, /root element must be a <div>/],
    ['an HTML entity', `<div ${XHTML}>&reg;</div>`, /Invalid entity/],
    ['a script', `<div ${XHTML}><script>alert(1)</script></div>`, /Illegal element/],
    ['an event handler', `<div ${XHTML}><p onclick="x()">x</p></div>`, /Illegal attribute/],
    ['a javascript: URL', `<div ${XHTML}><a href="javascript:x()">x</a></div>`, /Script URLs/],
    ['mismatched tags', `<div ${XHTML}><p><b>x</p></b></div>`, /mismatched end tag/],
    ['an unclosed element', `<div ${XHTML}><p>x</div>`, /mismatched end tag|unclosed/],
    ['a DOCTYPE', `<!DOCTYPE x><div ${XHTML}>x</div>`, /DOCTYPE/],
    ['an unquoted attribute', `<div ${XHTML}><p class=x>y</p></div>`, /without quotes/],
    ['text after the root', `<div ${XHTML}>x</div>y`, /outside the root/],
  ])('rejects %s', (_name, div, message) => {
    expect(findXhtmlProblem(div)).toMatch(message);
  });
});

describe('Function: checkContainedReferenced', () => {
  const container = (refs: Record<string, unknown>, contained: Record<string, unknown>[]): Resource =>
    ({ resourceType: 'Condition', ...refs, contained }) as unknown as Resource;
  it('accepts a contained resource referenced from the container or referring to it', () => {
    expect(checkContainedReferenced(container({ recorder: { reference: '#p' } }, [{ resourceType: 'Practitioner', id: 'p' }]), 'Condition')).toEqual([]);
    expect(
      checkContainedReferenced(container({}, [{ resourceType: 'Provenance', id: 'v', target: [{ reference: '#' }] }]), 'Condition')
    ).toEqual([]);
  });
  it('rejects an unreferenced contained resource (dom-3)', () => {
    const issues = checkContainedReferenced(container({}, [{ resourceType: 'Practitioner', id: 'p' }]), 'Condition');
    expect(issues).toMatchObject([{ code: 'invariant', expression: ['Condition.contained[0]'] }]);
  });
});

describe('Function: checkVitalSignCode', () => {
  const obs = (coding: { system: string; code: string }[]): Observation => ({ resourceType: 'Observation', status: 'final', code: { coding } });
  it('requires the magic LOINC code of the implied vital signs profile', () => {
    expect(checkVitalSignCode(obs([{ system: 'http://snomed.info/sct', code: '276885007' }]), 'Observation')).toHaveLength(1);
    expect(checkVitalSignCode(obs([{ system: 'http://loinc.org', code: '8331-1' }]), 'Observation')).toHaveLength(1);
    expect(
      checkVitalSignCode(obs([{ system: 'http://loinc.org', code: '8310-5' }, { system: 'http://snomed.info/sct', code: '276885007' }]), 'Observation')
    ).toEqual([]);
    expect(checkVitalSignCode(obs([{ system: 'http://loinc.org', code: '718-7' }]), 'Observation')).toEqual([]);
  });
});

describe('Function: checkBundle', () => {
  const patient = (id: string): Resource => ({ resourceType: 'Patient', id });
  it('requires absolute fullUrls that agree with the resource type and id', () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { fullUrl: 'Patient/1', resource: patient('1') },
        { fullUrl: 'http://x.org/fhir/Patient/2', resource: patient('3') },
        { fullUrl: 'urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0', resource: patient('4') },
        { resource: patient('5') },
      ],
    };
    expect(texts(checkBundle(bundle, 'Bundle', types))).toEqual([
      'The fullUrl must be an absolute URL',
      'The fullUrl is a RESTful URL, so it must end with the resource type and id',
      'fullUrl is required in a collection Bundle entry',
    ]);
    expect(checkBundle({ ...bundle, type: 'transaction', entry: [{ resource: patient('5') }] }, 'Bundle', types)).toEqual([]);
  });

  it('limits link relations by Bundle type', () => {
    const link = [
      { relation: 'self', url: 'http://x/Patient' },
      { relation: 'self', url: 'http://x/Patient' },
      { relation: 'next', url: 'http://x/Patient?page=2' },
    ];
    expect(texts(checkBundle({ resourceType: 'Bundle', type: 'collection', link }, 'Bundle', types))).toEqual([
      "The link relation 'self' can only occur once",
      "The link relation 'next' is only allowed in searchset and history Bundles",
    ]);
    expect(texts(checkBundle({ resourceType: 'Bundle', type: 'searchset', link }, 'Bundle', types))).toEqual([
      "The link relation 'self' can only occur once",
    ]);
  });

  it('applies search mode rules to search sets', () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      link: [{ relation: 'self', url: 'http://x/Patient?name=a' }],
      entry: [
        { fullUrl: 'http://x/Patient/1', resource: patient('1'), search: { mode: 'match' } },
        { fullUrl: 'urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0', resource: { resourceType: 'Patient' }, search: { mode: 'match' } },
        { fullUrl: 'urn:uuid:1c3151bd-1cbf-4d64-b04d-cd9187a4c6e0', resource: { resourceType: 'Organization', id: 'o' }, search: { mode: 'match' } },
        { fullUrl: 'urn:uuid:2c3151bd-1cbf-4d64-b04d-cd9187a4c6e0', resource: patient('2'), search: { mode: 'outcome' } },
      ],
    };
    expect(texts(checkBundle(bundle, 'Bundle', types))).toEqual([
      'Search results must have ids',
      'This is not a resource type the search was for',
      "An entry with search mode 'outcome' must be an OperationOutcome",
    ]);
  });

  it('requires a Composition first in a document, resolvable references and no orphans', () => {
    const base = 'http://x.org/fhir/';
    const doc = (entries: Bundle['entry']): Bundle => ({ resourceType: 'Bundle', type: 'document', entry: entries });
    const composition = {
      resourceType: 'Composition',
      id: 'c',
      status: 'final',
      type: { text: 'x' },
      date: '2024-01-01',
      title: 't',
      author: [{ reference: 'Practitioner/p' }],
      subject: { reference: 'Patient/1' },
    } as Resource;
    const good = doc([
      { fullUrl: `${base}Composition/c`, resource: composition },
      { fullUrl: `${base}Patient/1`, resource: patient('1') },
      { fullUrl: `${base}Practitioner/p`, resource: { resourceType: 'Practitioner', id: 'p' } },
    ]);
    expect(checkBundle(good, 'Bundle', types)).toEqual([]);

    const orphan = doc([...(good.entry ?? []), { fullUrl: `${base}Patient/2`, resource: patient('2') }]);
    expect(texts(checkBundle(orphan, 'Bundle', types))).toEqual([
      'This document entry is not reachable by following references from the Composition',
    ]);

    const urn = doc([
      { fullUrl: 'urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0', resource: composition },
      { fullUrl: `${base}Patient/1`, resource: patient('1') },
      { fullUrl: `${base}Practitioner/p`, resource: { resourceType: 'Practitioner', id: 'p' } },
    ]);
    expect(texts(checkBundle(urn, 'Bundle', types)).some((t) => t.startsWith('The reference does not resolve in the Bundle: an entry has the same type and id'))).toBe(true);

    expect(texts(checkBundle(doc([{ fullUrl: `${base}Patient/1`, resource: patient('1') }]), 'Bundle', types))).toEqual([
      'The first entry of a document Bundle must be a Composition',
    ]);
  });

  it('resolves versioned references by meta.versionId', () => {
    const base = 'http://x.org/fhir/';
    const v = (version: string): Resource => ({ resourceType: 'Patient', id: '1', meta: { versionId: version } });
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { fullUrl: `${base}Basic/b`, resource: { resourceType: 'Basic', id: 'b', code: { text: 'x' } } },
        { fullUrl: `${base}Patient/1`, resource: v('1') },
        { fullUrl: `${base}Patient/1`, resource: v('2') },
      ],
    };
    const index = indexBundle(bundle, types, restfulUrlPattern(types));
    expect(resolveInBundle(index, 'Patient/1/_history/2', 0)).toEqual({ kind: 'found', index: 2 });
    expect(resolveInBundle(index, 'Patient/1', 0)).toEqual({ kind: 'multiple', count: 2 });
    expect(resolveInBundle(index, 'Patient/1/_history/3', 0)).toEqual({ kind: 'apparent' });
    expect(resolveInBundle(index, 'Patient/9', 0)).toEqual({ kind: 'not-found' });
    expect(resolveInBundle(index, `${base}Patient/1/_history/1`, 0)).toEqual({ kind: 'found', index: 1 });
  });
});
