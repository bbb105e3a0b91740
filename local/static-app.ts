/**
 * Serves the built study app (`app/dist`, built by `npm run build:app`) at `/app/` in the local run,
 * as CloudFront serves it from S3 in AWS (infra/app-hosting.ts): the same files, the same security
 * headers.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP_SECURITY_HEADERS } from './app-security-headers.js';

/** Where `npm run build:app` writes the app. */
export const DEFAULT_APP_DIR = fileURLToPath(new URL('../app/dist', import.meta.url));

/** Content types of what a Vite build writes; anything else is sent as bytes. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/**
 * Which folder the app is served from: the option, else `APP_DIR`, else `app/dist` in the repository.
 * @param appDir - `LocalOptions.appDir`.
 * @param env - The environment.
 * @returns An absolute path (it may not exist yet: then `/app/` answers 404 with a hint).
 */
export function resolveAppDir(appDir: string | undefined, env: Record<string, string | undefined> = process.env): string {
  const chosen = appDir ?? (env.APP_DIR !== undefined && env.APP_DIR !== '' ? env.APP_DIR : undefined);
  return chosen !== undefined ? path.resolve(chosen) : DEFAULT_APP_DIR;
}

/**
 * Whether a request path is the app's (`/app` or under `/app/`).
 * @param pathname - The URL's path.
 * @returns `true` when `serveApp` should answer it.
 */
export function isAppPath(pathname: string): boolean {
  return pathname === '/app' || pathname.startsWith('/app/');
}

/**
 * Answers `GET`/`HEAD /app/...` from `appDir`: `index.html` for `/app/`, the file otherwise, with its
 * content type and the app's security headers. The routes are hash routes (`/app/#/review`), so
 * there is no client-side path to fall back for; a file that is not there is a 404, and so is any
 * path that would leave `appDir` (`..`, encoded or not, or a symbolic link out of it).
 * @param method - The request method.
 * @param pathname - The URL's path (still percent-encoded).
 * @param appDir - The folder of the built app.
 * @param res - Where to answer.
 */
export async function serveApp(method: string, pathname: string, appDir: string, res: ServerResponse): Promise<void> {
  if (method !== 'GET' && method !== 'HEAD') {
    answer(res, 405, 'text/plain; charset=utf-8', 'Method not allowed\n', { allow: 'GET, HEAD' });
    return;
  }
  if (pathname === '/app') {
    // The app's relative asset URLs resolve against /app/, not /.
    answer(res, 308, 'text/plain; charset=utf-8', '', { location: '/app/' });
    return;
  }
  const file = await appFile(pathname.slice('/app/'.length), appDir);
  if (file === undefined) {
    const hint = (await exists(path.join(appDir, 'index.html'))) ? 'Not found\n' : `Not found: the app is not built (${appDir}); run npm run build:app\n`;
    answer(res, 404, 'text/plain; charset=utf-8', hint);
    return;
  }
  const body = await readFile(file);
  const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  // index.html names the hashed assets of this build: revalidate it; hashed assets never change.
  const cache = path.basename(file) === 'index.html' ? 'no-cache' : /[-.][A-Za-z0-9_-]{8,}\.[a-z0-9]+$/.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache';
  answer(res, 200, type, method === 'HEAD' ? '' : body, { 'cache-control': cache, 'content-length': String(body.length) });
}

/** The file a relative app path names inside `appDir`, or `undefined` (missing, a folder, outside). */
async function appFile(relative: string, appDir: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\') || decoded.split('/').some((part) => part === '..' || part === '.')) {
    return undefined;
  }
  let root: string;
  try {
    root = await realpath(appDir);
  } catch {
    return undefined;
  }
  const wanted = path.resolve(root, decoded === '' || decoded.endsWith('/') ? path.join(decoded, 'index.html') : decoded);
  try {
    const real = await realpath(wanted);
    if (real !== root && !real.startsWith(`${root}${path.sep}`)) {
      return undefined;
    }
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

function answer(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...APP_SECURITY_HEADERS, 'content-type': contentType, ...headers });
  res.end(body);
}
