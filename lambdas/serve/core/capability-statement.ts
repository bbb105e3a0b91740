import type { CapabilityStatement, CapabilityStatementRestResource, StructureDefinition } from '@medplum/fhirtypes';
import type { Conformance } from '../../commons/conformance/index.js';
import { STORE_TYPES } from '../../commons/study-types.js';
import { conformanceSearchParams } from './conformance-search.js';
import { INCLUDES, REVINCLUDES } from './includes.js';
import { COMMON_SEARCH, sortKeys, STORE_SEARCH } from './search-parameters.js';
import type { SmartSettings } from './smart-configuration.js';
import { subscriptionCapability } from '../../subscriptions/core/capability.js';
import { BULK_DATA_CAPABILITY, bulkExportOperations } from '../../export/core/capability.js';

export { STORE_TYPES };

/** Conformance types served from fhir-profiles/, read and searched by url, name, status or id. */
export const CONFORMANCE_TYPES = [
  'StructureDefinition',
  'CodeSystem',
  'ValueSet',
  'ConceptMap',
  'ResearchStudy',
  'PlanDefinition',
  'ObservationDefinition',
  'Group',
  'Library',
] as const;

/** The operations other functions of the layer answer under the same base (README: identity and review). */
const OPERATIONS: Readonly<Record<string, readonly { name: string; id: string; documentation: string }[]>> = {
  Patient: [
    {
      name: 'everything',
      id: 'Patient-everything',
      documentation: 'GET Patient/{pseudonym}/$everything: the Patient and its compartment as the store indexes it (not Provenance or AuditEvent), paginated by _count; no start, end, _since or _type.',
    },
    {
      name: 'hospital-identity',
      id: 'hospital-identity',
      documentation: 'GET Patient/{pseudonym}/$hospital-identity: the hospital identity behind a pseudonym, for the recruitment scope (recruitment/identity.read) only; each call is audited.',
    },
  ],
  Task: [
    {
      name: 'settle',
      id: 'settle',
      documentation: 'POST Task/{id}/$settle: the investigator settles a review Task (system/Task.u and system/Observation.c).',
    },
  ],
};

const VALIDATE = {
  name: 'validate',
  id: 'Resource-validate',
  documentation: 'POST [type]/$validate (resource or Parameters.resource; ?profile=): base R4 and study-profile validation, nothing stored; for a client with create or read scope on the type.',
};

const R4_OPERATIONS: Readonly<Record<string, string>> = {
  'Patient-everything': 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
  'Resource-validate': 'http://hl7.org/fhir/OperationDefinition/Resource-validate',
};

/** Options of the statement beyond the conformance resources. */
export interface CapabilityOptions {
  /** The identity provider's endpoints, announced as SMART's oauth-uris extension. */
  readonly smart?: SmartSettings;
}

/**
 * The server's CapabilityStatement, built from the study's conformance resources so that every
 * profile (the derived ones included) is listed as a supported profile of its type, and from the
 * search tables the parser reads (search-parameters.ts, conformance-search.ts), so that it declares
 * exactly what the server answers. No empty arrays (R4 ele-1).
 * @param conformance - The loaded conformance resources.
 * @param baseUrl - The API's base URL.
 * @param now - Build time.
 * @param options - SMART settings.
 * @returns The CapabilityStatement.
 */
export function capabilityStatement(conformance: Conformance, baseUrl: string, now: Date, options: CapabilityOptions = {}): CapabilityStatement {
  const profiles = conformance.resources.filter(
    (r): r is StructureDefinition => r.resourceType === 'StructureDefinition' && r.kind === 'resource' && r.derivation === 'constraint',
  );
  const store: CapabilityStatementRestResource[] = STORE_TYPES.map((type) => {
    const supportedProfile = profiles.filter((p) => p.type === type).map((p) => p.url);
    const operation = [...(OPERATIONS[type] ?? []), VALIDATE].map((o) => ({
      name: o.name,
      // $everything and $validate are R4's own operations; the others are the layer's.
      definition: o.id in R4_OPERATIONS ? R4_OPERATIONS[o.id]! : `${conformance.base}/OperationDefinition/${o.id}`,
      documentation: o.documentation,
    }));
    return {
      type,
      ...(supportedProfile.length > 0 ? { supportedProfile } : {}),
      interaction: [{ code: 'read' }, { code: 'vread' }, { code: 'history-instance' }, { code: 'history-type' }, { code: 'search-type' }],
      versioning: 'versioned',
      readHistory: true,
      conditionalRead: 'full-support',
      // R4 has no element for `_sort`: the sort keys are said here, as the parser reads them.
      documentation: `_sort: ${sortKeys(type).map((k) => `${k} or -${k}`).join(', ')} (the clinical date with a patient, code, status, _profile or date filter; _lastUpdated with no other filter).`,
      searchParam: [...COMMON_SEARCH, ...(STORE_SEARCH[type] ?? [])].map(({ name, type }) => ({ name, type })),
      ...(INCLUDES[type] ? { searchInclude: Object.keys(INCLUDES[type]).map((param) => `${type}:${param}`) } : {}),
      searchRevInclude: [...REVINCLUDES],
      ...(operation.length > 0 ? { operation } : {}),
    };
  });
  const definitional: CapabilityStatementRestResource[] = CONFORMANCE_TYPES.map((type) => ({
    type,
    interaction: [{ code: 'read' }, { code: 'search-type' }],
    searchParam: conformanceSearchParams(type).map(({ name, type }) => ({ name, type })),
  }));
  const oauth = options.smart
    ? [
        {
          url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
          extension: [
            { url: 'token', valueUri: options.smart.tokenEndpoint },
            ...(options.smart.authorizationEndpoint ? [{ url: 'authorize', valueUri: options.smart.authorizationEndpoint }] : []),
          ],
        },
      ]
    : [];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: now.toISOString(),
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    software: { name: 'belimumab-sle-fhir' },
    implementation: { description: 'FHIR integration layer of NCT04893161 (belimumab in SLE)', url: baseUrl },
    rest: [
      {
        mode: 'server',
        documentation:
          'Study resources are a limited data set under pseudonyms; ingest through POST [base] (batch/transaction) or POST [base]/Bundle (collection). JSON only: other formats are answered 406 (Accept, _format) or 415 (a request body). Search with GET or POST [type]/_search (form body); repeated parameters are ANDed, a comma is OR; _include follows the references each type declares (searchInclude); _summary and _elements subset (tagged SUBSETTED); _total=none skips the count. _sort as each type documentation says, in the order the index keeps (other sorts 400). _revinclude=Provenance:target on every study type; no other _revinclude, no _offset (400). Reads answer ETag and Last-Modified and honour If-None-Match and If-Modified-Since (304). [type]/_history and /_history take _since and _count, newest first; one page looks at most at 5,000 changed resources (narrow with _since beyond).',
        security: {
          ...(oauth.length > 0 ? { extension: oauth } : {}),
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
          description: 'Bearer JWT with SMART system scopes (v1 or v2 syntax): system/*.cud (or per type) to ingest, system/*.rs (or per type) to read and search. Discovery at [base]/.well-known/smart-configuration.',
        },
        // Subscription is answered by the subscriptions function (lambdas/subscriptions/), not serve.
        resource: [...store, ...definitional, subscriptionCapability(conformance.base)],
        interaction: [{ code: 'batch' }, { code: 'transaction' }, { code: 'history-system' }],
        // FHIR Bulk Data export, answered by the export function (lambdas/export/).
        operation: bulkExportOperations(),
      },
    ],
    instantiates: [BULK_DATA_CAPABILITY],
  };
}
