/**
 * The search parameters each study type answers, as data: the parser (search-query.ts) accepts exactly
 * these and the CapabilityStatement declares exactly these, so the two cannot drift apart. Every name
 * is the R4 search parameter of that type whose meaning the store's index gives (lambdas/commons/store/
 * index-keys.ts): the patient compartment, the indexed codings, and the first present clinical date.
 */

export type SearchParamType = 'reference' | 'token' | 'date' | 'uri' | 'string';

/** What a parameter filters on in the store. */
export type SearchRole = 'patient' | 'code' | 'date';

export interface StoreSearchParam {
  readonly name: string;
  readonly type: SearchParamType;
  readonly role: SearchRole;
}

const patient = (name = 'patient'): StoreSearchParam => ({ name, type: 'reference', role: 'patient' });
const code: StoreSearchParam = { name: 'code', type: 'token', role: 'code' };
const date = (name: string): StoreSearchParam => ({ name, type: 'date', role: 'date' });

/**
 * Per type. Left out on purpose: Condition `recorded-date` (the index holds onset first, so it would
 * answer on onset), `Provenance?patient` and `AuditEvent?patient` (their patient is in `target` and
 * `entity`, which the index does not read), `status` (not indexed; Communication `category` is, as its codings).
 */
export const STORE_SEARCH: Readonly<Record<string, readonly StoreSearchParam[]>> = {
  Observation: [patient(), patient('subject'), code, date('date')],
  Condition: [patient(), patient('subject'), code, date('onset-date')],
  Encounter: [patient(), patient('subject'), date('date')],
  AllergyIntolerance: [patient(), code, date('date')],
  MedicationAdministration: [patient(), patient('subject'), code, date('effective-time')],
  MedicationRequest: [patient(), patient('subject'), code, date('authoredon')],
  MedicationStatement: [patient(), patient('subject'), code, date('effective')],
  Patient: [],
  Provenance: [date('recorded')],
  ResearchSubject: [patient(), patient('individual'), date('date')],
  Communication: [patient(), patient('subject'), { name: 'category', type: 'token', role: 'code' }, date('sent')],
  AuditEvent: [],
  // The investigator's review Tasks: `for` is the patient, `code` the question. No date: they carry
  // no `authoredOn`, so the index's Task date would be `lastModified`, which no R4 parameter means.
  Task: [patient(), code],
};

/** On every store type. */
export const COMMON_SEARCH: readonly { readonly name: string; readonly type: SearchParamType }[] = [
  { name: '_id', type: 'token' },
  { name: '_lastUpdated', type: 'date' },
  { name: '_profile', type: 'uri' },
];

/**
 * The parameter of a type by name.
 * @param type - The resource type.
 * @param name - The parameter name.
 * @returns Its definition, if the type answers it.
 */
export function storeSearchParam(type: string, name: string): StoreSearchParam | undefined {
  return STORE_SEARCH[type]?.find((p) => p.name === name);
}
