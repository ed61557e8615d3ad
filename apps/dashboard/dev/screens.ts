// DEVELOPMENT AID: screenshots of the main pages of a running dashboard.
// `node --import tsx dev/screens.ts <dashboardUrl> <token>`
import { launchBrowser, screenshot, signIn } from '../test/browser';

const [url, token] = process.argv.slice(2);
const browser = await launchBrowser();
try {
  for (const [w, h, tag, colorScheme] of [[1280, 900, 'desk', 'light'], [390, 844, 'phone', 'light'], [1280, 900, 'dark', 'dark']] as const) {
    const ctx = await browser.newContext({ viewport: { width: w, height: h }, colorScheme });
    const page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && console.error('console:', m.text()));
    page.on('pageerror', (e) => console.error('pageerror:', e.message));
    await signIn(page, url, token);
    await screenshot(page, `dev-${tag}-flags`, tag !== 'phone');
    const first = page.locator('tbody tr a').first();
    await first.click();
    await page.waitForURL(/\/flags\/[^/]+$/);
    await screenshot(page, `dev-${tag}-flag`, tag !== 'phone');
    await page.goto(`${url}/flags/new`);
    await screenshot(page, `dev-${tag}-new`, tag !== 'phone');
    await page.goto(`${url}/cluster`);
    await screenshot(page, `dev-${tag}-cluster`);
    await page.goto(`${url}/segments`);
    await screenshot(page, `dev-${tag}-segments`);
    await page.goto(`${url}/audit`);
    await screenshot(page, `dev-${tag}-audit`);
    await page.goto(`${url}/evaluate`);
    await screenshot(page, `dev-${tag}-evaluate`);
    await ctx.close();
  }
} finally {
  await browser.close();
}
