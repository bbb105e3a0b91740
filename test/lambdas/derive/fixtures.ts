import type {
  Condition,
  Extension,
  MedicationAdministration,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Quantity,
  Resource,
  ResearchSubject,
  Timing,
} from '@medplum/fhirtypes';
import { deriveSubject, type DerivedSubject } from '../../../lambdas/derive/core/derive-subject.js';
import { addDays, daysBetween } from '../../../lambdas/derive/core/fhir-access.js';
import { loadDerivationRules, type DerivationRules } from '../../../lambdas/derive/core/rules.js';
import { isUsableMedication, type MedicationResource } from '../../../lambdas/derive/core/medications.js';
import { scoreSledai, sledaiObservation, sledaiReviewItems, type SledaiScore } from '../../../lambdas/derive/core/sledai.js';
import { groupVisits } from '../../../lambdas/derive/core/visits.js';
import { studyUrls } from '../../../lambdas/derive/core/fhir-access.js';
import type { ReviewItem } from '../../../lambdas/commons/review/review-item.js';

export const BASE = 'https://belimumab-sle.example.org/fhir';
export const SUBJECT = 'sub-0001';
export const SLEDAI = `${BASE}/CodeSystem/sledai-2k`;
export const BILAG = `${BASE}/CodeSystem/bilag-2004`;
export const ASSESSMENTS = `${BASE}/CodeSystem/study-assessments`;
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const SNOMED = 'http://snomed.info/sct';
export const ORAL = { coding: [{ system: SNOMED, code: '26643006' }] };
export const IV = { coding: [{ system: SNOMED, code: '47625008' }] };

/** The repository's derivation data, loaded once. */
export const rules: DerivationRules = loadDerivationRules();

/** Study days of the schedule (registry record: weeks 0, 2, 4, 8, 12, 24, 36, 48). */
export const VISIT_DAYS: Record<string, number> = {
  'week-0': 0,
  'week-2': 14,
  'week-4': 28,
  'week-8': 56,
  'week-12': 84,
  'week-24': 168,
  'week-36': 252,
  'week-48': 336,
};

export const DOMAINS = rules.response.bilag.domains;

/** Grades for all nine BILAG-2004 domains: `rest` everywhere, overridden per domain. */
export function grades(rest: string, overrides: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(DOMAINS.map((d) => [d, overrides[d] ?? rest]));
}

interface VisitSpec {
  /** Descriptors recorded present; every other descriptor is recorded absent (`all`, the default), only
   * those without a lab rule (`clinical`: the lab descriptors are left to the labs), or none (`none`). */
  readonly present?: readonly string[];
  readonly recordAbsent?: 'all' | 'clinical' | 'none';
  readonly bilag?: Record<string, string>;
  readonly pga?: number;
  /** Visit date; default day0 + the schedule's day. */
  readonly date?: string;
}

/**
 * Builds one subject's study resources the way the ingest stores them: study-visit and study-day
 * extensions, LOINC-coded labs in normalised UCUM, study code systems for assessments.
 */
export class SubjectBuilder {
  readonly resources: Resource[] = [];
  private counter = 0;

  constructor(
    readonly day0 = '2024-06-03',
    readonly subject = SUBJECT,
  ) {}

  /** The calendar date of a study day. */
  day(studyDay: number): string {
    return addDays(this.day0, studyDay);
  }

  /** The default date of a scheduled visit. */
  visitDate(visit: string): string {
    return this.day(VISIT_DAYS[visit] ?? 0);
  }

  private id(prefix: string): string {
    this.counter += 1;
    return `${prefix}-${String(this.counter).padStart(4, '0')}`;
  }

  private extensions(visit: string | undefined, date: string): Extension[] {
    return visit
      ? [
          { url: `${BASE}/StructureDefinition/study-visit`, valueCoding: { system: `${BASE}/CodeSystem/study-visit`, code: visit } },
          { url: `${BASE}/StructureDefinition/study-day`, valueInteger: daysBetween(this.day0, date) },
        ]
      : [];
  }

  private observation(visit: string | undefined, date: string, system: string, code: string, value: Partial<Observation>): Observation {
    const observation: Observation = {
      resourceType: 'Observation',
      id: this.id('obs'),
      extension: this.extensions(visit, date),
      status: 'final',
      code: { coding: [{ system, code }] },
      subject: { reference: `Patient/${this.subject}` },
      effectiveDateTime: date,
      ...value,
    };
    this.resources.push(observation);
    return observation;
  }

  /** A clinician's SLEDAI-2K descriptor record. */
  descriptor(visit: string, date: string, code: string, present: boolean): Observation {
    return this.observation(visit, date, SLEDAI, code, { valueBoolean: present });
  }

  /** The investigator's decision of a SLEDAI-2K descriptor (settling a review): a descriptor record with meta.source `{base}/investigator`. */
  investigatorDescriptor(visit: string, date: string, code: string, present: boolean): Observation {
    return this.observation(visit, date, SLEDAI, code, { meta: { source: `${BASE}/investigator` }, valueBoolean: present });
  }

  /** A Condition (e.g. an infection) with onset and optional abatement. */
  condition(system: string, code: string, onset: string, options: { abatement?: string; clinicalStatus?: string; verificationStatus?: string } = {}): Condition {
    const condition: Condition = {
      resourceType: 'Condition',
      id: this.id('cond'),
      ...(options.clinicalStatus === undefined ? {} : { clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: options.clinicalStatus }] } }),
      ...(options.verificationStatus === undefined
        ? {}
        : { verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: options.verificationStatus }] } }),
      code: { coding: [{ system, code }] },
      subject: { reference: `Patient/${this.subject}` },
      onsetDateTime: onset,
      ...(options.abatement ? { abatementDateTime: options.abatement } : {}),
    };
    this.resources.push(condition);
    return condition;
  }

  /** Scores the SLEDAI-2K of one visit directly (without the rest of the derivation): the score, its Observation and its review items. */
  sledai(visitCode = 'week-0', override: DerivationRules = rules): { score: SledaiScore | undefined; observation: Observation | undefined; reviews: ReviewItem[] } {
    const urls = studyUrls(BASE);
    const observations = this.resources.filter((r): r is Observation => r.resourceType === 'Observation');
    const medications = this.resources.filter((r): r is MedicationResource => isUsableMedication(r, override.medications));
    const conditions = this.resources.filter((r): r is Condition => r.resourceType === 'Condition');
    const visit = groupVisits(observations, urls, override).find((v) => v.code === visitCode);
    const score = visit ? scoreSledai(visit, { observations, medications, conditions }, urls, override) : undefined;
    const ctx = { urls, subject: this.subject, rules: override };
    return { score, observation: score ? sledaiObservation(score, ctx) : undefined, reviews: score ? sledaiReviewItems(score, ctx) : [] };
  }

  /** The SLEDAI-2K total as the EHR sent it. */
  ehrTotal(visit: string, date: string, total: number): Observation {
    return this.observation(visit, date, SLEDAI, 'total', { valueInteger: total });
  }

  /** One BILAG-2004 domain grade. */
  bilag(visit: string, date: string, domain: string, grade: string): Observation {
    return this.observation(visit, date, BILAG, domain, { valueCodeableConcept: { coding: [{ system: BILAG, code: grade }] } });
  }

  /** The PGA on the 0–3 scale. */
  pga(visit: string, date: string, value: number): Observation {
    return this.observation(visit, date, ASSESSMENTS, 'pga', { valueQuantity: { value, unit: '{score}', system: 'http://unitsofmeasure.org', code: '{score}' } });
  }

  /** An Observation coded in study-assessments (e.g. haemolysis). */
  assessment(visit: string | undefined, date: string, code: string, value: Partial<Observation>): Observation {
    return this.observation(visit, date, ASSESSMENTS, code, value);
  }

  /** A LOINC lab or vital sign. */
  lab(date: string, loinc: string, value: number | Partial<Observation>, unit?: string, extra: Partial<Observation> & { comparator?: Quantity['comparator'] } = {}): Observation {
    const { comparator, ...rest } = extra;
    const valuePart: Partial<Observation> =
      typeof value === 'number'
        ? { valueQuantity: { value, ...(comparator ? { comparator } : {}), ...(unit ? { unit, system: 'http://unitsofmeasure.org', code: unit } : {}) } }
        : value;
    return this.observation(undefined, date, 'http://loinc.org', loinc, { category: [{ coding: [{ code: 'laboratory' }] }], ...valuePart, ...rest });
  }

  /** A whole assessment visit: SLEDAI-2K descriptors, BILAG-2004 domains and PGA. */
  visit(visit: string, spec: VisitSpec = {}): string {
    const date = spec.date ?? this.visitDate(visit);
    const present = new Set(spec.present ?? []);
    const labDescriptors = new Set(rules.labs.rules.map((r) => r.descriptor));
    const recordAbsent = spec.recordAbsent ?? 'all';
    for (const d of rules.sledai.descriptors) {
      if (present.has(d.code) || recordAbsent === 'all' || (recordAbsent === 'clinical' && !labDescriptors.has(d.code))) {
        this.descriptor(visit, date, d.code, present.has(d.code));
      }
    }
    for (const [domain, grade] of Object.entries(spec.bilag ?? {})) {
      this.bilag(visit, date, domain, grade);
    }
    if (spec.pga !== undefined) {
      this.pga(visit, date, spec.pga);
    }
    return date;
  }

  /** A completed belimumab infusion (RxNorm 1092437). */
  belimumab(date: string): MedicationAdministration {
    return this.administration('1092437', 'belimumab', date, 10, 'mg/kg', IV);
  }

  /** A MedicationAdministration with a dose. */
  administration(rxnorm: string, display: string, date: string, dose: number, unit = 'mg', route = ORAL): MedicationAdministration {
    const admin: MedicationAdministration = {
      resourceType: 'MedicationAdministration',
      id: this.id('ma'),
      status: 'completed',
      medicationCodeableConcept: { coding: [{ system: RXNORM, code: rxnorm, display }] },
      subject: { reference: `Patient/${this.subject}` },
      effectiveDateTime: date,
      dosage: { route, dose: { value: dose, unit, system: 'http://unitsofmeasure.org', code: unit } },
    };
    this.resources.push(admin);
    return admin;
  }

  /** A MedicationStatement of daily use from `start` (to `end`). */
  statement(
    rxnorm: string,
    display: string,
    dose: number,
    start: string,
    options: { end?: string; unit?: string; route?: typeof ORAL | null; timing?: Timing } = {},
  ): MedicationStatement {
    const statement: MedicationStatement = {
      resourceType: 'MedicationStatement',
      id: this.id('ms'),
      status: 'active',
      medicationCodeableConcept: { coding: [{ system: RXNORM, code: rxnorm, display }] },
      subject: { reference: `Patient/${this.subject}` },
      effectivePeriod: { start, ...(options.end ? { end: options.end } : {}) },
      dosage: [
        {
          ...(options.route === null ? {} : { route: options.route ?? ORAL }),
          ...(options.timing ? { timing: options.timing } : {}),
          doseAndRate: [{ doseQuantity: { value: dose, ...(options.unit === '' ? {} : { unit: options.unit ?? 'mg', code: options.unit ?? 'mg' }) } }],
        },
      ],
    };
    this.resources.push(statement);
    return statement;
  }

  /** A MedicationRequest authored on a date. */
  request(rxnorm: string, display: string, authoredOn: string): MedicationRequest {
    const request: MedicationRequest = {
      resourceType: 'MedicationRequest',
      id: this.id('mr'),
      status: 'active',
      intent: 'order',
      medicationCodeableConcept: { coding: [{ system: RXNORM, code: rxnorm, display }] },
      subject: { reference: `Patient/${this.subject}` },
      authoredOn,
    };
    this.resources.push(request);
    return request;
  }

  /** A MedicationRequest with a daily dose, authored on a date, covering `start` (default authoredOn) to `end`. */
  requestDose(
    rxnorm: string,
    display: string,
    dose: number,
    authoredOn: string,
    options: { start?: string; end?: string; unit?: string; route?: typeof ORAL } = {},
  ): MedicationRequest {
    const request: MedicationRequest = {
      resourceType: 'MedicationRequest',
      id: this.id('mr'),
      status: 'active',
      intent: 'order',
      medicationCodeableConcept: { coding: [{ system: RXNORM, code: rxnorm, display }] },
      subject: { reference: `Patient/${this.subject}` },
      authoredOn,
      dosageInstruction: [
        {
          route: options.route ?? ORAL,
          timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd', boundsPeriod: { start: options.start ?? authoredOn, ...(options.end ? { end: options.end } : {}) } } },
          doseAndRate: [{ doseQuantity: { value: dose, unit: options.unit ?? 'mg', code: options.unit ?? 'mg' } }],
        },
      ],
    };
    this.resources.push(request);
    return request;
  }

  /** The investigator's decision of the prednisone-equivalent dose on a date (D10, settling a review-glucocorticoid-dose Task). */
  investigatorDose(date: string, mgPerDay: number): Observation {
    return this.observation(undefined, date, ASSESSMENTS, 'investigator-decision', {
      meta: { source: `${BASE}/investigator` },
      component: [
        {
          code: { coding: [{ system: ASSESSMENTS, code: 'prednisone-equivalent-dose' }] },
          valueQuantity: { value: mgPerDay, unit: 'mg/d', system: 'http://unitsofmeasure.org', code: 'mg/d' },
        },
      ],
    });
  }

  /** The subject's ResearchSubject. */
  researchSubject(status: ResearchSubject['status'], end?: string): ResearchSubject {
    const rs: ResearchSubject = {
      resourceType: 'ResearchSubject',
      id: this.id('rs'),
      status,
      study: { reference: 'ResearchStudy/nct04893161' },
      individual: { reference: `Patient/${this.subject}` },
      period: { start: this.day0, ...(end ? { end } : {}) },
    };
    this.resources.push(rs);
    return rs;
  }

  /** Runs the derivation: the derived Observations. */
  derive(asOf = '2024-07-01', override: DerivationRules = rules): Observation[] {
    return this.deriveAll(asOf, override).observations;
  }

  /** Runs the derivation: the derived Observations and the review items. */
  deriveAll(asOf = '2024-07-01', override: DerivationRules = rules): DerivedSubject {
    return deriveSubject({ base: BASE, subject: this.subject, resources: this.resources, asOf: new Date(`${asOf}T12:00:00Z`) }, override);
  }
}

/** The derived Observation of a kind at a visit. */
export function find(out: readonly Observation[], kind: string, visit: string): Observation {
  const found = out.find(
    (o) =>
      o.code.coding?.some((c) => c.code === (kind === 'sledai-2k' ? 'total' : kind)) &&
      o.extension?.some((e) => e.url.endsWith('/study-visit') && e.valueCoding?.code === visit),
  );
  if (!found) {
    throw new Error(`No ${kind} at ${visit}`);
  }
  return found;
}

/** The code of a valueCodeableConcept. */
export function outcomeOf(o: Observation): string | undefined {
  return o.valueCodeableConcept?.coding?.[0]?.code;
}

/** The component with a code. */
export function componentOf(o: Observation, code: string): NonNullable<Observation['component']>[number] | undefined {
  return o.component?.find((c) => c.code.coding?.some((k) => k.code === code));
}

/** The outcome-reason codes. */
export function reasonsOf(o: Observation): string[] {
  return (o.component ?? []).filter((c) => c.code.coding?.[0]?.code === 'outcome-reason').map((c) => c.valueCodeableConcept?.coding?.[0]?.code ?? '');
}

/** Rules with a deep override applied (a data change, as a test would make it). */
export function withRules(change: (copy: DerivationRules) => void): DerivationRules {
  const copy = structuredClone(rules);
  change(copy);
  return copy;
}
