import type { CapabilityStatementRestResourceOperation } from '@medplum/fhirtypes';
import { CSV_FORMAT } from './params.js';

/** The Bulk Data Access IG's CapabilityStatement this server implements the export part of. */
export const BULK_DATA_CAPABILITY = 'http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data';

const COMMON = `Async (Prefer: respond-async required): 202 with Content-Location [base]/bulk-status/{job}; GET it for 202 (X-Progress, Retry-After) or 200 with the manifest; DELETE cancels (202, then 404). _type (each type needs a system/ read scope), _since, _typeFilter (one per type, the search parameters of that type; none of _count, _sort, _include, _lastUpdated), _outputFormat application/fhir+ndjson (default) or ${CSV_FORMAT} (the analysis dataset: CSV and data dictionary, Patient and Group levels). patient, includeAssociatedData, _elements, organizeOutputBy, allowPartialManifests: 400. Only the client that started a job sees it.`;

/**
 * The export operations for the CapabilityStatement (FHIR Bulk Data Access IG v2 OperationDefinitions).
 * Declared at the system level, each naming its route, because the Patient and Group entries of the
 * statement list the operations the serve function answers.
 * @returns The operations.
 */
export function bulkExportOperations(): CapabilityStatementRestResourceOperation[] {
  return [
    { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export', documentation: `GET [base]/$export: every study type the token may read. ${COMMON}` },
    {
      name: 'patient-export',
      definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export',
      documentation: `GET [base]/Patient/$export: every patient's compartment (not Provenance, AuditEvent). ${COMMON}`,
    },
    {
      name: 'group-export',
      definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export',
      documentation: `GET [base]/Group/{id}/$export, id nct04893161-eligibility (every screened patient) or nct04893161-enrolled (ResearchSubject on study, follow-up, off study or withdrawn). ${COMMON}`,
    },
  ];
}
