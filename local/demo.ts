/**
 * `npm run demo`: pushes a simulated cohort (local/demo-cohort.ts) into the running layer, waits until
 * the layer has computed every result, and prints what it holds and a sign-in link per role.
 *
 * The layer must be running (`npm start`); the token is signed with DATA_DIR's local key, as
 * `npm run token` does. `BASE_URL` (default `http://127.0.0.1:${PORT:-8080}/fhir`) picks the layer.
 */
import { seedDemoCohort } from './demo-cohort.js';
import { signInLines } from './auth/links.js';
import { resolveDataDir, signLocalToken } from './keys.js';

const baseUrl = (process.env.BASE_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}/fhir`).replace(/\/+$/, '');

try {
  const metadata = await fetch(`${baseUrl}/metadata`).catch(() => undefined);
  if (!metadata?.ok) {
    console.error(`No FHIR layer answers at ${baseUrl}. Start it first (npm start), or set BASE_URL.`);
    process.exit(1);
  }
  const token = await signLocalToken(resolveDataDir(), 'system/*.cruds', { subject: 'demo' });
  console.log(`Pushing a simulated cohort into ${baseUrl} (about a minute: the layer derives, screens and predicts as each bundle lands)`);
  const started = Date.now();
  const counts = await seedDemoCohort(baseUrl, token, {
    completed: 8,
    visits: [0, 4, 12, 24, 36, 48],
    timeoutMs: 300_000,
    log: (line) => console.log(line),
  });
  console.log(`\nDone in ${Math.round((Date.now() - started) / 1000)} s. The layer now holds, for these ${counts.patients} patients:`);
  console.log(`  screening           ${Object.entries(counts.screening).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  research subjects   ${Object.entries(counts.researchSubjects).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  SRI-4 at week 48    ${Object.entries(counts.week48).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  predictions         ${counts.predictions}`);
  console.log(`  open review Tasks   ${counts.openTasks}`);
  console.log('');
  for (const line of signInLines(new URL(baseUrl).origin)) console.log(line);
} catch (err) {
  console.error(`Demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
