import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The study app: served by the layer at `/app/` (local run: `startLocal({ appDir })`; AWS: S3 behind
 * CloudFront). No inline script and no external host, so the CSP `script-src 'self'` holds.
 */
export default defineConfig({
  root,
  base: '/app/',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Separate module files only: the CSP forbids inline scripts, and a data: URL would be one.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
    rolldownOptions: {
      onwarn(warning, warn) {
        // isomorphic-webcrypto (under fhirclient) tests `typeof module` before touching it; harmless.
        if (warning.code === 'COMMONJS_VARIABLE_IN_ESM' && warning.id?.includes('isomorphic-webcrypto')) return;
        warn(warning);
      },
    },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  logLevel: 'warn',
});
