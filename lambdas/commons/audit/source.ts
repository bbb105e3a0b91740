/** The observer and server agent of every AuditEvent this layer records (BALP `val-audit-source`: the source agent is the observer). */
export const AUDIT_SOURCE_NAME = 'belimumab-sle FHIR API';
