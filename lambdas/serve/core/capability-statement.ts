import type { CapabilityStatement, CapabilityStatementRestResource, StructureDefinition } from '@medplum/fhirtypes';
import type { Conformance } from '../../commons/conformance/index.js';
import { STORE_TYPES } from '../../commons/study-types.js';

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

const CLINICAL_SEARCH: Record<string, readonly [string, string][]> = {
  Observation: [['patient', 'reference'], ['subject', 'reference'], ['code', 'token'], ['date', 'date']],
  Condition: [['patient', 'reference'], ['subject', 'reference'], ['code', 'token'], ['onset-date', 'date'], ['recorded-date', 'date']],
  Encounter: [['patient', 'reference'], ['subject', 'reference'], ['date', 'date']],
  AllergyIntolerance: [['patient', 'reference'], ['code', 'token'], ['date', 'date']],
  MedicationAdministration: [['patient', 'reference'], ['subject', 'reference'], ['code', 'token'], ['effective-time', 'date']],
  MedicationRequest: [['patient', 'reference'], ['subject', 'reference'], ['code', 'token'], ['authoredon', 'date']],
  MedicationStatement: [['patient', 'reference'], ['subject', 'reference'], ['code', 'token'], ['effective', 'date']],
  Patient: [],
  Provenance: [['recorded', 'date']],
  ResearchSubject: [['patient', 'reference'], ['individual', 'reference'], ['date', 'date']],
  Communication: [['patient', 'reference'], ['subject', 'reference'], ['sent', 'date']],
  AuditEvent: [],
};

const COMMON_SEARCH: readonly [string, string][] = [
  ['_id', 'token'],
  ['_lastUpdated', 'date'],
  ['_profile', 'uri'],
];

/**
 * The server's CapabilityStatement, built from the study's conformance resources so that every
 * profile (the derived ones included) is listed as a supported profile of its type.
 * @param conformance - The loaded conformance resources.
 * @param baseUrl - The API's base URL.
 * @param now - Build time.
 * @returns The CapabilityStatement.
 */
export function capabilityStatement(conformance: Conformance, baseUrl: string, now: Date): CapabilityStatement {
  const profiles = conformance.resources.filter(
    (r): r is StructureDefinition => r.resourceType === 'StructureDefinition' && r.kind === 'resource' && r.derivation === 'constraint',
  );
  const store: CapabilityStatementRestResource[] = STORE_TYPES.map((type) => ({
    type,
    supportedProfile: profiles.filter((p) => p.type === type).map((p) => p.url),
    interaction: [{ code: 'read' }, { code: 'vread' }, { code: 'history-instance' }, { code: 'search-type' }],
    versioning: 'versioned',
    readHistory: true,
    searchParam: [...COMMON_SEARCH, ...(CLINICAL_SEARCH[type] ?? [])].map(([name, type]) => ({ name, type: type as 'token' })),
  }));
  const definitional: CapabilityStatementRestResource[] = CONFORMANCE_TYPES.map((type) => ({
    type,
    interaction: [{ code: 'read' }, { code: 'search-type' }],
    searchParam: [
      { name: '_id', type: 'token' },
      { name: 'url', type: 'uri' },
      { name: 'name', type: 'string' },
      { name: 'status', type: 'token' },
    ],
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: now.toISOString(),
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    software: { name: 'belimumab-sle-fhir' },
    implementation: { description: 'FHIR integration layer of NCT04893161 (belimumab in SLE)', url: baseUrl },
    instantiates: [],
    rest: [
      {
        mode: 'server',
        documentation: 'Study resources are a limited data set under pseudonyms; ingest through POST [base] (batch/transaction) or POST [base]/Bundle (collection).',
        security: {
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
          description: 'Bearer JWT with SMART v2 system scopes: system/*.cud (or per type) to ingest, system/*.rs (or per type) to read and search.',
        },
        resource: [...store, ...definitional],
        interaction: [{ code: 'batch' }, { code: 'transaction' }],
      },
    ],
  };
}
