import type {
  AllergyIntolerance,
  CodeableConcept,
  Condition,
  Encounter,
  Extension,
  MedicationAdministration,
  MedicationRequest,
  MedicationStatement,
  Observation,
  ObservationReferenceRange,
  Patient,
  Quantity,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import type { Conformance } from '../../commons/conformance/index.js';
import { Deidentifier, loadDeidentificationPolicy } from '../../commons/privacy/deidentify.js';
import { MAPPED_TYPES } from '../../commons/study-types.js';
import type { StudyCodes } from './codes.js';
import { mapResearchSubject } from './map-research-subject.js';
import type { SourceBundle, SourceKey } from './source.js';
import { toCanonicalUnit, ucumCodeOf, UCUM_SYSTEM } from './units.js';

/** What the mapper made of one source resource. */
export type MapOutcome =
  | { readonly kind: 'mapped'; readonly resource: Resource & { id: string }; readonly patient?: string }
  | { readonly kind: 'unused'; readonly reason: string };

/** Everything the mapper reads besides the resource itself. */
export interface MapContext {
  readonly source: SourceBundle;
  readonly codes: StudyCodes;
  readonly conformance: Conformance;
  readonly unitAliases: ReadonlyMap<string, string>;
  /** Pseudonyms of the bundle's patients, resolved beforehand (the identity table is async). */
  readonly pseudonyms: ReadonlyMap<string, string>;
  /**
   * The de-identification policy under the source-identifier key. Without one, the policy file under the
   * source bundle's key (in-memory screening).
   */
  readonly deidentifier?: Deidentifier;
}

const fallbackDeidentifiers = new WeakMap<Uint8Array, Deidentifier>();

function deidentifierOf(ctx: MapContext): Deidentifier {
  if (ctx.deidentifier) return ctx.deidentifier;
  let d = fallbackDeidentifiers.get(ctx.source.key);
  if (!d) {
    d = new Deidentifier(loadDeidentificationPolicy(), ctx.conformance, ctx.source.key);
    fallbackDeidentifiers.set(ctx.source.key, d);
  }
  return d;
}

/** References to any type the study does not map are dropped from study resources. */
const STORED_TYPES: ReadonlySet<string> = new Set(MAPPED_TYPES);

/** Extension on a normalised quantity that keeps the value and unit as the source sent them. */
export const ORIGINAL_QUANTITY_EXTENSION = 'original-quantity';

/**
 * The key under which a hospital patient's pseudonym is kept in the identity table.
 * @param sourceSystem - URI of the sending system.
 * @param key - The patient's source key.
 * @returns The hospital key.
 */
export function hospitalPatientKey(sourceSystem: string, key: SourceKey): string {
  return `${sourceSystem}|Patient/${key.id}`;
}

/**
 * Maps one source resource to its study resource: an allow-list of elements (so that nothing the
 * study does not need, names and free text above all, can slip through), standard codes, canonical
 * units, a pseudonymous subject, and provenance back to the source record.
 * @param resource - The source resource.
 * @param key - Its source key.
 * @param ctx - The mapping context.
 * @returns The study resource, or why it is not used.
 */
export function mapResource(resource: Resource, key: SourceKey, ctx: MapContext): MapOutcome {
  const outcome = mapByType(resource, key, ctx);
  // Every kept type goes through the policy: whatever element the allow-list above let through, only
  // what fhir-profiles/deidentification/ keeps is stored.
  return outcome.kind === 'mapped' ? { ...outcome, resource: deidentifierOf(ctx).apply(outcome.resource) } : outcome;
}

function mapByType(resource: Resource, key: SourceKey, ctx: MapContext): MapOutcome {
  const mapper = new ResourceMapper(ctx, key);
  switch (resource.resourceType) {
    case 'Patient':
      return mapper.patient(resource);
    case 'Observation':
      return mapper.observation(resource);
    case 'Condition':
      return mapper.condition(resource);
    case 'Encounter':
      return mapper.encounter(resource);
    case 'AllergyIntolerance':
      return mapper.allergy(resource);
    case 'MedicationAdministration':
    case 'MedicationRequest':
    case 'MedicationStatement':
      return mapper.medication(resource);
    case 'ResearchSubject':
      return mapResearchSubject(resource, key, ctx);
    default:
      return { kind: 'unused', reason: `${resource.resourceType} is not used by the study` };
  }
}

class ResourceMapper {
  constructor(
    private readonly ctx: MapContext,
    private readonly key: SourceKey,
  ) {}

  patient(source: Patient): MapOutcome {
    const pseudonym = this.pseudonym(this.key);
    const profile = this.ctx.codes.profileFor('Patient');
    if (!profile) {
      return { kind: 'unused', reason: 'No study profile for Patient' };
    }
    const resource: Patient = {
      resourceType: 'Patient',
      id: pseudonym,
      // The study Patient is a limited data set: no hospital identifier, only the pseudonym.
      meta: { source: this.ctx.source.sourceSystem, profile: [profile] },
      identifier: [{ system: `${this.ctx.conformance.base}/sid/study-subject`, value: pseudonym }],
      ...pick(source, ['gender', 'birthDate', 'deceasedBoolean', 'deceasedDateTime']),
    };
    return { kind: 'mapped', resource: resource as Patient & { id: string }, patient: pseudonym };
  }

  observation(source: Observation): MapOutcome {
    const code = this.ctx.codes.translate(source.code);
    const coding = code?.coding?.[0];
    const profile = coding && this.ctx.codes.profileFor('Observation', coding);
    if (!code || !coding || !profile) {
      return { kind: 'unused', reason: 'Observation code is not used by the study' };
    }
    const canonicalUnit = this.ctx.conformance.observationDefinition(coding)?.quantitativeDetails?.unit?.coding?.[0]?.code;
    const normalise = (q: Quantity | undefined): Quantity | undefined => (q && canonicalUnit ? this.quantity(q, canonicalUnit) : q);
    const subject = this.subject(source.subject);
    const resource: Observation = {
      resourceType: 'Observation',
      ...this.header(profile),
      ...pick(source, ['status', 'category', 'effectiveDateTime', 'effectivePeriod', 'effectiveInstant', 'issued']),
      code,
      ...(subject ? { subject } : {}),
      ...this.optionalRef('encounter', source.encounter),
      ...pick(source, ['valueCodeableConcept', 'valueString', 'valueBoolean', 'valueInteger', 'valueRange', 'valueRatio']),
      ...pick(source, ['valueTime', 'valueDateTime', 'valuePeriod', 'dataAbsentReason', 'interpretation', 'method']),
      ...(source.valueQuantity ? { valueQuantity: normalise(source.valueQuantity) } : {}),
      ...(source.referenceRange ? { referenceRange: source.referenceRange.map((r) => this.range(r, normalise)) } : {}),
      ...(source.component ? { component: source.component.map((c) => ({ ...c, valueQuantity: this.componentQuantity(c.code, c.valueQuantity) })) } : {}),
    };
    return this.mapped(resource, subject);
  }

  condition(source: Condition): MapOutcome {
    const code = this.ctx.codes.translate(source.code);
    const profile = code?.coding?.[0] && this.ctx.codes.profileFor('Condition', code.coding[0]);
    if (!code || !profile) {
      return { kind: 'unused', reason: 'Condition code is not used by the study' };
    }
    const subject = this.subject(source.subject);
    const resource: Condition = {
      resourceType: 'Condition',
      ...this.header(profile),
      ...pick(source, ['clinicalStatus', 'verificationStatus', 'category', 'severity']),
      code,
      subject: subject ?? {},
      ...this.optionalRef('encounter', source.encounter),
      ...pick(source, ['onsetDateTime', 'onsetPeriod', 'onsetAge', 'abatementDateTime', 'abatementPeriod', 'abatementAge', 'recordedDate']),
    };
    return this.mapped(resource, subject);
  }

  encounter(source: Encounter): MapOutcome {
    const profile = this.ctx.codes.profileFor('Encounter');
    if (!profile) {
      return { kind: 'unused', reason: 'Encounter is not used by the study' };
    }
    const subject = this.subject(source.subject);
    const resource: Encounter = {
      resourceType: 'Encounter',
      ...this.header(profile),
      ...pick(source, ['status', 'class', 'type', 'serviceType', 'priority', 'period', 'reasonCode']),
      ...(subject ? { subject } : {}),
      ...(source.reasonReference ? { reasonReference: this.refs(source.reasonReference) } : {}),
      ...(source.hospitalization ? { hospitalization: pick(source.hospitalization, ['admitSource', 'dischargeDisposition']) } : {}),
    };
    return this.mapped(resource, subject);
  }

  allergy(source: AllergyIntolerance): MapOutcome {
    const profile = this.ctx.codes.profileFor('AllergyIntolerance');
    if (!profile) {
      return { kind: 'unused', reason: 'AllergyIntolerance is not used by the study' };
    }
    const patient = this.subject(source.patient);
    const code = this.translateOrKeep(source.code);
    const resource: AllergyIntolerance = {
      resourceType: 'AllergyIntolerance',
      ...this.header(profile),
      ...pick(source, ['clinicalStatus', 'verificationStatus', 'type', 'category', 'criticality']),
      ...(code ? { code } : {}),
      patient: patient ?? {},
      ...this.optionalRef('encounter', source.encounter),
      ...pick(source, ['onsetDateTime', 'onsetPeriod', 'onsetAge', 'recordedDate', 'lastOccurrence']),
      ...(source.reaction
        ? { reaction: source.reaction.map((r) => pick(r, ['substance', 'manifestation', 'onset', 'severity', 'exposureRoute'])) }
        : {}),
    };
    return this.mapped(resource, patient);
  }

  medication(source: MedicationAdministration | MedicationRequest | MedicationStatement): MapOutcome {
    const concept =
      source.medicationCodeableConcept ??
      (this.ctx.source.lookup(source.medicationReference, source) as { code?: CodeableConcept } | undefined)?.code;
    const code = this.ctx.codes.translate(concept);
    const profile = code?.coding?.[0] && this.ctx.codes.profileFor(source.resourceType, code.coding[0]);
    if (!code || !profile) {
      return { kind: 'unused', reason: `${source.resourceType} medication is not used by the study` };
    }
    const subject = this.subject(source.subject);
    const common = { ...this.header(profile), medicationCodeableConcept: code, subject: subject ?? {} };
    let resource: Resource;
    switch (source.resourceType) {
      case 'MedicationAdministration':
        resource = {
          resourceType: 'MedicationAdministration',
          ...common,
          ...pick(source, ['status', 'category', 'effectiveDateTime', 'effectivePeriod', 'reasonCode']),
          ...this.optionalRef('context', source.context),
          ...(source.dosage ? { dosage: pick(source.dosage, ['site', 'route', 'method', 'dose', 'rateRatio', 'rateQuantity']) } : {}),
        };
        break;
      case 'MedicationRequest':
        resource = {
          resourceType: 'MedicationRequest',
          ...common,
          ...pick(source, ['status', 'intent', 'category', 'authoredOn', 'reasonCode']),
          ...this.optionalRef('encounter', source.encounter),
          ...(source.dosageInstruction ? { dosageInstruction: source.dosageInstruction.map(dosage) } : {}),
          // How long a prescription runs when its dosage has no bounds (E1's 12 weeks); never the dispenser.
          ...dispense(source.dispenseRequest),
        };
        break;
      case 'MedicationStatement':
        resource = {
          resourceType: 'MedicationStatement',
          ...common,
          ...pick(source, ['status', 'category', 'effectiveDateTime', 'effectivePeriod', 'dateAsserted', 'reasonCode']),
          ...this.optionalRef('context', source.context),
          ...(source.dosage ? { dosage: source.dosage.map(dosage) } : {}),
        };
        break;
    }
    return this.mapped(resource, subject);
  }

  private header(profile: string): { id: string; meta: Resource['meta']; identifier: Observation['identifier'] } {
    return {
      id: this.ctx.source.studyId(this.key),
      meta: { source: this.ctx.source.sourceSystem, profile: [profile] },
      // The policy's crypto-hash turns this into HMAC(key, source system + type + id) under the study's system.
      identifier: [{ use: 'secondary', system: this.ctx.source.sourceSystem, value: `${this.key.resourceType}/${this.key.id}` }],
    };
  }

  private mapped(resource: Resource, subject: Reference | undefined): MapOutcome {
    const patient = subject?.reference?.startsWith('Patient/') ? subject.reference.slice('Patient/'.length) : undefined;
    return { kind: 'mapped', resource: resource as Resource & { id: string }, ...(patient ? { patient } : {}) };
  }

  private pseudonym(key: SourceKey): string {
    const pseudonym = this.ctx.pseudonyms.get(hospitalPatientKey(this.ctx.source.sourceSystem, key));
    if (!pseudonym) {
      throw new Error('Pseudonym not resolved before mapping');
    }
    return pseudonym;
  }

  // Reference<never> fits every typed reference element (subject, encounter, context...).
  private subject(reference: Reference | undefined): Reference<never> | undefined {
    const key = this.ctx.source.resolve(reference);
    return key?.resourceType === 'Patient' ? { reference: `Patient/${this.pseudonym(key)}` } : undefined;
  }

  private ref(reference: Reference | undefined): Reference<never> | undefined {
    const key = this.ctx.source.resolve(reference);
    if (!key || !STORED_TYPES.has(key.resourceType)) {
      return undefined;
    }
    return key.resourceType === 'Patient'
      ? { reference: `Patient/${this.pseudonym(key)}` }
      : { reference: `${key.resourceType}/${this.ctx.source.studyId(key)}` };
  }

  private refs(references: readonly Reference[]): Reference<never>[] {
    return references.map((r) => this.ref(r)).filter((r): r is Reference<never> => r !== undefined);
  }

  private optionalRef<K extends string>(name: K, reference: Reference | undefined): Partial<Record<K, Reference<never>>> {
    const mapped = this.ref(reference);
    return mapped ? ({ [name]: mapped } as Record<K, Reference<never>>) : {};
  }

  private translateOrKeep(concept: CodeableConcept | undefined): CodeableConcept | undefined {
    return this.ctx.codes.translate(concept) ?? concept;
  }

  private quantity(q: Quantity, canonicalUnit: string): Quantity {
    const normalised = toCanonicalUnit(q, canonicalUnit, this.ctx.unitAliases);
    if (normalised.value === q.value && normalised.code === q.code && q.system === normalised.system) {
      return normalised;
    }
    // The value as sent, its unit as the UCUM code it was read as (the unit's free text is not kept).
    const code = ucumCodeOf(q, this.ctx.unitAliases);
    const sent: Quantity = { ...pick(q, ['value', 'comparator']), ...(code ? { unit: code, system: UCUM_SYSTEM, code } : {}) };
    const original: Extension = { url: `${this.ctx.conformance.base}/StructureDefinition/${ORIGINAL_QUANTITY_EXTENSION}`, valueQuantity: sent };
    return { extension: [original], ...normalised };
  }

  private range(range: ObservationReferenceRange, normalise: (q: Quantity | undefined) => Quantity | undefined): ObservationReferenceRange {
    return {
      ...range,
      ...(range.low ? { low: stripExtensions(normalise(range.low)) } : {}),
      ...(range.high ? { high: stripExtensions(normalise(range.high)) } : {}),
    };
  }

  private componentQuantity(code: CodeableConcept, q: Quantity | undefined): Quantity | undefined {
    const coding = q && this.ctx.codes.translate(code)?.coding?.[0];
    const unit = coding && this.ctx.conformance.observationDefinition(coding)?.quantitativeDetails?.unit?.coding?.[0]?.code;
    return q && unit ? this.quantity(q, unit) : q;
  }
}

function dosage<T extends { text?: string; patientInstruction?: string }>(d: T): Omit<T, 'text' | 'patientInstruction'> {
  // Free-text instructions can carry names and are not needed by the study.
  const { text: _text, patientInstruction: _instruction, ...rest } = d;
  return rest;
}

function stripExtensions(q: Quantity | undefined): Quantity | undefined {
  if (!q) {
    return q;
  }
  const { extension: _extension, ...rest } = q;
  return rest;
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) {
    if (source[key] !== undefined) {
      out[key] = source[key];
    }
  }
  return out;
}

function dispense(request: MedicationRequest['dispenseRequest']): Pick<MedicationRequest, 'dispenseRequest'> {
  const kept = request ? pick(request, ['validityPeriod', 'numberOfRepeatsAllowed', 'quantity', 'expectedSupplyDuration']) : {};
  return Object.keys(kept).length > 0 ? { dispenseRequest: kept } : {};
}
