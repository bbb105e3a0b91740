import { allOk, badRequest, OperationOutcomeError } from '@medplum/core';
import type { Bundle, BundleEntry, Coding, OperationOutcome, OperationOutcomeIssue, Provenance, Resource } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import type { Conformance } from '../../commons/conformance/index.js';
import { deterministicId, keyedHash, keyedId } from '../../commons/ids.js';
import { Deidentifier, loadDeidentificationPolicy, type DeidentificationPolicy } from '../../commons/privacy/deidentify.js';
import { staticKeyProvider, type SourceKeyProvider } from '../../commons/privacy/source-key.js';
import { MAPPED_TYPES } from '../../commons/study-types.js';
import type { StudyDataChanged, StudyStore, IdentityStore, WriteResult } from '../../commons/store/port.js';
import { contentHash } from '../../commons/store/resource-codec.js';
import { annotate, timelineFrom, type AnnotationRules, type SubjectTimeline } from './annotate.js';
import type { StudyCodes} from './codes.js';
import { UnknownLocalCodeError } from './codes.js';
import { hospitalPatientKey, mapResource } from './map-resource.js';
import { BrokenReferenceError, SourceBundle, type SourceKey } from './source.js';
import { UnitConversionError } from './units.js';

/** Which endpoint a bundle came in on: `POST /fhir` takes batch and transaction, `POST /fhir/Bundle` a collection. */
export type IngestEndpoint = 'system' | 'Bundle';

/** What the ingest core reads and writes through. */
export interface IngestDeps {
  readonly conformance: Conformance;
  readonly codes: StudyCodes;
  readonly rules: AnnotationRules;
  readonly unitAliases: ReadonlyMap<string, string>;
  readonly store: StudyStore;
  readonly identity: IdentityStore;
  readonly validateBase: (resource: Resource) => OperationOutcomeIssue[];
  readonly maxEntries: number;
  /** The sending system when the Bundle does not name itself in `meta.source`. */
  readonly defaultSourceSystem: string;
  readonly now: () => Date;
  /**
   * The key of the source-identifier hashes (AWS: Secrets Manager; local: DATA_DIR/source-key). Without
   * one, a random key of this process: ids stay stable within it only, which in-memory runs (benchmarks,
   * tests of the core) accept; the local app and the Lambda always pass theirs.
   */
  readonly sourceKey?: SourceKeyProvider;
  /** The de-identification policy (default fhir-profiles/deidentification/limited-data-set.json). */
  readonly deidentification?: DeidentificationPolicy;
  /**
   * Whether the caller may update records of a type (SMART `u`). Ids are a pure function of the source
   * record, so a create of a record already stored is an update of it: a caller with create alone may
   * add records, or resend one unchanged, but not change one. Absent: every type may be updated.
   */
  readonly mayUpdate?: (resourceType: string) => boolean;
}

const processKey = staticKeyProvider();
const deidentifiers = new WeakMap<Uint8Array, WeakMap<Conformance, Deidentifier>>();

function deidentifierFor(key: Uint8Array, deps: IngestDeps): Deidentifier {
  let byConformance = deidentifiers.get(key);
  if (!byConformance) {
    byConformance = new WeakMap();
    deidentifiers.set(key, byConformance);
  }
  let d = byConformance.get(deps.conformance);
  if (!d) {
    d = new Deidentifier(deps.deidentification ?? loadDeidentificationPolicy(), deps.conformance, key);
    byConformance.set(deps.conformance, d);
  }
  return d;
}

/** The answer to an accepted bundle, and the events its commit put in the outbox. */
export interface IngestResult {
  readonly response: Bundle;
  /** Events for patients whose data really changed (the others are acknowledged at once). */
  readonly changed: readonly StudyDataChanged[];
  readonly unchanged: readonly StudyDataChanged[];
}

/** Thrown for a bundle over the entry limit: answered 413. */
export class TooManyEntriesError extends OperationOutcomeError {
  constructor(count: number, max: number) {
    super({
      resourceType: 'OperationOutcome',
      id: 'too-many-entries',
      issue: [{ severity: 'error', code: 'too-costly', details: { text: `Bundle has ${count} entries; at most ${max} are accepted per request` } }],
    });
  }
}

type EntryState =
  | { kind: 'error'; status: string; issues: OperationOutcomeIssue[] }
  | { kind: 'unused'; reason: string }
  | { kind: 'mapped'; resource: Resource & { id: string }; patient?: string; profile: string };

const ENTRY_PATH = /^Bundle\.entry\[(\d+)\]/;

/**
 * Ingests one EHR bundle into the study store: validate, map, annotate, profile-validate, commit.
 * A transaction is all or nothing; a batch or collection answers entry by entry.
 * @param bundle - The parsed request body.
 * @param endpoint - The endpoint it came in on.
 * @param deps - Ports and study facts.
 * @returns The response bundle and the outbox events.
 * @throws OperationOutcomeError with a 4xx outcome for a request refused whole.
 */
export async function ingestBundle(bundle: Resource, endpoint: IngestEndpoint, deps: IngestDeps): Promise<IngestResult> {
  const checked = checkBundle(bundle, endpoint, deps.maxEntries);
  const atomic = checked.type === 'transaction';
  const entries = checked.entry ?? [];
  const states: EntryState[] = entries.map(() => ({ kind: 'unused', reason: '' }));

  const baseIssues = deps.validateBase(checked).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  const bundleLevel = baseIssues.filter((i) => !entryIndex(i));
  if (bundleLevel.length > 0) {
    throw new OperationOutcomeError(outcome(bundleLevel));
  }
  baseIssues.forEach((issue) => addError(states, entryIndex(issue) as number, '400 Bad Request', issue));

  const key = await (deps.sourceKey ?? processKey)();
  const deidentifier = deidentifierFor(key, deps);
  const source = new SourceBundle(checked, checked.meta?.source ?? deps.defaultSourceSystem, key);
  entries.forEach((entry, i) => checkRequest(entry, i, endpoint, states));
  const pseudonyms = await resolvePseudonyms(source, entries, states, deps.identity);

  entries.forEach((entry, i) => {
    if (states[i]?.kind === 'error' || !entry.resource) {
      return;
    }
    try {
      const outcome = mapResource(entry.resource, source.keyOfEntry(entry), {
        source,
        codes: deps.codes,
        conformance: deps.conformance,
        unitAliases: deps.unitAliases,
        pseudonyms,
        deidentifier,
      });
      states[i] =
        outcome.kind === 'unused'
          ? outcome
          : { ...outcome, profile: outcome.resource.meta?.profile?.[0] ?? '' };
    } catch (err) {
      addError(states, i, ...errorOf(err, i));
    }
  });

  await annotateAll(states, deps);
  profileValidate(states, deps.conformance);
  rejectDuplicates(states);
  await refuseUpdatesWithoutScope(states, deps);

  const failed = states.some((s) => s.kind === 'error');
  if (atomic && failed) {
    const issues = states.flatMap((s) => (s.kind === 'error' ? s.issues : []));
    // A transaction refused only for its scope is a 403, as each of its entries would be in a batch.
    const forbidden = issues.every((i) => i.code === 'forbidden');
    throw new OperationOutcomeError({ ...outcome(issues), ...(forbidden ? { id: 'forbidden' } : {}) });
  }

  const mapped = states.flatMap((s, i) => (s.kind === 'mapped' ? [{ state: s, index: i }] : []));
  const events = eventsFor(mapped.map((m) => m.state), deps.now());
  const provenance = await provenanceFor(source, mapped.map((m) => m.state.resource), deps);
  const writes = [...mapped.map((m) => m.state.resource), ...(provenance ? [provenance] : [])];
  if (!atomic && events.length > 0) {
    // A batch commits entry by entry, so its events go to the outbox first: if the entries then fail
    // half-way, the events are there for the relay, and consumers of an unchanged record change nothing.
    await deps.store.commit([], { atomic: false, events });
  }
  const results = writes.length > 0 ? await deps.store.commit(writes, { atomic, ...(atomic ? { events } : {}) }) : [];
  const failure = results.find((r): r is Extract<WriteResult, { status: 'error' }> => r.status === 'error');
  if (atomic && failure) {
    throw failure.error;
  }

  const byIndex = new Map(mapped.map((m, k) => [m.index, results[k]]));
  const response: Bundle = {
    resourceType: 'Bundle',
    type: atomic ? 'transaction-response' : 'batch-response',
    entry: states.map((state, i) => responseEntry(state, byIndex.get(i))),
  };
  const changedPatients = new Set(
    mapped.filter((m) => isChange(byIndex.get(m.index))).map((m) => m.state.patient).filter((p): p is string => !!p),
  );
  return {
    response,
    changed: events.filter((e) => changedPatients.has(e.patient)),
    unchanged: events.filter((e) => !changedPatients.has(e.patient)),
  };
}

function checkBundle(resource: Resource, endpoint: IngestEndpoint, maxEntries: number): Bundle {
  if (resource.resourceType !== 'Bundle') {
    throw new OperationOutcomeError(badRequest(`Expected a Bundle, got ${resource.resourceType}`, 'resourceType'));
  }
  const allowed = endpoint === 'system' ? ['batch', 'transaction'] : ['collection'];
  if (!resource.type) {
    throw new OperationOutcomeError(badRequest('Bundle.type is required', 'Bundle.type'));
  }
  if (!allowed.includes(resource.type)) {
    const where = endpoint === 'system' ? 'POST /fhir takes a batch or transaction Bundle' : 'POST /fhir/Bundle takes a collection Bundle';
    throw new OperationOutcomeError(badRequest(`Bundle.type '${String(resource.type)}' is not accepted here: ${where}`, 'Bundle.type'));
  }
  if (resource.entry !== undefined && (!Array.isArray(resource.entry) || resource.entry.some((e) => typeof e !== 'object' || e === null))) {
    throw new OperationOutcomeError(badRequest('Bundle.entry must be an array of entries', 'Bundle.entry'));
  }
  const count = resource.entry?.length ?? 0;
  if (count > maxEntries) {
    throw new TooManyEntriesError(count, maxEntries);
  }
  return resource;
}

function checkRequest(entry: BundleEntry, i: number, endpoint: IngestEndpoint, states: EntryState[]): void {
  if (!entry.resource) {
    addError(states, i, '400 Bad Request', issue(`Bundle.entry[${i}]`, 'Entry has no resource', 'required'));
    return;
  }
  const method = entry.request?.method;
  if (endpoint === 'system' && method !== 'POST' && method !== 'PUT') {
    addError(states, i, '405 Method Not Allowed', issue(`Bundle.entry[${i}].request.method`, `Only POST and PUT entries are accepted, not ${method ?? 'none'}`, 'not-supported'));
  }
  const conditional = conditionalOf(entry);
  if (conditional && STORED.has(entry.resource.resourceType)) {
    // Refused, never turned into a plain write (FHIR R4 http.html#cond-update): the store has no index on
    // the hospital's identifiers (kept only as keyed hashes), so "which resources match" has no answer
    // here. A replay needs no condition: ids are a keyed hash of the source record, so it writes nothing new.
    addError(
      states,
      i,
      '400 Bad Request',
      issue(`Bundle.entry[${i}].request.${conditional}`, `Conditional ${conditional === 'url' ? 'update' : 'requests'} (${conditional}) are not supported; send the entry without its condition: a resent record updates the resource it created`, 'not-supported'),
    );
  }
}

/** Types the ingest stores: a condition on another type changes nothing, as its entry is answered "not stored". */
const STORED: ReadonlySet<string> = new Set(MAPPED_TYPES);

/** The conditional element of an entry's request, if any (`url` for `PUT Type?search`). */
function conditionalOf(entry: BundleEntry): 'ifNoneExist' | 'ifMatch' | 'ifNoneMatch' | 'ifModifiedSince' | 'url' | undefined {
  const request = entry.request;
  if (!request) return undefined;
  for (const key of ['ifNoneExist', 'ifMatch', 'ifNoneMatch', 'ifModifiedSince'] as const) {
    if (request[key] !== undefined) return key;
  }
  return typeof request.url === 'string' && request.url.includes('?') ? 'url' : undefined;
}

async function resolvePseudonyms(
  source: SourceBundle,
  entries: readonly BundleEntry[],
  states: EntryState[],
  identity: IdentityStore,
): Promise<Map<string, string>> {
  const keys = new Map<string, SourceKey>();
  entries.forEach((entry, i) => {
    if (!entry.resource || states[i]?.kind === 'error') {
      return;
    }
    try {
      for (const key of patientKeys(entry, source)) {
        keys.set(hospitalPatientKey(source.sourceSystem, key), key);
      }
    } catch (err) {
      addError(states, i, ...errorOf(err, i));
    }
  });
  const pairs = await Promise.all([...keys.keys()].map(async (k) => [k, await identity.pseudonymFor(k)] as const));
  return new Map(pairs);
}

function patientKeys(entry: BundleEntry, source: SourceBundle): SourceKey[] {
  const resource = entry.resource as Resource & { subject?: { reference?: string }; patient?: { reference?: string }; individual?: { reference?: string } };
  const keys = resource.resourceType === 'Patient' ? [source.keyOfEntry(entry)] : [];
  // `individual` is ResearchSubject's patient in R4: an enrolment may arrive without its Patient.
  for (const ref of [resource.subject, resource.patient, resource.individual]) {
    const key = source.resolve(ref);
    if (key?.resourceType === 'Patient') {
      keys.push(key);
    }
  }
  return keys;
}

async function annotateAll(states: EntryState[], deps: IngestDeps): Promise<void> {
  const byPatient = groupByPatient(states.filter((s): s is EntryState & { kind: 'mapped' } => s.kind === 'mapped'));
  await Promise.all(
    [...byPatient].map(async ([patient, mine]) => {
      const timeline = await timelineOf(patient, mine.map((s) => s.resource), deps);
      for (const state of mine) {
        state.resource = annotate(state.resource, timeline, deps.rules);
      }
    }),
  );
}

/** Day 0 and weights of a subject, from the store and the bundle together (the bundle may bring day 0 itself). */
async function timelineOf(patient: string, inBundle: readonly Resource[], deps: IngestDeps): Promise<SubjectTimeline> {
  const { studyDrug, bodyWeight } = deps.rules;
  const [drug, weight] = await Promise.all([
    deps.store.search({ resourceType: 'MedicationAdministration', patient, codes: [codeOf(studyDrug)], count: 1000 }),
    deps.store.search({ resourceType: 'Observation', patient, codes: [codeOf(bodyWeight)], count: 1000 }),
  ]);
  return timelineFrom([...drug.resources, ...weight.resources, ...inBundle], deps.rules);
}

function profileValidate(states: EntryState[], conformance: Conformance): void {
  states.forEach((state, i) => {
    if (state.kind !== 'mapped') {
      return;
    }
    const issues = conformance
      .validateProfile(state.resource, state.profile, { base: false })
      .filter((x) => x.severity === 'error' || x.severity === 'fatal');
    if (issues.length > 0) {
      states[i] = {
        kind: 'error',
        status: '422 Unprocessable Entity',
        issues: issues.map((x) => ({ ...x, expression: [`Bundle.entry[${i}].resource (as ${state.profile})`, ...(x.expression ?? [])] })),
      };
    }
  });
}

/** Two entries that are the same source record cannot both be written in one request. */
function rejectDuplicates(states: EntryState[]): void {
  const seen = new Map<string, number>();
  states.forEach((state, i) => {
    if (state.kind !== 'mapped') {
      return;
    }
    const key = `${state.resource.resourceType}/${state.resource.id}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, i);
      return;
    }
    states[i] = {
      kind: 'error',
      status: '409 Conflict',
      issues: [issue(`Bundle.entry[${i}]`, `Entry ${i} is the same source record as entry ${first}`, 'duplicate')],
    };
  });
}

function groupByPatient(mapped: readonly (EntryState & { kind: 'mapped' })[]): Map<string, (EntryState & { kind: 'mapped' })[]> {
  const byPatient = new Map<string, (EntryState & { kind: 'mapped' })[]>();
  for (const state of mapped) {
    if (state.patient) {
      const list = byPatient.get(state.patient);
      if (list) list.push(state);
      else byPatient.set(state.patient, [state]);
    }
  }
  return byPatient;
}

function eventsFor(mapped: readonly (EntryState & { kind: 'mapped' })[], now: Date): StudyDataChanged[] {
  return [...groupByPatient(mapped)].map(([patient, states]) => {
    const digests = states.map((s) => `${s.resource.resourceType}/${s.resource.id}:${digest(s.resource)}`).sort();
    const refs = [...new Set(states.map((s) => `${s.resource.resourceType}/${s.resource.id}`))].sort();
    return {
      eventId: deterministicId('study-data-changed', patient, ...digests),
      patient,
      kinds: [...new Set(states.map((s) => s.resource.resourceType))].sort(),
      occurredAt: now.toISOString(),
      // Hospital data: the subject step runs on it. The refs are what the bundle writes (an unchanged one
      // included); above the 1,000 the consumers' envelope reads (events/consumer.ts), none are named.
      origin: 'source',
      ...(refs.length <= 1000 ? { changed: refs } : {}),
    };
  });
}

/** One Provenance per accepted bundle; a replay finds it already there and writes nothing new. */
async function provenanceFor(source: SourceBundle, resources: readonly Resource[], deps: IngestDeps): Promise<(Provenance & { id: string }) | undefined> {
  if (resources.length === 0) {
    return undefined;
  }
  const bundleId = source.bundle.id ?? digest(source.bundle);
  // The hospital's bundle id is a source identifier like any other: keyed, never stored as sent.
  const id = keyedId(source.key, source.sourceSystem, 'Bundle', bundleId);
  const existing = await deps.store.read<Provenance>('Provenance', id);
  return {
    resourceType: 'Provenance',
    id,
    meta: { source: source.sourceSystem },
    target: resources.map((r) => ({ reference: `${r.resourceType}/${r.id as string}` })),
    recorded: existing?.recorded ?? deps.now().toISOString(),
    activity: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE', display: 'create' }],
    },
    agent: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] },
        who: { identifier: { system: source.sourceSystem, value: 'source-system' }, display: source.sourceSystem },
      },
    ],
    entity: [
      {
        role: 'source',
        what: { identifier: { system: `${deps.conformance.base}/sid/source-record`, value: keyedHash(source.key, source.sourceSystem, `Bundle/${bundleId}`) } },
      },
    ],
  };
}

function responseEntry(state: EntryState, result: WriteResult | undefined): BundleEntry {
  switch (state.kind) {
    case 'error':
      return { response: { status: state.status, outcome: outcome(state.issues) } };
    case 'unused':
      return {
        response: {
          status: '200 OK',
          outcome: {
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'information', code: 'informational', details: { text: `Not stored: ${state.reason}` } }],
          },
        },
      };
    case 'mapped': {
      if (!result || result.status === 'error') {
        const text = result?.error.message ?? 'Not written';
        return { response: { status: '503 Service Unavailable', outcome: outcome([issue('', text, 'transient')]) } };
      }
      const { resource } = result;
      return {
        response: {
          status: result.status === 'created' ? '201 Created' : '200 OK',
          location: `${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`,
          etag: `W/"${resource.meta.versionId}"`,
          lastModified: resource.meta.lastUpdated,
          outcome: result.status === 'unchanged' ? { ...allOk, issue: [{ severity: 'information', code: 'informational', details: { text: 'Unchanged' } }] } : allOk,
        },
      };
    }
  }
}

function isChange(result: WriteResult | undefined): boolean {
  return result?.status === 'created' || result?.status === 'updated';
}

function errorOf(err: unknown, i: number): [string, OperationOutcomeIssue] {
  if (err instanceof UnknownLocalCodeError || err instanceof UnitConversionError) {
    return ['422 Unprocessable Entity', issue(`Bundle.entry[${i}].resource`, err.message, 'code-invalid')];
  }
  if (err instanceof BrokenReferenceError) {
    return ['400 Bad Request', issue(`Bundle.entry[${i}].resource`, err.message, 'not-found')];
  }
  throw err;
}

/** An entry that would change a stored record of a type the caller may only create is refused (403). */
async function refuseUpdatesWithoutScope(states: EntryState[], deps: IngestDeps): Promise<void> {
  const { mayUpdate } = deps;
  if (!mayUpdate) {
    return;
  }
  await Promise.all(
    states.map(async (state, i) => {
      if (state.kind !== 'mapped' || mayUpdate(state.resource.resourceType)) {
        return;
      }
      const stored = await deps.store.read(state.resource.resourceType, state.resource.id);
      if (stored && contentHash(stored) !== contentHash(state.resource)) {
        addError(states, i, '403 Forbidden', issue(`Bundle.entry[${i}]`, `The token may create ${state.resource.resourceType}, not update it, and this record is stored already`, 'forbidden'));
      }
    }),
  );
}

function addError(states: EntryState[], i: number, status: string, problem: OperationOutcomeIssue): void {
  const current = states[i];
  states[i] = current?.kind === 'error' ? { ...current, issues: [...current.issues, problem] } : { kind: 'error', status, issues: [problem] };
}

function entryIndex(problem: OperationOutcomeIssue): number | undefined {
  for (const expression of problem.expression ?? []) {
    const match = ENTRY_PATH.exec(expression);
    if (match) {
      return Number(match[1]);
    }
  }
  return undefined;
}

function issue(expression: string, text: string, code: OperationOutcomeIssue['code']): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, ...(expression ? { expression: [expression] } : {}) };
}

function outcome(issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

function codeOf(coding: Coding): { system?: string; code: string } {
  return { ...(coding.system ? { system: coding.system } : {}), code: coding.code ?? '' };
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}
