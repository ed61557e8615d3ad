// Environments, change requests and schedules in Chromium (issue 16 item 5)
// against a real gateway over testkit's in-memory cluster (environments,
// change requests and schedules; runSchedules() on a test-driven clock) and
// the built dashboard process. The tests run in order on one stack.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, screenshot, signIn } from './browser';
import { NAMES, startStack, TOKENS, waitFor, type Stack } from './stack';

let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];
let clock = Date.now();
let prod = '';
const KEY = 'envflag';

async function newPage(token: string, timezoneId?: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => process.stderr.write(`pageerror: ${e.message}\n`));
  await signIn(page, stack.dashboardUrl, token);
  return page;
}

async function flagIn(env: string) {
  const r = await stack.api('GET', `/api/v1/flags/${KEY}?environment=${env}`);
  expect(r.status).toBe(200);
  return r.body.flag as { enabled: boolean };
}

beforeAll(async () => {
  stack = await startStack({ memoryCluster: true, clock: () => clock, log: (m) => process.stderr.write(m + '\n') });
  browser = await launchBrowser();
  const envs = await stack.api('GET', '/api/v1/environments');
  expect(envs.status).toBe(200);
  prod = envs.body.defaultEnvironment;
  expect(prod).toBeTruthy();
  const flag = { key: KEY, type: 'boolean', enabled: false, variants: { on: true, off: false }, defaultVariant: 'on', offVariant: 'off' };
  expect((await stack.api('PUT', `/api/v1/flags/${KEY}`, flag)).status).toBeLessThan(300);
  expect((await stack.api('POST', '/api/v1/environments', { name: 'staging' })).status).toBeLessThan(300);
  expect((await stack.api('PATCH', `/api/v1/flags/${KEY}?environment=staging`, { enabled: true })).status).toBe(200);
  // The default environment needs one approval, and not the author's.
  const policy = await stack.api('PATCH', `/api/v1/environments/${prod}`, { policy: { approvalsRequired: 1, authorCannotApprove: true } });
  expect(policy.status).toBe(200);
}, 240_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await stack?.stop();
}, 60_000);

describe('environments, change requests and schedules in Chromium', () => {
  let eddie: Page;
  let erin: Page;
  const toggle = (p: Page) => p.getByTestId(`toggle-${KEY}`);

  it('the environment switch changes what the flag list shows; enabled per environment at a glance', async () => {
    eddie = await newPage(TOKENS.editor, 'Europe/Berlin');
    await waitFor(async () => (await toggle(eddie).getAttribute('aria-checked')) === 'false', `${KEY} off in ${prod}`);
    expect(await eddie.getByTestId(`env-staging-${KEY}`).textContent()).toBe('on');
    expect(await eddie.getByTestId(`env-${prod}-${KEY}`).textContent()).toBe('off');
    await eddie.getByTestId('env-select').selectOption('staging');
    await eddie.getByTestId('env-switch').click();
    await waitFor(async () => (await toggle(eddie).getAttribute('aria-checked')) === 'true', `${KEY} on in staging`);
    expect(eddie.url()).toContain('env=staging');
    // Remembered: the list without ?env= stays in staging.
    await eddie.goto(`${stack.dashboardUrl}/flags`);
    await waitFor(async () => (await toggle(eddie).getAttribute('aria-checked')) === 'true', 'still staging');
    expect(await eddie.getByTestId('env-select').inputValue()).toBe('staging');
    // A switch in staging (unprotected) writes there only.
    await toggle(eddie).click();
    await eddie.getByTestId('toggle-confirm').click();
    await waitFor(async () => (await toggle(eddie).getAttribute('aria-checked')) === 'false', 'switched off in staging');
    expect((await flagIn('staging')).enabled).toBe(false);
    expect((await flagIn(prod)).enabled).toBe(false);
    await screenshot(eddie, 'envs-flag-list');
  });

  it('a change refused as PROTECTED becomes a change request; the author cannot approve; a second user approves live; it is applied', async () => {
    await eddie.goto(`${stack.dashboardUrl}/flags?env=${prod}`);
    await waitFor(async () => (await toggle(eddie).getAttribute('aria-checked')) === 'false', 'production list');
    await toggle(eddie).click();
    await eddie.getByTestId('toggle-confirm').click();
    await eddie.getByTestId('propose-cr').waitFor();
    await waitFor(async () => (await eddie.getByTestId('list-message').textContent())?.includes('protected'), 'protected notice');
    expect((await flagIn(prod)).enabled).toBe(false);
    await eddie.getByTestId('propose-cr').click();
    await eddie.waitForURL(/\/change-requests\/[^/?]+\?created=1/);
    const crPath = new URL(eddie.url()).pathname;
    await waitFor(async () => (await eddie.getByTestId('cr-status').textContent().catch(() => '')) === 'in review', 'in review');
    await waitFor(async () => (await eddie.getByTestId('cr-approvals').textContent()) === '0 of 1 approval', '0 of 1');
    await waitFor(async () => (await eddie.getByTestId('cr-cannot-approve').textContent())?.includes('author cannot approve'), 'why not');
    // The diff of the op against its base.
    await eddie.locator('table.diff td', { hasText: 'enabled' }).first().waitFor();
    // The author's approval is refused by the gateway.
    await eddie.getByTestId('cr-approve').click();
    await waitFor(async () => (await eddie.getByTestId('cr-step-error').textContent().catch(() => ''))?.includes('author'), 'author approval refused, saying why');
    await waitFor(async () => (await eddie.getByTestId('cr-status').textContent()) === 'in review', 'still in review');
    await screenshot(eddie, 'envs-cr-review');

    // The author's inbox ("mine"), live.
    await eddie.goto(`${stack.dashboardUrl}/change-requests?tab=mine`);
    await eddie.locator('[data-testid="cr-live"][data-state="live"]').waitFor({ timeout: 20_000 });
    const id = crPath.split('/').pop()!;
    const row = eddie.locator(`tr[data-id="${id}"]`);
    await waitFor(async () => (await row.getAttribute('data-status')) === 'inReview', 'in review in the inbox');

    // The second user reviews it from their inbox.
    erin = await newPage(TOKENS.editor2);
    await erin.goto(`${stack.dashboardUrl}/change-requests`);
    await erin.locator(`tr[data-id="${id}"] a`).click();
    await erin.waitForURL(new RegExp(`${crPath}$`));
    await erin.getByTestId('cr-approve').waitFor();
    expect(await erin.getByTestId('cr-cannot-approve').count()).toBe(0);
    await erin.locator('#cr-comment').fill('Looks right');
    await erin.getByTestId('cr-approve').click();
    await waitFor(async () => (await erin.getByTestId('cr-status').textContent()) === 'approved', 'approved on the reviewer page');
    // The same render holds both, but Qwik may patch the DOM in more than one step: wait, never read once.
    await waitFor(async () => (await erin.getByTestId('cr-approvals').textContent()) === '1 of 1 approval', '1 of 1 approval');
    await waitFor(async () => (await erin.getByTestId('cr-activity').textContent())?.includes('Looks right'), 'comment shown');

    // Eddie's inbox shows it without a reload.
    await waitFor(async () => (await row.getAttribute('data-status')) === 'approved', 'inbox updated live');

    await erin.getByTestId('cr-apply').click();
    await waitFor(async () => (await erin.getByTestId('cr-status').textContent()) === 'applied', 'applied');
    expect((await flagIn(prod)).enabled).toBe(true);
    const stored = await stack.api('GET', `/api/v1/change-requests/${id}`);
    expect(stored.body.changeRequest.author).toBe(NAMES.editor);
    expect(stored.body.changeRequest.approvals.map((a: { actor: string }) => a.actor)).toEqual([NAMES.editor2]);
  });

  it('the schedule picker sends the local time as UTC; the step fires and shows as applied', async () => {
    await eddie.goto(`${stack.dashboardUrl}/flags/${KEY}?env=staging`);
    await eddie.getByTestId('schedule-picker').locator('summary').click();
    await eddie.locator('#sch-enabled').selectOption('on');
    // 10:00 in Berlin in January is 09:00 UTC.
    await eddie.locator('#sch-at-0').fill('2030-01-15T10:00');
    await waitFor(async () => (await eddie.locator('#sch-at-0').inputValue()) === '2030-01-15T10:00', 'time typed');
    await eddie.getByTestId('sch-submit').click();
    const done = await waitFor(async () => (await eddie.getByTestId('sch-done').textContent().catch(() => '')) || undefined, 'scheduled');
    const id = /Scheduled as (\S+)\./.exec(done)![1];
    const s = await stack.api('GET', `/api/v1/schedules/${id}`);
    expect(s.body.schedule.steps[0].at).toBe(Date.parse('2030-01-15T09:00:00Z'));
    expect(s.body.schedule.env).toBe('staging');

    await eddie.goto(`${stack.dashboardUrl}/schedules`);
    const step = eddie.getByTestId(`schedule-${id}-step-0`);
    expect(await step.getAttribute('data-status')).toBe('pending');
    expect(await step.locator('time').getAttribute('datetime')).toBe('2030-01-15T09:00:00.000Z');
    await eddie.locator('[data-testid="sch-live"][data-state="live"]').waitFor({ timeout: 20_000 });
    // Shown in the browser's zone.
    await waitFor(async () => (await step.locator('time').textContent())?.includes('10:00'), 'local time shown');

    expect(await stack.memory!.runSchedules()).toBe(0);
    clock = Date.parse('2030-01-15T09:00:01Z');
    expect(await stack.memory!.runSchedules()).toBe(1);
    await waitFor(async () => (await step.getAttribute('data-status')) === 'applied', 'step applied (live)');
    expect((await flagIn('staging')).enabled).toBe(true);
    await screenshot(eddie, 'envs-schedules');
  });

  it('a rollout schedule of three steps fires step by step; cancel stops the rest', async () => {
    await eddie.goto(`${stack.dashboardUrl}/flags/${KEY}?env=staging`);
    await eddie.getByTestId('schedule-picker').locator('summary').click();
    await eddie.getByTestId('sch-mode-rollout').check();
    await eddie.locator('#sch-at-2').waitFor();
    const times = ['2030-02-01T10:00', '2030-02-02T10:00', '2030-02-03T10:00'];
    for (const [i, t] of times.entries()) {
      await eddie.locator(`#sch-at-${i}`).fill(t);
      await waitFor(async () => (await eddie.locator(`#sch-at-${i}`).inputValue()) === t, `step ${i} time`);
    }
    await eddie.getByTestId('sch-submit').click();
    const done = await waitFor(async () => (await eddie.getByTestId('sch-done').textContent().catch(() => '')) || undefined, 'rollout scheduled');
    const id = /Scheduled as (\S+)\./.exec(done)![1];
    clock = Date.parse('2030-02-01T09:00:01Z');
    expect(await stack.memory!.runSchedules()).toBe(1);
    const f = (await stack.api('GET', `/api/v1/flags/${KEY}?environment=staging`)).body.flag;
    const weights = f.rules.find((r: { rollout?: unknown }) => r.rollout).rollout.weights;
    expect(weights).toEqual([{ variant: 'on', weight: 500 }, { variant: 'off', weight: 9500 }]);

    await eddie.goto(`${stack.dashboardUrl}/schedules`);
    expect(await eddie.getByTestId(`schedule-${id}-step-0`).getAttribute('data-status')).toBe('applied');
    expect(await eddie.getByTestId(`schedule-${id}-step-1`).getAttribute('data-status')).toBe('pending');
    await eddie.getByTestId(`cancel-${id}`).click();
    await waitFor(async () => (await eddie.getByTestId(`schedule-${id}-step-1`).getAttribute('data-status')) === 'cancelled', 'cancelled');
    clock = Date.parse('2030-02-04T00:00:00Z');
    expect(await stack.memory!.runSchedules()).toBe(0);
  });
  it('a conflicted apply shows base / current / proposed; the author rebases it', async () => {
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const base = (await stack.api('GET', `/api/v1/flags/${KEY}?environment=${prod}`)).body.flag;
    const make = async (title: string, flag: object) => {
      const r = await stack.api('POST', '/api/v1/change-requests', { environment: prod, title, ops: [{ op: 'putFlag', flag }], submit: true }, as(TOKENS.editor));
      expect(r.status).toBe(201);
      const id = r.body.changeRequest.id as string;
      expect((await stack.api('POST', `/api/v1/change-requests/${id}/approve`, {}, as(TOKENS.editor2))).status).toBe(200);
      return id;
    };
    const first = await make('default off', { ...base, defaultVariant: 'off' });
    const second = await make('description', { ...base, description: 'second' });
    expect((await stack.api('POST', `/api/v1/change-requests/${first}/apply`, {}, as(TOKENS.editor2))).status).toBe(200);
    await eddie.goto(`${stack.dashboardUrl}/change-requests/${second}`);
    await eddie.getByTestId('cr-apply').click();
    await waitFor(async () => (await eddie.getByTestId('cr-status').textContent()) === 'conflicted', 'conflicted');
    const conflicts = eddie.getByTestId('cr-conflicts');
    for (const h of ['Base', 'Current', 'Proposed']) expect(await conflicts.getByRole('heading', { name: h }).count()).toBe(1);
    expect(await conflicts.textContent()).toContain('"defaultVariant": "off"');
    await screenshot(eddie, 'envs-cr-conflict');
    await eddie.getByTestId('cr-rebase').click();
    await waitFor(async () => (await eddie.getByTestId('cr-status').textContent()) === 'in review', 'rebased, back in review');
    await waitFor(async () => (await eddie.getByTestId('cr-approvals').textContent()) === '0 of 1 approval', 'approvals reset');
  });

  it('the change request and schedule pages fit a phone-width screen', async () => {
    const phone = await newPage(TOKENS.editor2);
    await phone.setViewportSize({ width: 390, height: 800 });
    const ids = (await stack.api('GET', '/api/v1/change-requests')).body.changeRequests.map((c: { changeRequest: { id: string } }) => c.changeRequest.id);
    for (const path of ['/change-requests?tab=mine', `/change-requests/${ids[0]}`, '/schedules', `/flags?env=${prod}`]) {
      await phone.goto(stack.dashboardUrl + path);
      const over = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(over, path).toBeLessThanOrEqual(0);
    }
  });
  it('/live/records: 401 without a session, 400 for another kind, 403 for a foreign Origin; other methods get the usual checks', async () => {
    const url = `${stack.dashboardUrl}/live/records?kind=changeRequest`;
    expect((await fetch(url)).status).toBe(401);
    const cookie = (await eddie.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    expect((await fetch(`${stack.dashboardUrl}/live/records?kind=flag`, { headers: { cookie } })).status).toBe(400);
    expect((await fetch(url, { headers: { cookie, origin: 'http://evil.example' } })).status).toBe(403);
    expect((await fetch(url, { method: 'POST', headers: { cookie, origin: 'http://evil.example' } })).status).toBe(403);
    const ctl = new AbortController();
    const ok = await fetch(url, { headers: { cookie }, signal: ctl.signal });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toContain('text/event-stream');
    ctl.abort();
  });
  it('a flag editor save refused as PROTECTED proposes the same flag as a change request', async () => {
    await eddie.goto(`${stack.dashboardUrl}/flags/${KEY}?env=${prod}`);
    await eddie.locator('#flag-desc').fill('Proposed from the editor');
    await waitFor(async () => (await eddie.locator('#flag-desc').inputValue()) === 'Proposed from the editor', 'description typed');
    await eddie.getByTestId('save').click();
    await eddie.getByTestId('propose-cr').waitFor();
    await waitFor(async () => (await eddie.getByTestId('editor-notice').textContent())?.includes('protected'), 'protected notice');
    await eddie.getByTestId('propose-cr').click();
    await eddie.waitForURL(/\/change-requests\/[^/?]+\?created=1/);
    await waitFor(async () => (await eddie.getByTestId('cr-status').textContent().catch(() => '')) === 'in review', 'in review');
    await waitFor(async () => (await eddie.locator('table.diff').textContent())?.includes('Proposed from the editor'), 'diff shown');
    expect((await stack.api('GET', `/api/v1/flags/${KEY}?environment=${prod}`)).body.flag.description).toBeUndefined();
  });

  it('the promotion page shows the plan per flag; promoting into a protected environment proposes a change request; into staging applies', async () => {
    // A new flag, created in staging and switched on there: it arrives switched off in the protected default environment.
    const promo = { key: 'promoflag', type: 'boolean', enabled: true, variants: { on: true, off: false }, defaultVariant: 'on', offVariant: 'off' };
    expect((await stack.api('PUT', '/api/v1/flags/promoflag?environment=staging', promo)).status).toBe(201);
    expect((await stack.api('GET', `/api/v1/flags/promoflag?environment=${prod}`)).body.flag.enabled).toBe(false);

    await eddie.goto(`${stack.dashboardUrl}/promote?from=staging&to=${prod}`);
    const item = eddie.getByTestId('promote-item-promoflag');
    await item.waitFor();
    await waitFor(async () => (await item.textContent())?.includes('off → on'), 'the plan names the change');
    await waitFor(async () => (await item.locator('table.diff td', { hasText: 'enabled' }).count()) > 0, 'the enabled field in the diff');
    // Nothing selected: refused, naming what is missing.
    for (const box of await eddie.locator('input[name="keys[]"]').all()) await box.uncheck();
    await eddie.getByTestId('promote-selected').click();
    await waitFor(async () => (await eddie.getByTestId('promote-error').textContent().catch(() => ''))?.includes('Select at least one flag'), 'nothing selected refused');
    // Only promoflag: untick every other flag of the plan.
    for (const box of await eddie.locator('input[name="keys[]"]').all()) {
      if ((await box.getAttribute('value')) === 'promoflag') await box.check(); else await box.uncheck();
    }
    await eddie.getByTestId('promote-selected').click();
    await waitFor(async () => (await eddie.getByTestId('promote-error').textContent().catch(() => ''))?.includes('protected'), 'refused as protected');
    expect((await stack.api('GET', `/api/v1/flags/promoflag?environment=${prod}`)).body.flag.enabled).toBe(false);
    await eddie.getByTestId('propose-cr').click();
    await eddie.waitForURL(/\/change-requests\/[^/?]+\?created=1/);
    const id = new URL(eddie.url()).pathname.split('/').pop()!;
    const cr = await stack.api('GET', `/api/v1/change-requests/${id}`);
    expect(cr.body.changeRequest.ops).toEqual([{ op: 'promote', from: 'staging', to: prod, keys: ['promoflag'] }]);
    expect(cr.body.changeRequest.status).toBe('inReview');

    // Into staging (unprotected): switch promoflag off in the default environment's config, then promote it back.
    await eddie.goto(`${stack.dashboardUrl}/promote?from=${prod}&to=staging`);
    const back = eddie.getByTestId('promote-item-promoflag');
    await back.waitFor();
    await waitFor(async () => (await back.textContent())?.includes('on → off'), 'the reverse plan');
    for (const box of await eddie.locator('input[name="keys[]"]').all()) {
      if ((await box.getAttribute('value')) !== 'promoflag') await box.uncheck();
    }
    await eddie.getByTestId('promote-selected').click();
    await waitFor(async () => (await eddie.getByTestId('promote-done').textContent().catch(() => ''))?.includes('Promoted 1 flag(s)'), 'applied');
    expect((await stack.api('GET', '/api/v1/flags/promoflag?environment=staging')).body.flag.enabled).toBe(false);
    await screenshot(eddie, 'envs-promote');
  });

});
