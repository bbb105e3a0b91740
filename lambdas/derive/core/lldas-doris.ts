import type { Observation, ObservationComponent, Resource } from '@medplum/fhirtypes';
import { allOf, type Tri } from './fhir-access.js';
import type { PrednisoneEquivalent } from './glucocorticoids.js';
import { dailyDoseOn, type MedicationResource } from './medications.js';
import { assessmentConcept, derivedHeader, derivedId, evidenceParts, type DerivedContext } from './observations.js';
import type { DerivationRules } from './rules.js';
import type { AssessedVisit } from './sri.js';

/** Medication facts of a visit day shared by LLDAS and DORIS. */
export interface VisitTreatment {
  readonly prednisone: PrednisoneEquivalent;
  /** Immunosuppressants and antimalarials within their maintenance maxima (unknown when a dose is unreadable). */
  readonly maintenance: Tri;
  readonly evidence: readonly MedicationResource[];
}

/**
 * Whether the immunosuppressants and antimalarials in use on a date are at maintenance doses (LLDAS
 * criterion 5, response-indices.md §6; maxima from [GOLDER-T3] as data, weekly drugs compared per
 * week). Investigational drugs cannot be seen in the data and are assumed absent.
 * @param date - The day (YYYY-MM-DD).
 * @param records - The subject's usable medication records.
 * @param meds - The medication data.
 * @returns Met, not met or unknown, with the records read.
 */
export function maintenanceDosesOn(
  date: string,
  records: readonly MedicationResource[],
  meds: DerivationRules['medications'],
): { met: Tri; evidence: MedicationResource[] } {
  const parts: Tri[] = [];
  const evidence: MedicationResource[] = [];
  for (const entry of meds.maintenance) {
    const dose = dailyDoseOn(date, records, entry, meds);
    evidence.push(...dose.evidence);
    const perPeriod = dose.mgPerDay === undefined ? undefined : dose.mgPerDay * (entry.per === 'week' ? 7 : 1);
    // Compare in hundredths of a mg, like every other threshold here.
    parts.push(perPeriod === undefined ? undefined : Math.round(perPeriod * 100) <= Math.round(entry.maxMg * 100));
  }
  return { met: allOf(parts), evidence };
}

/** The LLDAS criteria of a visit (Franklyn 2016; response-indices.md §6). */
export interface LldasCriteria {
  readonly sledai: Tri;
  readonly noNewActivity: Tri;
  readonly pga: Tri;
  readonly glucocorticoid: Tri;
  readonly maintenance: Tri;
}

/**
 * LLDAS at a visit: (1) SLEDAI-2K ≤ 4 with no major-organ descriptor (renal, CNS, cardiopulmonary,
 * vasculitis, fever), BILAG-2004 gastrointestinal D or E and no haemolysis recorded; (2) no SLEDAI-2K
 * descriptor present that was absent at the previous scored visit; (3) PGA ≤ 1.00; (4) prednisone
 * equivalent ≤ 7.5 mg/day; (5) maintenance doses only. Serology counts towards the score.
 * @param visit - The visit.
 * @param previous - The previous scored visit (any visit code), if any.
 * @param treatment - The visit day's medication facts.
 * @param hemolysis - Whether haemolysis is recorded at the visit.
 * @param rules - The derivation rules.
 * @returns The criteria.
 */
export function lldasCriteria(
  visit: AssessedVisit,
  previous: AssessedVisit | undefined,
  treatment: VisitTreatment,
  hemolysis: boolean,
  rules: DerivationRules,
): LldasCriteria {
  const r = rules.response.lldas;
  const score = visit.sledai;
  const gi = visit.bilag.get(r.gastrointestinalDomain)?.grade;
  const majorOrgan = score?.present.some((f) => f.groups.some((g) => r.majorOrganGroups.includes(g)));
  // A partial score (D3) has no total: it can still fail (a major-organ descriptor, or present weights
  // already above the limit) but never pass.
  const presentWeight = score?.present.reduce((sum, f) => sum + f.weight, 0) ?? 0;
  const sledaiPart: Tri =
    score === undefined ? undefined : majorOrgan || presentWeight > r.maxSledai ? false : score.total === undefined ? undefined : score.total <= r.maxSledai;
  const sledai = allOf([
    sledaiPart,
    gi === undefined ? undefined : r.gastrointestinalInactiveGrades.includes(gi),
    !hemolysis,
  ]);
  const before = previous?.sledai ? new Set(previous.sledai.present.map((f) => f.code)) : undefined;
  const isNew = score && before ? score.present.some((f) => !before.has(f.code)) : undefined;
  // With a partial score now, an unassessed descriptor could be new activity: only a found one decides.
  const noNewActivity: Tri = isNew === undefined ? undefined : isNew ? false : score?.total === undefined ? undefined : true;
  const p = treatment.prednisone.hundredths;
  return {
    sledai,
    noNewActivity,
    pga: visit.pga === undefined ? undefined : visit.pga.hundredths <= r.maxPgaHundredths,
    glucocorticoid: p === undefined ? undefined : p <= Math.round(r.maxPrednisoneMgPerDay * 100),
    maintenance: treatment.maintenance,
  };
}

/** The DORIS 2021 remission criteria of a visit (van Vollenhoven 2021; response-indices.md §7). */
export interface DorisCriteria {
  readonly clinicalSledai: Tri;
  readonly pga: Tri;
  readonly glucocorticoid: Tri;
  readonly maintenance: Tri;
}

/**
 * DORIS remission at a visit: clinical SLEDAI-2K (without low complement and increased DNA binding)
 * = 0; PGA < 0.5; prednisone equivalent ≤ 5 mg/day; antimalarials, immunosuppressants and biologics
 * at stable maintenance doses. Duration is not part of the definition.
 * @param visit - The visit.
 * @param treatment - The visit day's medication facts.
 * @param rules - The derivation rules.
 * @returns The criteria.
 */
export function dorisCriteria(visit: AssessedVisit, treatment: VisitTreatment, rules: DerivationRules): DorisCriteria {
  const d = rules.response.doris;
  const score = visit.sledai;
  const clinical = score?.present.filter((f) => !f.groups.some((g) => d.excludedGroups.includes(g))).reduce((sum, f) => sum + f.weight, 0);
  // A partial score (D3) can fail cSLEDAI = 0 but not pass it, unless only serology is unassessed.
  const serologyOnlyMissing = score?.missing?.every((code) => d.excludedGroups.some((g) => rules.sledai.descriptors.find((x) => x.code === code)?.groups.includes(g))) ?? true;
  const p = treatment.prednisone.hundredths;
  return {
    clinicalSledai: clinical === undefined ? undefined : clinical > d.maxClinicalSledai ? false : score?.total === undefined && !serologyOnlyMissing ? undefined : true,
    pga: visit.pga === undefined ? undefined : visit.pga.hundredths < d.pgaBelowHundredths,
    // The abstract says ≤ 5 mg/day while the paper's Table 2 prints < 5 mg/day; ≤ follows the
    // abstract and the brief, and the discrepancy is flagged to the PI (response-indices.md §7).
    glucocorticoid: p === undefined ? undefined : p <= Math.round(d.maxPrednisoneMgPerDay * 100),
    maintenance: treatment.maintenance,
  };
}

const DATA_ABSENT = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';
const UCUM = 'http://unitsofmeasure.org';

/** Inputs of an LLDAS or DORIS Observation. */
export interface StateObservationInput {
  readonly kind: 'lldas' | 'doris';
  readonly visit: AssessedVisit;
  /** Criterion values in the order of the data's criterion codes. */
  readonly criteria: readonly Tri[];
  readonly treatment: VisitTreatment;
  /** Visits whose derived SLEDAI-2K was used (the visit, and for LLDAS the previous one). */
  readonly sledaiVisits: readonly AssessedVisit[];
  readonly extraEvidence: readonly Resource[];
}

/**
 * The LLDAS or DORIS Observation of a visit: valueBoolean attained (dataAbsentReason when a criterion
 * is unknown and none fails), one valueBoolean component per criterion, and the prednisone-equivalent
 * dose as a component in mg/d.
 * @param input - The criteria and their evidence.
 * @param ctx - The subject context.
 * @returns The derived Observation.
 */
export function stateObservation(input: StateObservationInput, ctx: DerivedContext): Observation {
  const codes = ctx.rules.response.codes;
  const code = input.kind === 'lldas' ? codes.lldas : codes.doris;
  const names = input.kind === 'lldas' ? codes.lldasCriteria : codes.dorisCriteria;
  const header = derivedHeader(ctx, input.visit.visit, input.kind, assessmentConcept(ctx, code));
  const unknown = { dataAbsentReason: { coding: [{ system: DATA_ABSENT, code: 'unknown' }] } };
  const component: ObservationComponent[] = names.map((name, i) => {
    const met = input.criteria[i];
    return { code: assessmentConcept(ctx, name), ...(met === undefined ? unknown : { valueBoolean: met }) };
  });
  const mg = input.treatment.prednisone.mgPerDay;
  component.push({
    code: assessmentConcept(ctx, codes.prednisoneEquivalent),
    ...(mg === undefined ? unknown : { valueQuantity: { value: mg, unit: 'mg/d', system: UCUM, code: 'mg/d' } }),
  });
  const attained = allOf(input.criteria);
  const dose = input.treatment.prednisone;
  const notes = [
    ...dose.undecided.map(
      (u) =>
        `Glucocorticoid dose undecided (D10): records of ${u.product} disagree (${u.records.map((r) => `${r.resourceType}/${r.id ?? '?'}`).join(', ')}); awaiting the investigator.`,
    ),
    ...(dose.decidedBy ? [`Prednisone-equivalent dose decided by the investigator (D10): Observation/${dose.decidedBy.id ?? '?'}.`] : []),
  ];
  const evidence = evidenceParts(
    ctx,
    input.sledaiVisits.filter((v) => v.sledai).map((v) => `Observation/${derivedId(ctx.subject, v.visit.key, 'sledai-2k')}`),
    [...(input.visit.pga ? [input.visit.pga.observation] : []), ...input.treatment.evidence, ...(dose.decidedBy ? [dose.decidedBy] : []), ...input.extraEvidence],
  );
  return {
    ...header,
    ...(attained === undefined ? unknown : { valueBoolean: attained }),
    component,
    extension: [...(header.extension ?? []), ...evidence.extension],
    ...(evidence.derivedFrom.length > 0 ? { derivedFrom: evidence.derivedFrom } : {}),
    ...(notes.length > 0 ? { note: notes.map((text) => ({ text })) } : {}),
  };
}
