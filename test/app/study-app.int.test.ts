/**
 * The study app (issue 16) in a real headless Chromium against the local layer in process, on
 * dynalite, seeded with the demo cohort: each role signs in through the SMART App Launch standalone
 * launch (authorization code + PKCE S256, SMART App Launch 2.0 §2.0.4–2.0.7), and each job of the
 * issue is done on screen and checked against the store.
 */
import type { Browser } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomeText } from '../../app/src/fhir.js';
import { roleScopes } from '../../lambdas/commons/auth/roles.js';
import { seedDemoCohort, type DemoCohortCounts } from '../../local/demo-cohort.js';
import { startTestApp, type TestApp } from '../support/local-app.js';
import { buildApp, launchBrowser, openAs, screenshot, seriousViolations, type RolePage } from './browser.js';

const BASE = 'https://belimumab-sle.example.org/fhir';
const profile = (name: string): string => encodeURIComponent(`${BASE}/StructureDefinition/${name}`);

let app: TestApp;
let browser: Browser;
let origin: string;
let counts: DemoCohortCounts;
/** Every page opened, for the console and accessibility checks; `refusals` may log their 403s. */
const visited: { name: string; page: RolePage; refusals: boolean }[] = [];
/** The worklist's HTML as first shown, before any reveal. */
let worklistHtml = '';

async function visit(name: string, role: Parameters<typeof openAs>[2], route: string, refusals = false): Promise<RolePage> {
  const page = await openAs(browser, origin, role, route);
  visited.push({ name, page, refusals });
  return page;
}

/** Reads with the layer's full system scope (the store's truth the screen is compared with). */
async function all<T = any>(path: string): Promise<T[]> {
  const res = await app.fetchFhir(path, { scopes: 'system/*.cruds system/AuditEvent.rs' });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body.entry ?? []).map((e: any) => e.resource as T);
}

beforeAll(async () => {
  const dist = mkdtempSync(join(tmpdir(), 'study-app-'));
  // The app built by vite's own API, as `npm run build:app` does, while the layer starts.
  const [, started] = await Promise.all([buildApp(dist), startTestApp({ appDir: dist })]);
  app = started;
  origin = new URL(app.baseUrl).origin;
  [counts, browser] = await Promise.all([seedDemoCohort(app.baseUrl, await app.token('system/*.cruds')), launchBrowser()]);
}, 240_000);

afterAll(async () => {
  // Contexts are not closed one by one: the packaged Chromium runs single-process, and closing a context ends it.
  await browser?.close();
  await app?.close();
});

describe('The study app in a browser', () => {
  it('signs each role in through the SMART standalone launch with PKCE S256 and its role scopes', async () => {
    // Arrange
    const roles = [
      ['recruitment', '/worklist', 'Recruitment coordinator'],
      ['investigator', '/review', 'Investigator'],
      ['statistician', '/overview', 'Statistician / study lead'],
    ] as const;
    for (const [role, route, words] of roles) {
      // Act
      const { page, requests } = await visit(`signin-${role}`, role, route);
      // Assess: SMART App Launch 2.0: code flow with a S256 challenge, the app's client id, aud = the FHIR base.
      const authorize = new URL(requests.find((u) => u.includes('/auth/authorize?'))!);
      expect(authorize.searchParams.get('response_type')).toBe('code');
      expect(authorize.searchParams.get('client_id')).toBe('study-app');
      expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
      expect(authorize.searchParams.get('aud')).toBe(`${origin}/fhir`);
      expect(authorize.searchParams.get('redirect_uri')).toBe(`${origin}/app/`);
      expect(requests.some((u) => u === `${origin}/auth/token`)).toBe(true);
      expect(await page.getByTestId('role').textContent()).toBe(words);
      expect(new URL(page.url()).hash).toBe(`#${route}`);
      // The code and state are gone from the address bar.
      expect(new URL(page.url()).search).toBe('');
    }
  });

  it('lists every candidate and eligible patient newest change first, with no hospital identity', async () => {
    // Arrange
    const screenings = await all(`/Observation?_profile=${profile('eligibility-screening')}&_count=1000`);
    // Enrolled patients (the study set their status) are no longer recruitment's work.
    const statuses = new Map((await all('/ResearchSubject?_count=1000')).map((r) => [r.individual.reference.split('/')[1], r.status]));
    const active = screenings.filter(
      (o) => ['candidate', 'eligible'].includes(o.valueCodeableConcept.coding[0].code) && ['candidate', 'potential-candidate', 'eligible'].includes(statuses.get(o.subject.reference.split('/')[1])),
    );
    const expected = active
      .sort((a, b) => b.meta.lastUpdated.localeCompare(a.meta.lastUpdated) || a.subject.reference.localeCompare(b.subject.reference))
      .map((o) => o.subject.reference.split('/')[1]);
    // Act
    const { page } = await visit('worklist', 'recruitment', '/worklist');
    await page.locator('[data-testid=worklist] tbody tr').first().waitFor();
    // Assess
    const shown = await page.locator('[data-testid=worklist] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pseudonym')));
    expect(shown).toEqual(expected);
    expect([...shown].sort()).toEqual([...counts.pseudonyms.candidate, ...counts.pseudonyms.eligible].sort());
    // The open-review filter keeps exactly the patients with a requested criterion Task.
    const tasks = await all(`/Task?status=requested&_count=1000`);
    const withReview = new Set(tasks.filter((t) => t.code.coding[0].code === 'review-eligibility-criterion').map((t) => t.for.reference.split('/')[1]));
    await page.getByTestId('review-filter').check();
    const filtered = await page.locator('[data-testid=worklist] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pseudonym')));
    expect(filtered).toEqual(expected.filter((p) => withReview.has(p)));
    await page.getByTestId('review-filter').uncheck();
    worklistHtml = await page.content();
    await screenshot(page, 'worklist');
  });

  it('shows every criterion in the Group\'s words, and reveals the hospital identity on demand, audited and never stored', async () => {
    // Arrange
    const pseudonym = counts.pseudonyms.candidate[0]!;
    const group = (await app.fetchFhir('/Group/nct04893161-eligibility')).body;
    const { page } = await visit('worklist-entry', 'recruitment', `/worklist/${pseudonym}`);
    await page.locator('[data-testid=criteria] tbody tr').first().waitFor();
    const rows = await page.locator('[data-testid=criteria] tbody tr').evaluateAll((r) => r.map((x) => [x.getAttribute('data-criterion'), x.querySelector('th')?.textContent ?? '']));
    expect(rows.map(([code]) => code)).toEqual(group.characteristic.map((c: any) => c.code.coding[0].code));
    for (const [code, text] of rows) expect(text).toContain(group.characteristic.find((c: any) => c.code.coding[0].code === code).code.text);
    await page.locator('.evidence').first().waitFor();
    await screenshot(page, 'worklist-entry');
    expect(await page.getByTestId('hospital-identity').count()).toBe(0);
    const since = new Date(Date.now() - 1000).toISOString();
    // Act
    await page.getByTestId('reveal').click();
    await page.getByTestId('hospital-identity').waitFor();
    // Assess: shown, and it was never on a page before the reveal.
    const shown = (await page.getByTestId('hospital-identity').textContent()) ?? '';
    const hospitalId = /Patient\/([^\s]+)$/.exec(shown)?.[1];
    expect(hospitalId).toBeTruthy();
    expect(worklistHtml).not.toContain(hospitalId);
    // Nothing of it in Web Storage (the SMART session is there, the identity is not).
    const stored = await page.evaluate(() => {
      interface WebStorage {
        readonly length: number;
        key(i: number): string | null;
        getItem(k: string): string | null;
      }
      const g = globalThis as unknown as { localStorage: WebStorage; sessionStorage: WebStorage };
      const dump = (s: WebStorage): string => Array.from({ length: s.length }, (_, i) => `${s.key(i)}=${s.getItem(s.key(i)!)}`).join('\n');
      return dump(g.localStorage) + dump(g.sessionStorage);
    });
    expect(stored).not.toContain(hospitalId);
    // One AuditEvent of the look-up (the identity route's access record, BALP read of the operation).
    await app.flushAudit();
    const audits = (await all(`/AuditEvent?_lastUpdated=ge${encodeURIComponent(since)}&_count=1000`)).filter((a) => JSON.stringify(a).includes('$hospital-identity'));
    expect(audits).toHaveLength(1);
    expect(JSON.stringify(audits[0])).toContain(`Patient/${pseudonym}`);
    // Shown on demand only: leaving the entry and coming back hides it again.
    await page.goto(`${origin}/app/#/worklist`);
    await page.goto(`${origin}/app/#/worklist/${pseudonym}`);
    await page.getByTestId('reveal').waitFor();
    expect(await page.getByTestId('hospital-identity').count()).toBe(0);
  });

  it('plots one SLEDAI-2K point per scored visit on the subject page, partial scores marked', async () => {
    // Arrange: the subject with the most scores (a partial one if the cohort has it).
    const scores = await all(`/Observation?_profile=${profile('sledai-2k-score')}&_count=1000`);
    const bySubject = new Map<string, any[]>();
    for (const s of scores) bySubject.set(s.subject.reference.split('/')[1], [...(bySubject.get(s.subject.reference.split('/')[1]) ?? []), s]);
    const [pseudonym, mine] = [...bySubject.entries()].sort((a, b) => Number(b[1].some((s) => s.valueInteger === undefined)) - Number(a[1].some((s) => s.valueInteger === undefined)) || b[1].length - a[1].length)[0]!;
    const totals = mine.filter((s) => s.valueInteger !== undefined).length;
    // Act
    const { page } = await visit('subject', 'investigator', `/subject/${pseudonym}`);
    await page.getByTestId('sledai-plot').locator('svg').waitFor();
    // Assess
    expect(await page.locator('[data-testid=sledai-plot] .sledai-total circle').count()).toBe(totals);
    expect(await page.locator('[data-testid=sledai-plot] .sledai-partial path').count()).toBe(mine.length - totals);
    expect(await page.locator('[data-testid=sledai-table] tbody tr').count()).toBe(mine.length);
    expect(await page.getByTestId('model-version').textContent()).toMatch(/sri4-week4 \d+\.\d+\.\d+/);
    await page.getByTestId('contribution-plot').locator('svg').waitFor();
    await screenshot(page, 'subject');
  });

  it('settles a review Task with a decision and a reason, and shows the recomputed result', async () => {
    // Arrange
    const { page } = await visit('review', 'investigator', '/review');
    await page.locator('[data-task]').first().waitFor();
    await screenshot(page, 'review', false);
    const sledai = page.locator('[data-task]').filter({ hasText: 'SLEDAI-2K' });
    const card = (await sledai.count()) > 0 ? sledai.first() : page.locator('[data-task]').first();
    const id = await card.getAttribute('data-task');
    const before = await card.getByTestId('result').textContent();
    // Act
    await card.locator('input[type=radio]').first().check();
    await card.locator('textarea').fill('Checked the source record at the visit');
    await card.getByRole('button', { name: 'Settle' }).click();
    await card.locator('.settled').waitFor();
    // Assess
    const after = await card.getByTestId('result').textContent();
    expect(after).not.toBe(before);
    const task = (await app.fetchFhir(`/Task/${id}`)).body;
    expect(task.status).toBe('completed');
    expect(JSON.stringify(task.output)).toContain('Checked the source record at the visit');
  });

  it("adds the overview's funnel up to the store's ResearchSubjects", async () => {
    // Arrange
    const subjects = await all('/ResearchSubject?_count=1000');
    // Act
    const { page } = await visit('overview', 'statistician', '/overview');
    await page.getByTestId('funnel-table').waitFor();
    await page.getByTestId('response-plot').locator('svg').waitFor();
    // Assess
    const stages = await page.locator('[data-testid=funnel-table] tbody tr').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-stage'), Number(r.querySelector('td')?.textContent)] as const));
    expect(stages.reduce((sum, [, n]) => sum + n, 0)).toBe(subjects.length);
    expect(Number(await page.getByTestId('screened').textContent())).toBe(subjects.length);
    const count = (statuses: string[]): number => subjects.filter((s) => statuses.includes(s.status)).length;
    expect(Object.fromEntries(stages)).toMatchObject({ candidate: count(['candidate', 'potential-candidate']), eligible: count(['eligible']), withdrawn: count(['withdrawn']), completed: count(['off-study']) });
    await screenshot(page, 'overview');
  });

  it("shows a role without the scope the layer's refusal, not a broken page", async () => {
    // Arrange: what the layer says to the statistician's scopes for the review queue's search.
    const direct = await app.fetchFhir('/Task?status=requested&_count=500', { token: await app.token(roleScopes('statistician').join(' ')) });
    expect(direct.status).toBe(403);
    // Act
    const { page } = await visit('refusal', 'statistician', '/review', true);
    await page.getByRole('alert').waitFor();
    // Assess
    expect(await page.locator('.refusal-text').textContent()).toBe(outcomeText(403, direct.body));
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Review queue');
    expect(await page.getByRole('navigation', { name: 'Pages' }).isVisible()).toBe(true);
    await screenshot(page, 'refusal');
    // The investigator may read the worklist but not reveal: the reveal's refusal shows in place.
    const inv = await visit('reveal-refused', 'investigator', `/worklist/${counts.pseudonyms.candidate[0]}`, true);
    await inv.page.getByTestId('reveal').click();
    await inv.page.locator('.reveal [role=alert]').waitFor();
    expect(await inv.page.locator('.reveal .refusal-text').textContent()).toMatch(/\S/);
    expect(await inv.page.getByTestId('hospital-identity').count()).toBe(0);
  });

  it('logs no console error and has no serious or critical axe-core violation on any page (WCAG 2.1 A/AA)', async () => {
    expect(visited.length).toBeGreaterThanOrEqual(9);
    for (const { name, page, refusals } of visited) {
      // A refused fetch is logged by Chromium itself ("Failed to load resource: ... 403"); the page is expected to make it.
      const errors = page.errors.filter((e) => !(refusals && /status of 403/.test(e)));
      expect(errors, name).toEqual([]);
      expect(await seriousViolations(page.page), name).toEqual([]);
    }
  });
});
