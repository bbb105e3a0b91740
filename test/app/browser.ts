/**
 * Support for the study app's browser tests: a real headless Chromium shipped inside the npm package
 * (@sparticuz/chromium, no download and no apt step) driven by playwright-core, pages opened as a role
 * through the local sign-in link, console errors collected, axe-core injected.
 */
import chromium from '@sparticuz/chromium';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium as playwright, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { REPO_ROOT } from '../support/local-app.js';

/** The app's roles (fhir-profiles/access/roles.json). */
export type AppRole = 'recruitment' | 'investigator' | 'statistician';

/** Where the screenshots go (gitignored); README copies live in docs/screenshots/. */
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-output', 'screenshots');

/**
 * Builds the app with vite's own API into a folder, as `npm run build:app` does into app/dist.
 * @param outDir - Where to write it.
 */
export async function buildApp(outDir: string): Promise<void> {
  await build({ configFile: join(REPO_ROOT, 'app', 'vite.config.ts'), build: { outDir, emptyOutDir: true }, logLevel: 'error' });
}

/**
 * Launches the packaged headless Chromium with its own arguments and no background traffic.
 * @returns The browser.
 */
export async function launchBrowser(): Promise<Browser> {
  return playwright.launch({
    executablePath: await chromium.executablePath(),
    args: [...chromium.args, '--disable-background-networking', '--no-first-run'],
    headless: true,
  });
}

/** A page opened as a role, with what its console said. */
export interface RolePage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught page errors, in order. */
  readonly errors: string[];
  /** Every request URL the page made (to check the SMART launch). */
  readonly requests: string[];
}

/**
 * Opens the app as a role in a fresh browser context (own cookies and sessionStorage): the local
 * sign-in link `GET /auth/signin?role=R&next=/app/#{route}` signs in at once, then the app runs the
 * SMART standalone launch (authorization code + PKCE) and lands on the route.
 * @param browser - The browser.
 * @param origin - `http://127.0.0.1:{port}`.
 * @param role - The role.
 * @param route - Hash route, e.g. `/worklist`.
 * @returns The page, once the app shows who is signed in.
 */
export async function openAs(browser: Browser, origin: string, role: AppRole, route: string): Promise<RolePage> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, reducedMotion: 'reduce' });
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${origin}/auth/signin?role=${role}&next=${encodeURIComponent(`/app/#${route}`)}`);
  await page.getByTestId('role').waitFor({ timeout: 20_000 });
  return { context, page, errors, requests };
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** An axe-core violation, as the tests report it. */
export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: number;
}

/**
 * Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the page as it stands.
 * @param page - The page.
 * @returns The serious and critical violations.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, not as a <script>: the app's CSP (script-src 'self') would
  // refuse an inline script, and bypassing CSP for the whole context would hide the app's own violations.
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: { id: string; impact: string | null; help: string; nodes: unknown[] }[] }> } }).axe;
    const result = await axe.run((globalThis as unknown as { document: unknown }).document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * A screenshot under test-output/screenshots/.
 * @param page - The page.
 * @param name - File name without extension.
 * @param fullPage - The whole page (default) or the viewport (a long list).
 * @returns The path.
 */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}
