import { buildApp } from './build-app.js';

// The CDK app (cdk.json: `npx tsx infra/app.ts`); configuration: infra/config.ts.
buildApp().app.synth();
