import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { startLocal } from './app.js';
import { signLocalToken } from './keys.js';
import { sampleSubjectBundle } from './samples/lupus-subject.js';

// `npm run demo`: pushes sample bundles into a fresh in-memory layer and prints what was stored.
const dataDir = mkdtempSync(join(tmpdir(), 'sle-fhir-demo-'));
const app = await startLocal({ dataDir, port: 0, persist: false, relayIntervalMs: 0, logger: new Logger({ serviceName: 'demo', logLevel: 'ERROR' }) });
const token = await signLocalToken(dataDir, 'system/*.cruds');

async function fhir(path: string, body?: unknown): Promise<Resource> {
  const res = await fetch(`${app.baseUrl}${path}`, {
    method: body ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return (await res.json()) as Resource;
}

const bundles: [string, unknown][] = [['sample lupus subject (local codes)', sampleSubjectBundle({ patientId: 'demo-1', day0: '2024-06-03' })]];
const synthea = resolve(import.meta.dirname, '../../shared/data/synthea');
if (existsSync(synthea)) {
  const file = readdirSync(synthea).find((f) => f.endsWith('.json'));
  if (file) bundles.push(["a Synthea patient (shared/data/synthea)", JSON.parse(readFileSync(join(synthea, file), "utf8"))]);
}

for (const [name, bundle] of bundles) {
  const response = (await fhir('', bundle)) as Bundle;
  const statuses: Record<string, number> = {};
  for (const entry of response.entry ?? []) {
    const status = entry.response?.status ?? '?';
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  console.log(`\n${name}: ${response.type ?? response.resourceType}`, statuses);
}

console.log('\nStored:');
for (const type of ['Patient', 'Observation', 'Condition', 'Encounter', 'MedicationAdministration', 'MedicationRequest', 'MedicationStatement', 'Provenance']) {
  const page = (await fhir(`/${type}?_count=1000`)) as Bundle;
  console.log(`  ${type.padEnd(26)} ${page.entry?.length ?? 0}`);
}
const labs = (await fhir('/Observation?code=http://loinc.org|4485-9&_count=3')) as Bundle;
console.log('\nA complement C3 as stored (translated from the local code C3, g/L → mg/dL):');
console.log(JSON.stringify(labs.entry?.[0]?.resource, null, 2));
await app.close();
