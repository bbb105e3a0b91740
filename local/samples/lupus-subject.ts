import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';

/** The sample hospital's local code systems (the study's ConceptMap translates from these). */
export const LOCAL_LAB = 'http://hospital.example.org/fhir/CodeSystem/local-lab';
export const LOCAL_DRUG = 'http://hospital.example.org/fhir/CodeSystem/local-drug';
export const LOCAL_DIAGNOSIS = 'http://hospital.example.org/fhir/CodeSystem/local-diagnosis';

/** Options for a made-up subject; everything in it is invented. */
export interface SampleSubjectOptions {
  /** The hospital's Patient id (and MRN). */
  readonly patientId: string;
  /** Day 0: the first belimumab infusion (YYYY-MM-DD). */
  readonly day0: string;
  readonly bundleType?: 'transaction' | 'batch';
}

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * A transaction bundle as the hospital EHR would push it for one lupus patient starting belimumab:
 * identifiable Patient, local lab, drug and diagnosis codes, units as the lab writes them. Used by
 * `npm run demo` and the end-to-end tests; the names and numbers are invented.
 * @param options - Who and when.
 * @returns The bundle.
 */
export function sampleSubjectBundle(options: SampleSubjectOptions): Bundle {
  const { patientId, day0 } = options;
  const patientUrl = `urn:uuid:${patientId}`;
  const entries: BundleEntry[] = [];
  const add = (resource: Resource, id: string): void => {
    entries.push({ fullUrl: `urn:uuid:${id}`, resource: { ...resource, id }, request: { method: 'POST', url: resource.resourceType } });
  };
  entries.push({
    fullUrl: patientUrl,
    resource: {
      resourceType: 'Patient',
      id: patientId,
      identifier: [{ system: 'http://hospital.example.org/mrn', value: `MRN-${patientId}` }],
      name: [{ family: 'Lovelace', given: ['Ada'] }],
      telecom: [{ system: 'phone', value: '+1 555 0100' }],
      address: [{ line: ['1 Example Street'], city: 'Springfield' }],
      gender: 'female',
      birthDate: '1990-04-12',
    },
    request: { method: 'PUT', url: `Patient/${patientId}` },
  });
  const subject = { reference: patientUrl, display: 'Ada Lovelace' };
  add(
    {
      resourceType: 'Condition',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
      code: { coding: [{ system: LOCAL_DIAGNOSIS, code: 'SLE', display: 'Systemic lupus erythematosus' }] },
      subject,
      onsetDateTime: '2019-02-01',
      recordedDate: '2019-02-03',
    },
    `${patientId}-cond-sle`,
  );
  const lab = (code: string, display: string, day: number, value: number, unit: string, low?: number, high?: number): void => {
    add(
      {
        resourceType: 'Observation',
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
        code: { coding: [{ system: LOCAL_LAB, code, display }] },
        subject,
        effectiveDateTime: `${addDays(day0, day)}T08:00:00+08:00`,
        valueQuantity: { value, unit },
        ...(low !== undefined || high !== undefined
          ? { referenceRange: [{ ...(low !== undefined ? { low: { value: low, unit } } : {}), ...(high !== undefined ? { high: { value: high, unit } } : {}) }] }
          : {}),
        note: [{ text: 'Drawn by nurse Jane Roe' }],
      },
      `${patientId}-lab-${code}-${day}`,
    );
  };
  for (const day of [-3, 14, 28]) {
    lab('PLT', 'Platelets', day, day < 0 ? 95 : 160, '10*9/L');
    lab('WBC', 'White cells', day, day < 0 ? 2.8 : 4.1, '10*9/L');
    lab('C3', 'Complement C3', day, day < 0 ? 0.62 : 0.85, 'g/L', 0.9, 1.8);
    lab('C4', 'Complement C4', day, day < 0 ? 0.08 : 0.12, 'g/L', 0.1, 0.4);
    lab('DSDNA', 'Anti-dsDNA', day, day < 0 ? 180 : 90, '[IU]/mL', undefined, 100);
    lab('UPROT24', '24-h urine protein', day, day < 0 ? 1200 : 600, 'mg/(24.h)');
  }
  add(
    {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '29463-7', display: 'Body weight' }] },
      subject,
      effectiveDateTime: `${addDays(day0, -3)}T08:00:00+08:00`,
      valueQuantity: { value: 62, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
    },
    `${patientId}-weight`,
  );
  add(
    {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: LOCAL_LAB, code: 'TEMP', display: 'Temperature' }] },
      subject,
      effectiveDateTime: `${addDays(day0, -3)}T08:00:00+08:00`,
      valueQuantity: { value: 100.9, unit: '[degF]', system: 'http://unitsofmeasure.org', code: '[degF]' },
    },
    `${patientId}-temp`,
  );
  for (const [i, day] of [0, 14, 28].entries()) {
    add(
      {
        resourceType: 'MedicationAdministration',
        status: 'completed',
        medicationCodeableConcept: { coding: [{ system: LOCAL_DRUG, code: 'BELI', display: 'Belimumab 10 mg/kg IV' }] },
        subject,
        effectiveDateTime: `${addDays(day0, day)}T10:00:00+08:00`,
        dosage: {
          route: { coding: [{ system: 'http://snomed.info/sct', code: '47625008', display: 'Intravenous route' }] },
          dose: { value: 10, unit: 'mg/kg', system: 'http://unitsofmeasure.org', code: 'mg/kg' },
          text: 'Given by Dr. Who',
        },
      },
      `${patientId}-beli-${i}`,
    );
  }
  add(
    {
      resourceType: 'MedicationStatement',
      status: 'active',
      medicationCodeableConcept: { coding: [{ system: LOCAL_DRUG, code: 'HCQ', display: 'Hydroxychloroquine 200 mg' }] },
      subject,
      effectivePeriod: { start: '2019-03-01' },
      dosage: [{ text: '200 mg twice daily', route: { coding: [{ system: 'http://snomed.info/sct', code: '26643006', display: 'Oral route' }] } }],
    },
    `${patientId}-hcq`,
  );
  add({ resourceType: 'Claim', status: 'active', use: 'claim', type: { text: 'institutional' }, patient: subject, created: day0, provider: { display: 'Hospital' }, priority: { text: 'normal' }, insurance: [{ sequence: 1, focal: true, coverage: { display: 'Cover' } }] }, `${patientId}-claim`);
  return { resourceType: 'Bundle', type: options.bundleType ?? 'transaction', entry: entries };
}
