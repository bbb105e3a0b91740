import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppProps } from 'aws-cdk-lib';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import type { InfraConfig } from './config.js';
import { loadInfraConfig, resourcePrefix } from './config.js';
import type { FunctionSpec } from './functions.js';
import { FUNCTIONS } from './functions.js';
import { StudyStack } from './study-stack.js';

/** The repository root (this file is in infra/). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Options of {@link buildApp}. */
export interface BuildAppOptions extends AppProps {
  /** Environment the configuration falls back to (default `process.env`). */
  readonly env?: Record<string, string | undefined>;
  /** The functions (default infra/functions.ts). */
  readonly functions?: readonly FunctionSpec[];
}

/** The app, its one stack and the configuration it was built with. */
export interface BuiltApp {
  readonly app: App;
  readonly stack: StudyStack;
  readonly config: InfraConfig;
}

/**
 * Builds the CDK app with the AWS Solutions and HIPAA Security nag packs registered: a synth with an
 * unacknowledged finding fails.
 * @param options - App props (context, outdir) and the environment.
 * @returns The app and its stack.
 */
export function buildApp(options: BuildAppOptions = {}): BuiltApp {
  const { env = process.env, functions = FUNCTIONS, ...appProps } = options;
  const app = new App(appProps);
  const config = loadInfraConfig((key) => app.node.tryGetContext(key), env);
  const stack = new StudyStack(app, `Nct04893161-${config.stage}`, {
    stackName: `${resourcePrefix(config)}-fhir`,
    description: 'Serverless FHIR R4 integration layer of NCT04893161 (belimumab in SLE)',
    env: { account: config.account, region: config.region },
    terminationProtection: config.stage === 'prod',
    tags: { project: 'NCT04893161', stage: config.stage },
    config,
    functions,
    projectRoot: PROJECT_ROOT,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new HIPAASecurityChecks(app));
  return { app, stack, config };
}
