// End to end in headless Chromium against the real stack (test/stack.ts):
// 3-node cluster, gateway, relay on fauxqs, the built dashboard process.
// The tests run in order and share one stack: create -> toggle -> live ->
// conflict -> history -> delete, then the reader's view.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { closeAll, launchBrowser, screenshot, signIn } from './browser';
import { NAMES, startStack, TOKENS, waitFor, type Stack } from './stack';

let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];
const KEY = `checkout-${Date.now().toString(36)}`;

async function newPage(token: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
  const ctx = await browser.newContext({ viewport });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => process.stderr.write(`pageerror: ${e.message}\n`));
  await signIn(page, stack.dashboardUrl, token);
  return page;
}

async function live(page: Page): Promise<void> {
  await page.locator('[data-testid="live-indicator"][data-state="live"]').waitFor({ timeout: 20_000 });
}

beforeAll(async () => {
  stack = await startStack({ log: (m) => process.stderr.write(m + '\n') });
  browser = await launchBrowser();
  // A segment for the rule to reference.
  const seg = await stack.api('PUT', '/api/v1/segments/beta-testers', {
    name: 'beta-testers',
    description: 'People in the beta programme',
    conditions: [{ attribute: 'beta', op: 'equals', value: true }],
  });
  expect(seg.status).toBeLessThan(300);
}, 240_000);

afterAll(() => closeAll(contexts, browser, stack), 60_000);

describe('dashboard in Chromium against the real stack', () => {
  let eddie: Page;
  let erin: Page;

  it('signs in; the session cookie is HttpOnly and the token is not in the page', async () => {
    eddie = await newPage(TOKENS.editor);
    await expect(eddie.getByText(NAMES.editor, { exact: false }).first().isVisible()).resolves.toBe(true);
    const cookies = await eddie.context().cookies();
    const session = cookies.find((c) => c.name === 'flagraft_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Lax');
    expect(session?.value).not.toContain(TOKENS.editor);
    expect(await eddie.evaluate(() => document.cookie)).not.toContain('flagraft_session');
    expect(await eddie.content()).not.toContain(TOKENS.editor);
    await live(eddie);
    await screenshot(eddie, 'flags-list');
  });

  it('creates a flag with a targeting rule and a percentage rollout', async () => {
    await eddie.goto(`${stack.dashboardUrl}/flags/new`);
    await eddie.locator('#flag-key').fill(KEY);
    await eddie.locator('#flag-desc').fill('The new checkout flow');
    await eddie.locator('#flag-tags').fill('payments, web');
    await eddie.getByTestId('add-rule').click();
    await eddie.locator('#rule-0-cond-0-attr').fill('country');
    await eddie.locator('#rule-0-cond-0-val').fill('DE');
    // The segment picker (a checkbox per segment), not a text field.
    await eddie.getByTestId('rule-0-seg-in-beta-testers').check();
    await eddie.getByTestId('rule-0-rollout').check();
    await eddie.getByTestId('rule-0-weight-on').fill('30');
    await eddie.getByTestId('rule-0-weight-off').fill('60');
    await waitFor(async () => (await eddie.getByTestId('rule-0-total').textContent())?.includes('must add up to 100'), 'total warns');
    await eddie.getByTestId('rule-0-weight-off').fill('70');
    await waitFor(async () => (await eddie.getByTestId('rule-0-total').textContent())?.includes('100%'), 'total 100%');
    await screenshot(eddie, 'flag-new');
    await eddie.getByTestId('save').click();
    await eddie.getByText('Flag created.').waitFor();
    const got = await stack.api('GET', `/api/v1/flags/${KEY}`);
    expect(got.status).toBe(200);
    expect(got.body.updatedBy).toBe(NAMES.editor);
    expect(got.body.flag).toMatchObject({
      key: KEY,
      type: 'boolean',
      enabled: true,
      description: 'The new checkout flow',
      tags: ['payments', 'web'],
      rules: [
        {
          conditions: [{ attribute: 'country', op: 'equals', value: 'DE' }],
          segments: ['beta-testers'],
          rollout: { weights: [{ variant: 'on', weight: 30 }, { variant: 'off', weight: 70 }] },
        },
      ],
    });
    await screenshot(eddie, 'flag-editor');
  });

  it('toggles the kill switch with confirmation, and a second browser sees it live without reload', async () => {
    erin = await newPage(TOKENS.editor2);
    await erin.goto(`${stack.dashboardUrl}/flags?q=${KEY}`);
    await live(erin);
    await erin.evaluate(() => ((window as unknown as { __noReload: number }).__noReload = 1));
    const erinSwitch = erin.getByTestId(`toggle-${KEY}`);
    await expect(erinSwitch.getAttribute('aria-checked')).resolves.toBe('true');

    await eddie.goto(`${stack.dashboardUrl}/flags?q=${KEY}`);
    await live(eddie);
    await eddie.getByTestId(`toggle-${KEY}`).click();
    const dialog = eddie.getByTestId('toggle-dialog');
    await dialog.waitFor();
    await expect(dialog.textContent()).resolves.toContain('Kill switch');
    await screenshot(eddie, 'toggle-confirm', false);
    await eddie.getByTestId('toggle-confirm').click();
    await eddie.getByTestId('list-message').waitFor();
    await expect(eddie.getByTestId(`toggle-${KEY}`).getAttribute('aria-checked')).resolves.toBe('false');
    expect((await stack.api('GET', `/api/v1/flags/${KEY}`)).body.flag.enabled).toBe(false);

    // Erin's page updates in place through the relay WebSocket.
    await erin.waitForFunction((key) => document.querySelector(`[data-testid="toggle-${key}"]`)?.getAttribute('aria-checked') === 'false', KEY, { timeout: 20_000 });
    expect(await erin.evaluate(() => (window as unknown as { __noReload?: number }).__noReload)).toBe(1);
    await expect(erin.locator(`tr[data-key="${KEY}"]`).getAttribute('class')).resolves.toMatch(/flash-/);
    await screenshot(erin, 'live-update');
  });

  it('conflicting edits: the second save gets the conflict dialog, then reapplies on top', async () => {
    await eddie.goto(`${stack.dashboardUrl}/flags/${KEY}`);
    await erin.goto(`${stack.dashboardUrl}/flags/${KEY}`);
    await live(erin);
    await eddie.locator('#flag-desc').fill('Eddie was here');
    await erin.locator('#flag-owner').fill('team-payments');
    await eddie.getByTestId('save').click();
    await eddie.getByText(/Saved: revision \d+/).waitFor();
    // Erin's editor learns of it live, before she saves.
    await erin.getByTestId('remote-change').waitFor({ timeout: 20_000 });
    await erin.getByTestId('save').click();
    const dialog = erin.getByTestId('conflict-dialog');
    await dialog.getByText('Someone else changed this flag').waitFor();
    const text = (await dialog.textContent()) ?? '';
    expect(text).toContain(NAMES.editor);
    expect(text).toContain('description');
    expect(text).toContain('owner');
    await screenshot(erin, 'conflict-dialog', false);
    // Nothing was overwritten.
    const mid = await stack.api('GET', `/api/v1/flags/${KEY}`);
    expect(mid.body.flag.description).toBe('Eddie was here');
    expect(mid.body.flag.owner).toBeUndefined();
    await erin.getByTestId('conflict-reapply').click();
    await erin.getByTestId('save').click();
    await erin.getByText(/Saved: revision \d+/).waitFor();
    const after = await stack.api('GET', `/api/v1/flags/${KEY}`);
    expect(after.body.flag).toMatchObject({ description: 'Eddie was here', owner: 'team-payments' });
    expect(after.body.updatedBy).toBe(NAMES.editor2);
  });

  it('history shows every change with the right actor and a readable diff, and restores a version', async () => {
    await eddie.goto(`${stack.dashboardUrl}/flags/${KEY}/history`);
    const entries = eddie.getByTestId('history-entry');
    await entries.first().waitFor();
    const actors = await entries.evaluateAll((els) => els.map((e) => e.getAttribute('data-actor')));
    // Newest first: erin's owner, eddie's description, eddie's toggle, eddie's create.
    expect(actors).toEqual([NAMES.editor2, NAMES.editor, NAMES.editor, NAMES.editor]);
    const api = await stack.api('GET', `/api/v1/flags/${KEY}/history`);
    expect(api.body.changes.map((c: { actor: string }) => c.actor).sort()).toEqual([...actors].sort());
    const newest = (await entries.first().textContent()) ?? '';
    expect(newest).toContain('owner');
    expect(newest).toContain('"team-payments"');
    await screenshot(eddie, 'history');

    // Restore the first version as a new change.
    await entries.last().getByRole('button', { name: /Restore/ }).click();
    await eddie.getByText(/was restored as a new change/).waitFor();
    const restored = await stack.api('GET', `/api/v1/flags/${KEY}`);
    expect(restored.body.flag).toMatchObject({ description: 'The new checkout flow', enabled: true });
    expect(restored.body.flag.owner).toBeUndefined();
    expect(restored.body.updatedBy).toBe(NAMES.editor);
    expect(await eddie.getByTestId('history-entry').count()).toBe(5);
  });

  it('deletes with typed confirmation', async () => {
    await eddie.goto(`${stack.dashboardUrl}/flags/${KEY}`);
    await eddie.getByTestId('delete').click();
    const submit = eddie.getByTestId('delete-submit');
    await expect(submit.isDisabled()).resolves.toBe(true);
    await eddie.getByTestId('delete-confirm').fill(KEY.slice(0, -1));
    await expect(submit.isDisabled()).resolves.toBe(true);
    await eddie.getByTestId('delete-confirm').fill(KEY);
    await waitFor(async () => !(await submit.isDisabled()), 'delete enabled');
    await screenshot(eddie, 'delete-confirm', false);
    await submit.click();
    await eddie.waitForURL(/\/flags\?deleted=/);
    expect((await stack.api('GET', `/api/v1/flags/${KEY}`)).status).toBe(404);
  });

  it('creates a segment with the segment editor and lists it', async () => {
    await eddie.goto(`${stack.dashboardUrl}/segments/new`);
    await eddie.locator('#seg-name').fill('eu-users');
    await eddie.locator('#seg-desc').fill('Users in Germany and France');
    await eddie.locator('#seg-cond-0-attr').fill('country');
    await eddie.locator('#seg-cond-0-op').selectOption('in');
    await eddie.locator('#seg-cond-0-val').fill('DE, FR');
    // Qwik runs each input's handler asynchronously: wait until the form holds every value before submitting.
    const typed = async () => [
      await eddie.locator('#seg-name').inputValue(), await eddie.locator('#seg-desc').inputValue(),
      await eddie.locator('#seg-cond-0-attr').inputValue(), await eddie.locator('#seg-cond-0-op').inputValue(), await eddie.locator('#seg-cond-0-val').inputValue(),
    ].join('|');
    await waitFor(async () => (await typed()) === 'eu-users|Users in Germany and France|country|in|DE, FR', 'the segment form holds what was typed');
    await eddie.getByRole('button', { name: 'Create segment' }).click();
    await eddie.getByText('Segment created.').waitFor();
    const seg = await stack.api('GET', '/api/v1/segments/eu-users');
    expect(seg.status).toBe(200);
    expect(seg.body.segment).toMatchObject({ name: 'eu-users', conditions: [{ attribute: 'country', op: 'in', value: ['DE', 'FR'] }] });
    expect(seg.body.updatedBy).toBe(NAMES.editor);
    await eddie.goto(`${stack.dashboardUrl}/segments`);
    await eddie.getByRole('link', { name: 'eu-users' }).waitFor();
    await screenshot(eddie, 'segments');
  });

  it('a reader sees no edit controls', async () => {
    await stack.api('PUT', '/api/v1/flags/reader-visible', {
      key: 'reader-visible',
      type: 'string',
      variants: { a: 'x', b: 'y' },
      defaultVariant: 'a',
      enabled: true,
      rules: [],
    });
    const rita = await newPage(TOKENS.reader);
    await rita.goto(`${stack.dashboardUrl}/flags?q=reader-visible`);
    await rita.locator('tr[data-key="reader-visible"]').waitFor();
    expect(await rita.getByRole('switch').count()).toBe(0);
    expect(await rita.getByRole('link', { name: 'New flag' }).count()).toBe(0);
    await rita.goto(`${stack.dashboardUrl}/flags/reader-visible`);
    await rita.getByText('Read-only').waitFor();
    expect(await rita.getByTestId('save').count()).toBe(0);
    expect(await rita.getByTestId('delete').count()).toBe(0);
    expect(await rita.getByTestId('add-rule').count()).toBe(0);
    await screenshot(rita, 'reader-flag');
    await rita.goto(`${stack.dashboardUrl}/flags/new`);
    await rita.getByRole('heading', { name: 'Flags', exact: true }).waitFor();
  });

  it('a change made through the API is in the next freshly loaded list, served from the live index', async () => {
    const prefix = `fresh-${Date.now().toString(36)}`;
    const def = (key: string, enabled: boolean) => ({ key, type: 'boolean', variants: { on: true, off: false }, defaultVariant: 'on', enabled, rules: [] });
    for (const k of ['a', 'b', 'c']) expect((await stack.api('PUT', `/api/v1/flags/${prefix}-${k}`, def(`${prefix}-${k}`, true))).status).toBe(201);
    const page = await newPage(TOKENS.editor2);
    const loadList = async () => {
      await page.goto(`${stack.dashboardUrl}/flags?q=${prefix}`);
      const rows = await page.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-key')}:${tr.querySelector('[role="switch"]')?.getAttribute('aria-checked')}`));
      const timing = await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).serverTiming.map((t) => t.description));
      return { rows, timing };
    };
    const first = await loadList();
    expect(first.rows).toEqual([`${prefix}-a:true`, `${prefix}-b:true`, `${prefix}-c:true`]);
    // Each round: a colleague's change through the API, then at once a fresh
    // load (no live update involved): the list must already hold it.
    expect((await stack.api('PATCH', `/api/v1/flags/${prefix}-a`, { enabled: false })).status).toBe(200);
    const afterPatch = await loadList();
    expect(afterPatch.rows).toEqual([`${prefix}-a:false`, `${prefix}-b:true`, `${prefix}-c:true`]);
    expect(afterPatch.timing).toContain('live index');
    expect((await stack.api('DELETE', `/api/v1/flags/${prefix}-b`)).status).toBe(200);
    expect((await stack.api('PUT', `/api/v1/flags/${prefix}-d`, def(`${prefix}-d`, false))).status).toBe(201);
    const afterMore = await loadList();
    expect(afterMore.rows).toEqual([`${prefix}-a:false`, `${prefix}-c:true`, `${prefix}-d:false`]);
    expect(afterMore.timing).toContain('live index');
    // An atomic batch (several events at one revision).
    const batch = await stack.api('POST', '/api/v1/batch', { ops: [{ op: 'putFlag', flag: def(`${prefix}-e`, true) }, { op: 'deleteFlag', key: `${prefix}-c` }] });
    expect(batch.status).toBe(200);
    const afterBatch = await loadList();
    expect(afterBatch.rows).toEqual([`${prefix}-a:false`, `${prefix}-d:false`, `${prefix}-e:true`]);
  });

  it('cluster page shows members and the leader, and a phone-width list renders', async () => {
    await eddie.goto(`${stack.dashboardUrl}/cluster`);
    await eddie.getByTestId('cluster-member').first().waitFor();
    expect(await eddie.getByTestId('cluster-member').count()).toBe(3);
    await expect(eddie.getByTestId('cluster-leader').textContent()).resolves.toMatch(/node \d/);
    const first = await eddie.getByTestId('cluster-updated').textContent();
    await waitFor(async () => (await eddie.getByTestId('cluster-updated').textContent()) !== first, 'cluster refresh', 10_000);
    await screenshot(eddie, 'cluster');
    const phone = await newPage(TOKENS.admin, { width: 390, height: 844 });
    await screenshot(phone, 'flags-phone', false);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });

  it('a change too large for one SNS message (a truncated event) makes the open list re-read the flag', async () => {
    const big = `big-${Date.now().toString(36)}`;
    // 63 variants of 4,096 characters: the flag stays under flag-model's
    // 256 KiB, its change event does not fit SNS's 256 KiB with the envelope,
    // so the outbox publishes it truncated (no flag body).
    const variants: Record<string, string> = {};
    for (let i = 0; i < 63; i++) variants[`v${String(i).padStart(2, '0')}`] = String(i % 10).repeat(4096);
    const def = { key: big, type: 'string', variants, defaultVariant: 'v00', enabled: true, rules: [], description: 'd'.repeat(2048) };
    expect((await stack.api('PUT', `/api/v1/flags/${big}`, def)).status).toBeLessThan(300);
    await eddie.goto(`${stack.dashboardUrl}/flags?q=${big}`);
    await live(eddie);
    await expect(eddie.getByTestId(`toggle-${big}`).getAttribute('aria-checked')).resolves.toBe('true');
    expect((await stack.api('PATCH', `/api/v1/flags/${big}`, { enabled: false })).status).toBe(200);
    // Not taken for a delete: the row stays and shows the new state.
    await eddie.waitForFunction((key) => document.querySelector(`[data-testid="toggle-${key}"]`)?.getAttribute('aria-checked') === 'false', big, { timeout: 20_000 });
    await expect(eddie.locator(`tr[data-key="${big}"]`).count()).resolves.toBe(1);
  });

  it('a forced restore from a backup makes an open flag list reload by itself, with nothing written after it', async () => {
    const backup = await stack.api('GET', '/api/v1/admin/backup');
    expect(backup.status).toBe(200);
    const extra = `after-backup-${Date.now().toString(36)}`;
    const put = await stack.api('PUT', `/api/v1/flags/${extra}`, {
      key: extra,
      type: 'boolean',
      variants: { on: true, off: false },
      defaultVariant: 'on',
      enabled: true,
      rules: [],
    });
    expect(put.status).toBeLessThan(300);
    await eddie.goto(`${stack.dashboardUrl}/flags?q=after-backup-`);
    await live(eddie);
    await eddie.locator(`tr[data-key="${extra}"]`).waitFor();
    const restore = await stack.api('POST', '/api/v1/admin/restore?force=true', backup.body);
    expect(restore.status).toBeLessThan(300);
    const restoredAt = Date.now();
    // The flag written after the backup is gone from the cluster; the open page
    // must drop it on its own: the relay's resync (reason "restore") reloads it.
    await eddie.locator(`tr[data-key="${extra}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    process.stderr.write(`restore -> list reloaded in ${Date.now() - restoredAt} ms\n`);
    expect((await stack.api('GET', `/api/v1/flags/${extra}`)).status).toBe(404);
    await expect(eddie.locator('[data-testid="live-indicator"]').getAttribute('data-state')).resolves.toBe('live');
  });
});
