import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startLocal } from './app.js';
import { signInLines } from './auth/links.js';
import { resolveDataDir } from './keys.js';
import { resolveAppDir } from './static-app.js';

// `npm start`: the layer on this machine, on its embedded defaults.
const dataDir = resolveDataDir();
const port = Number(process.env.PORT ?? 8080);
// DYNAMODB_ENDPOINT: a DynamoDB the layer does not start itself (DynamoDB Local, another dynalite); default its own dynalite.
const app = await startLocal({ dataDir, port, env: process.env, ...(process.env.DYNAMODB_ENDPOINT ? { dynamoEndpoint: process.env.DYNAMODB_ENDPOINT } : {}) });
console.log(`FHIR API:  ${app.baseUrl}`);
console.log(`Data:      ${dataDir}`);
console.log(`Token:     TOKEN=$(npm run --silent token -- "system/*.cruds")`);
console.log(`Try:       curl -H "Authorization: Bearer $TOKEN" ${app.baseUrl}/metadata`);
// The study app and a sign-in link per role (local sign-in: no password, local run only).
const origin = new URL(app.baseUrl).origin;
for (const line of signInLines(origin)) console.log(line);
const appDir = resolveAppDir(undefined, process.env);
if (!existsSync(join(appDir, 'index.html'))) console.log(`           (the app is not built in ${appDir}: npm run build:app)`);
console.log(`Demo data: npm run demo   (pushes a simulated cohort into this layer)`);
const stop = (): void => {
  void app.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
