import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildApp, PROJECT_ROOT, type BuildAppOptions, type BuiltApp } from '../../infra/build-app.js';

/** A synthesised app: the stack's template and the cloud assembly on disk. */
export interface Synthesised extends BuiltApp {
  readonly template: Template;
  readonly assembly: CloudAssembly;
  readonly outdir: string;
  /** Removes the cloud assembly. */
  readonly dispose: () => void;
}

/** The context the CLI would pass: cdk.json's feature flags. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

/**
 * Builds and synthesises the app as `cdk synth` does (cdk.json context, both nag packs registered, so a
 * finding nobody acknowledged fails here), into a temporary directory, with no environment settings.
 * @param options - Extra context, environment or functions.
 * @returns The synthesised app.
 */
export function synthesise(options: BuildAppOptions = {}): Synthesised {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
  let built: BuiltApp;
  let assembly: CloudAssembly;
  try {
    built = buildApp({ env: {}, ...options, outdir, context: { ...cdkJsonContext(), ...options.context } });
    assembly = built.app.synth();
  } catch (err) {
    rmSync(outdir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...built,
    assembly,
    outdir,
    template: Template.fromStack(built.stack),
    dispose: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** The CloudFormation resources of a type, by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, { Properties: Record<string, any>; [k: string]: any }> {
  return template.findResources(type) as Record<string, { Properties: Record<string, any> }>;
}

/** The logical id of a function, by its name in infra/functions.ts. */
export function functionLogicalId(template: Template, name: string): string {
  const [id] = Object.entries(resourcesOf(template, 'AWS::Lambda::Function')).find(
    ([, r]) => r.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === name,
  ) ?? [];
  if (!id) throw new Error(`No function ${name} in the template`);
  return id;
}
