import { startTestApp } from '/work/main/test/support/local-app.js';
import { seedDemoCohort } from '/work/main/local/demo-cohort.js';
const app = await startTestApp();
const t0 = Date.now();
try {
  const counts = await seedDemoCohort(app.baseUrl, await app.token('system/*.cruds'), { log: (l) => console.log(((Date.now()-t0)/1000).toFixed(1), l), timeoutMs: 60000 });
  console.log(JSON.stringify(counts, null, 1));
} catch (e) { console.error(e); }
console.log('seconds', (Date.now() - t0) / 1000);
await app.close();
