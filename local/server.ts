import { resolveDataDir } from './keys.js';
import { startLocal } from './app.js';

// `npm start`: the layer on this machine, on its embedded defaults.
const dataDir = resolveDataDir();
const port = Number(process.env.PORT ?? 8080);
const app = await startLocal({ dataDir, port, env: process.env });
console.log(`FHIR API:  ${app.baseUrl}`);
console.log(`Data:      ${dataDir}`);
console.log(`Token:     TOKEN=$(npm run --silent token -- "system/*.cruds")`);
console.log(`Try:       curl -H "Authorization: Bearer $TOKEN" ${app.baseUrl}/metadata`);
const stop = (): void => {
  void app.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
