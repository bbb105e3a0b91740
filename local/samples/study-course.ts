import type { Bundle, BundleEntry, Observation, Resource } from '@medplum/fhirtypes';
import { DEFAULT_CANONICAL_BASE } from '../../lambdas/commons/config.js';
import { LOCAL_DRUG, LOCAL_LAB } from './lupus-subject.js';

/** The SLEDAI-2K descriptors a clinician records (the lab ones come from the labs). */
export const CLINICIAN_DESCRIPTORS = [
  'seizure',
  'psychosis',
  'organic-brain-syndrome',
  'visual-disturbance',
  'cranial-nerve-disorder',
  'lupus-headache',
  'cva',
  'vasculitis',
  'arthritis',
  'myositis',
  'rash',
  'alopecia',
  'mucosal-ulcers',
  'pleurisy',
  'pericarditis',
] as const;

export const BILAG_DOMAINS = [
  'constitutional',
  'mucocutaneous',
  'neuropsychiatric',
  'musculoskeletal',
  'cardiorespiratory',
  'gastrointestinal',
  'ophthalmic',
  'renal',
  'hematological',
] as const;

/** What the clinician and the lab record at one visit. */
export interface VisitRecord {
  readonly week: number;
  /** Clinician descriptors present; the others are recorded absent. */
  readonly present: readonly (typeof CLINICIAN_DESCRIPTORS)[number][];
  /** BILAG-2004 grade per domain; unlisted domains are E. */
  readonly bilag?: Partial<Record<(typeof BILAG_DOMAINS)[number], 'A' | 'B' | 'C' | 'D' | 'E'>>;
  readonly pga: number;
  /**
   * Labs drawn on the visit day, in the sample hospital's local codes and units. When a visit has labs,
   * the urine sediment and the temperature are drawn too (unremarkable unless given), so that every lab
   * descriptor of SLEDAI-2K is assessed (D3); a visit without `labs` has none, and its score is partial.
   */
  readonly labs?: Partial<{
    c3: number;
    c4: number;
    dsdna: number;
    uprot24: number;
    plt: number;
    wbc: number;
    cd19: number;
    nsmb: number;
    urbc: number;
    uwbc: number;
    rbccast: number;
    temp: number;
  }>;
}

export interface StudyCourseOptions {
  readonly patientId: string;
  /** Day 0 (YYYY-MM-DD). */
  readonly day0: string;
  readonly visits: readonly VisitRecord[];
  /** Belimumab infusions to give (days 0, 14, 28, then every 28 days up to this day; default 336). */
  readonly lastInfusionDay?: number;
  readonly base?: string;
}

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * A transaction bundle holding a subject's course in the study as the EHR would push it: the
 * belimumab infusions (local drug code), and at each visit the clinician's SLEDAI-2K descriptors,
 * the BILAG-2004 grades, the PGA and the labs (local lab codes, g/L and mg/24 h as the lab writes
 * them). Invented data for the demo and the end-to-end tests.
 * @param options - The subject and its visits.
 * @returns The bundle.
 */
export function studyCourseBundle(options: StudyCourseOptions): Bundle {
  const base = options.base ?? DEFAULT_CANONICAL_BASE;
  const { patientId, day0 } = options;
  const subject = { reference: `urn:uuid:${patientId}` };
  const entries: BundleEntry[] = [
    {
      fullUrl: subject.reference,
      resource: { resourceType: 'Patient', id: patientId, gender: 'female', birthDate: '1988-09-30', name: [{ family: 'Example', given: ['Erin'] }] },
      request: { method: 'PUT', url: `Patient/${patientId}` },
    },
  ];
  const add = (resource: Resource, key: string): void => {
    const id = `${patientId}-${key}`;
    entries.push({ fullUrl: `urn:uuid:${id}`, resource: { ...resource, id }, request: { method: 'POST', url: resource.resourceType } });
  };
  const observation = (key: string, day: number, body: Omit<Observation, 'resourceType' | 'status' | 'subject'>): void =>
    add({ resourceType: 'Observation', status: 'final', subject, effectiveDateTime: `${addDays(day0, day)}T09:00:00+08:00`, ...body }, key);

  add(
    {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: LOCAL_LAB, code: 'WT' }] },
      subject,
      effectiveDateTime: `${addDays(day0, -7)}T08:00:00+08:00`,
      valueQuantity: { value: 60, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
    },
    'weight',
  );
  const last = options.lastInfusionDay ?? 336;
  const infusionDays = [0, 14, 28];
  for (let d = 56; d <= last; d += 28) infusionDays.push(d);
  for (const day of infusionDays.filter((d) => d <= last)) {
    add(
      {
        resourceType: 'MedicationAdministration',
        status: 'completed',
        medicationCodeableConcept: { coding: [{ system: LOCAL_DRUG, code: 'BELI' }] },
        subject,
        effectiveDateTime: `${addDays(day0, day)}T10:00:00+08:00`,
        dosage: { dose: { value: 10, unit: 'mg/kg', system: 'http://unitsofmeasure.org', code: 'mg/kg' } },
      },
      `beli-${day}`,
    );
  }
  for (const visit of options.visits) {
    const day = visit.week * 7;
    for (const descriptor of CLINICIAN_DESCRIPTORS) {
      observation(`w${visit.week}-sledai-${descriptor}`, day, {
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'exam' }] }],
        code: { coding: [{ system: `${base}/CodeSystem/sledai-2k`, code: descriptor }] },
        valueBoolean: visit.present.includes(descriptor),
      });
    }
    for (const domain of BILAG_DOMAINS) {
      observation(`w${visit.week}-bilag-${domain}`, day, {
        code: { coding: [{ system: `${base}/CodeSystem/bilag-2004`, code: domain }] },
        valueCodeableConcept: { coding: [{ system: `${base}/CodeSystem/bilag-2004`, code: visit.bilag?.[domain] ?? 'E' }] },
      });
    }
    observation(`w${visit.week}-pga`, day, {
      code: { coding: [{ system: `${base}/CodeSystem/study-assessments`, code: 'pga' }] },
      valueQuantity: { value: visit.pga, unit: '{score}', system: 'http://unitsofmeasure.org', code: '{score}' },
    });
    const labs: NonNullable<VisitRecord['labs']> = visit.labs ? { urbc: 1, uwbc: 2, rbccast: 0, temp: 36.8, ...visit.labs } : {};
    const lab = (code: string, value: number | undefined, unit: string, range?: { low?: number; high?: number }): void => {
      if (value === undefined) return;
      observation(`w${visit.week}-lab-${code}`, day, {
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: code === 'TEMP' ? 'vital-signs' : 'laboratory' }] }],
        code: { coding: [{ system: LOCAL_LAB, code }] },
        valueQuantity: { value, unit },
        ...(range
          ? { referenceRange: [{ ...(range.low !== undefined ? { low: { value: range.low, unit } } : {}), ...(range.high !== undefined ? { high: { value: range.high, unit } } : {}) }] }
          : {}),
      });
    };
    lab('C3', labs.c3, 'g/L', { low: 0.9, high: 1.8 });
    lab('C4', labs.c4, 'g/L', { low: 0.1, high: 0.4 });
    lab('DSDNA', labs.dsdna, '[IU]/mL', { high: 100 });
    lab('UPROT24', labs.uprot24, 'mg/(24.h)');
    lab('PLT', labs.plt, '10*9/L');
    lab('WBC', labs.wbc, '10*9/L');
    lab('CD19PCT', labs.cd19, '%');
    lab('NSMB', labs.nsmb, '%');
    lab('URBC', labs.urbc, '/[HPF]');
    lab('UWBC', labs.uwbc, '/[HPF]');
    lab('RBCCAST', labs.rbccast, '/[LPF]');
    lab('TEMP', labs.temp, 'Cel');
  }
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}
