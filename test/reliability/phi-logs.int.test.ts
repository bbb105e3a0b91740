/**
 * No PHI in logs: every line written to stdout/stderr (Powertools Logger, console, the store's
 * warnings) during a run over the shared data's patients is captured, and none may contain a name,
 * identifier, birth date, address or telecom value of the input Patients.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleSubjectBundle } from '../../local/samples/lupus-subject.js';
import { studyCourseBundle } from '../../local/samples/study-course.js';
import { SHARED_DATA, startTestApp, type TestApp } from '../support/local-app.js';
import { printSummary, STRESS } from './support.js';

const captured: string[] = [];
const restore: (() => void)[] = [];
const stats = { requests: 0, lines: 0, phiValues: 0, leaks: 0 };

/** Tees every write to stdout/stderr and every console call into `captured`. */
function captureOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    });
    restore.push(() => (stream.write = original));
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]): void => {
      captured.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a) ?? String(a))).join(' '));
      original(...args);
    };
    restore.push(() => (console[method] = original));
  }
}

/** The identifying values of a Patient: names, identifiers, birth date, address, telecom, its hospital id. */
function phiOf(patient: Patient): string[] {
  const values = [
    patient.id,
    patient.birthDate,
    ...(patient.name ?? []).flatMap((n) => [n.family, n.text, ...(n.given ?? []), ...(n.prefix ?? []).filter((p) => p.length > 4)]),
    ...(patient.identifier ?? []).map((i) => i.value),
    ...(patient.address ?? []).flatMap((a) => [...(a.line ?? []), a.city, a.postalCode, a.text]),
    ...(patient.telecom ?? []).map((t) => t.value),
  ];
  return values.filter((v): v is string => typeof v === 'string' && v.length >= 3);
}

function patientsOf(bundle: Bundle): Patient[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is Patient => r?.resourceType === 'Patient');
}

const syntheaDir = join(SHARED_DATA, 'synthea');
const hl7Dir = join(SHARED_DATA, 'hl7-fhir-r4-examples');
const INPUTS: { name: string; bundle: Bundle; path?: string }[] = [
  ...readdirSync(syntheaDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ name: `synthea ${f}`, bundle: JSON.parse(readFileSync(join(syntheaDir, f), 'utf8')) as Bundle })),
  ...readdirSync(hl7Dir)
    .filter((f) => f.startsWith('Patient-'))
    .map((f) => {
      const patient = JSON.parse(readFileSync(join(hl7Dir, f), 'utf8')) as Patient;
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [{ fullUrl: 'urn:uuid:0e5c4f7a-9d7b-4a43-8c1e-000000000001', resource: patient, request: { method: 'PUT', url: `Patient/${patient.id}` } }],
      };
      return { name: `HL7 ${f} in a batch`, bundle };
    }),
  { name: 'sample lupus subject', bundle: sampleSubjectBundle({ patientId: 'phi-1', day0: '2031-02-03' }) },
  { name: 'sample lupus subject (batch)', bundle: sampleSubjectBundle({ patientId: 'phi-2', day0: '2024-06-03', bundleType: 'batch' }) },
  {
    name: 'sample study course',
    bundle: studyCourseBundle({
      patientId: 'phi-3',
      day0: '2023-01-09',
      visits: [
        { week: 0, present: ['arthritis', 'rash'], pga: 1.5, labs: { c3: 0.6 } },
        { week: 52, present: [], pga: 0.3, labs: { c3: 0.9 } },
      ],
    }),
  },
];

/** Refused variants: their error paths log too. */
function refusedVariants(): { name: string; body: string }[] {
  const unknownCode: any = sampleSubjectBundle({ patientId: 'phi-bad-1', day0: '2024-06-03' });
  unknownCode.entry.find((e: any) => e.resource.resourceType === 'Observation').resource.code.coding[0].code = 'NOPE';
  const badDate: any = sampleSubjectBundle({ patientId: 'phi-bad-2', day0: '2024-06-03' });
  badDate.entry[0].resource.birthDate = 'April 12th 1990';
  const badUnit: any = sampleSubjectBundle({ patientId: 'phi-bad-3', day0: '2024-06-03', bundleType: 'batch' });
  badUnit.entry.find((e: any) => e.resource.valueQuantity).resource.valueQuantity = { value: 1, unit: 'parsecs' };
  const broken = JSON.stringify(sampleSubjectBundle({ patientId: 'phi-bad-4', day0: '2024-06-03' }));
  return [
    { name: 'unknown local code', body: JSON.stringify(unknownCode) },
    { name: 'birth date in words', body: JSON.stringify(badDate) },
    { name: 'inconvertible unit in a batch', body: JSON.stringify(badUnit) },
    { name: 'truncated JSON', body: broken.slice(0, broken.indexOf('Lovelace') + 20) },
    { name: 'entry null (500 today)', body: JSON.stringify({ ...JSON.parse(broken), entry: [null, ...JSON.parse(broken).entry] }) },
  ];
}

let app: TestApp;

beforeAll(async () => {
  captureOutput();
  app = await startTestApp({ logger: new Logger({ serviceName: 'phi-check', logLevel: 'DEBUG' }) });
});

afterAll(async () => {
  await app?.close();
  restore.forEach((r) => r());
  printSummary('phi in logs', { requests: stats.requests, logLines: stats.lines, phiValuesChecked: stats.phiValues, leaks: stats.leaks });
});

describe('No PHI in logs', () => {
  it('logs no name, identifier, birth date, address or telecom of any input patient', { timeout: STRESS ? 1_200_000 : 120_000 }, async () => {
    const pseudonyms: string[] = [];
    for (const { bundle, path } of INPUTS) {
      const res = await app.fetchFhir(path ?? '', { method: 'POST', body: JSON.stringify(bundle) });
      stats.requests++;
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBeLessThan(500);
      for (const e of res.body.entry ?? []) if (e.response?.location?.startsWith('Patient/')) pseudonyms.push(e.response.location.split('/')[1]);
    }
    for (const { body } of refusedVariants()) {
      await app.fetchFhir('', { method: 'POST', body });
      stats.requests++;
    }
    for (const pseudonym of pseudonyms) {
      expect((await app.fetchFhir(`/Patient/${pseudonym}/$hospital-identity`, { scopes: 'recruitment/identity.read' })).status).toBe(200);
      expect((await app.fetchFhir(`/Observation?subject=Patient/${pseudonym}&_count=5`)).status).toBe(200);
      stats.requests += 2;
    }
    await app.drainOutbox();
    await app.drainOutbox();

    const phi = [...new Set([...INPUTS.flatMap(({ bundle }) => patientsOf(bundle).flatMap(phiOf)), 'Ada Lovelace', 'phi-bad-1', 'MRN-phi-bad-4'])];
    const log = captured.join('\n');
    stats.lines = log.split('\n').filter((l) => l.trim().length > 0).length;
    stats.phiValues = phi.length;
    const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const leaks = phi.filter((value) => new RegExp(`(?<![A-Za-z0-9])${escape(value)}(?![A-Za-z0-9])`).test(log));
    stats.leaks = leaks.length;
    // The run did log: one line per ingest at least, so an empty capture cannot pass.
    expect(log.match(/Bundle ingested/g)?.length ?? 0).toBeGreaterThanOrEqual(INPUTS.length);
    expect(phi.length).toBeGreaterThan(30);
    expect(leaks).toEqual([]);
  });
});
