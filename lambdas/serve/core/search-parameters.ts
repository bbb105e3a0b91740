/**
 * The search parameters each study type answers, as data: the parser (search-query.ts) accepts exactly
 * these and the CapabilityStatement declares exactly these, so the two cannot drift apart. Every name
 * is the R4 search parameter of that type whose meaning the store's index gives (lambdas/commons/store/
 * index-keys.ts): the patient compartment, the indexed codings, and the first present clinical date.
 */

export type SearchParamType = 'reference' | 'token' | 'date' | 'uri' | 'string';

/** What a parameter filters on in the store. */
export type SearchRole = 'patient' | 'code' | 'date' | 'status';

export interface StoreSearchParam {
  readonly name: string;
  readonly type: SearchParamType;
  readonly role: SearchRole;
}

const patient = (name = 'patient'): StoreSearchParam => ({ name, type: 'reference', role: 'patient' });
const code: StoreSearchParam = { name: 'code', type: 'token', role: 'code' };
const date = (name: string): StoreSearchParam => ({ name, type: 'date', role: 'date' });
/** The resource's `status` code, indexed in its own key space (index-keys.ts `statusPartition`). */
const status: StoreSearchParam = { name: 'status', type: 'token', role: 'status' };

/**
 * Per type. Left out on purpose: Condition `recorded-date` (the index holds onset first, so it would
 * answer on onset), `Provenance?patient` and `AuditEvent?patient` (their patient is in `target` and
 * `entity`, which the index does not read), Condition `clinical-status` and AllergyIntolerance
 * `clinical-status` (CodeableConcepts, not indexed; `status` is indexed where it is a code).
 * Communication `category` is indexed as its codings.
 */
export const STORE_SEARCH: Readonly<Record<string, readonly StoreSearchParam[]>> = {
  Observation: [patient(), patient('subject'), code, date('date'), status],
  Condition: [patient(), patient('subject'), code, date('onset-date')],
  Encounter: [patient(), patient('subject'), date('date'), status],
  AllergyIntolerance: [patient(), code, date('date')],
  MedicationAdministration: [patient(), patient('subject'), code, date('effective-time'), status],
  MedicationRequest: [patient(), patient('subject'), code, date('authoredon'), status],
  MedicationStatement: [patient(), patient('subject'), code, date('effective'), status],
  Patient: [],
  Provenance: [date('recorded')],
  ResearchSubject: [patient(), patient('individual'), date('date'), status],
  Communication: [patient(), patient('subject'), { name: 'category', type: 'token', role: 'code' }, date('sent'), status],
  AuditEvent: [],
  // The investigator's review Tasks: `for` is the patient, `code` the question. No date: they carry
  // no `authoredOn`, so the index's Task date would be `lastModified`, which no R4 parameter means.
  Task: [patient(), code, status],
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

/**
 * The `_sort` keys a type answers (each also with a `-` for descending): the orders the store's indexes keep (search-query.ts).
 * @param resourceType - The type.
 * @returns `_lastUpdated` and the type's date parameter, when it has one.
 */
export function sortKeys(resourceType: string): string[] {
  const date = STORE_SEARCH[resourceType]?.find((p) => p.role === 'date');
  return [...(date ? [date.name] : []), '_lastUpdated'];
}
