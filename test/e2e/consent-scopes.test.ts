/**
 * Incremental authorization in headless Chromium (Debian's /usr/bin/chromium):
 * linking from a deep link asks the provider only for the requested
 * operation's scopes, and approving a later operation that needs more takes
 * the user through the provider again, asking for the larger set. The
 * authorization requests are read off the browser's own navigation.
 */
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fillDevLogin } from '../helpers/chromium.js';
import { useConsentE2e } from '../helpers/consent-e2e.js';
import { SALES_AGENT, type LinkingVault } from '../helpers/linking-vault.js';

const READ = 'salesforce:records.read';
const WRITE = 'salesforce:records.write';
/** Chromium, two fake providers and a vault on a shared 2-core machine: slower than the default 30 s. */
const E2E_TIMEOUT_MS = 120_000;

const e2e = useConsentE2e({
  salesforceScopes: { provider: ['refresh_token', 'api', 'web'], operations: { 'records.read': ['api'], 'records.write': ['api', 'web'] } },
});
let lv: LinkingVault;
let browser: Browser;
beforeAll(() => {
  ({ lv, browser } = e2e);
});

/** At the provider: sign in when it asks, then approve on its consent page; back at the vault afterwards. */
async function throughProvider(page: Page, login: string): Promise<void> {
  await page.waitForURL((url) => url.origin === lv.salesforce.origin);
  await page.waitForSelector('button[type=submit]');
  if ((await page.locator('input[name=login]').count()) > 0) {
    await fillDevLogin(page, login);
    await page.waitForSelector('input[name=login]', { state: 'detached' });
  }
  if (new URL(page.url()).origin === lv.salesforce.origin) {
    await page.waitForSelector('button[type=submit]');
    await page.click('button[type=submit]');
  }
  await page.waitForURL((url) => url.origin === lv.publicUrl);
}

describe('incremental scopes in a browser', () => {
  it(
    'links with the requested operation’s scopes only, and re-links asking for more when a later operation needs them',
    async () => {
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const authorizations: string[] = [];
      page.on('request', (request) => {
        const url = new URL(request.url());
        if (url.origin === lv.salesforce.origin && url.pathname === '/services/oauth2/authorize') authorizations.push(url.searchParams.get('scope') ?? '');
      });
      const deepLink = (operation: string) =>
        `${lv.publicUrl}/connections/salesforce?agent=${encodeURIComponent(SALES_AGENT)}&operation=${encodeURIComponent(operation)}`;
      const request = page.getByRole('region', { name: 'An agent asks for access' });

      await page.goto(deepLink(READ));
      await fillDevLogin(page, 'alice');
      await page.waitForURL(deepLink(READ));
      await page.getByRole('button', { name: 'Link your Salesforce account' }).click();
      await throughProvider(page, 'alice');
      await page.waitForURL(`${deepLink(READ)}&result=linked`);
      expect(authorizations).toStrictEqual(['refresh_token api']);
      await request.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL(`${lv.publicUrl}/connections/salesforce?result=approved`);
      const [first] = await lv.grants('alice');
      expect(first?.consent).toStrictEqual({ [SALES_AGENT]: [READ] });

      await page.goto(deepLink(WRITE));
      expect(await request.innerText()).toContain('Approving takes you to Salesforce to link your account again, asking for this extra access: web.');
      await request.getByRole('button', { name: 'Approve' }).click();
      await throughProvider(page, 'alice');
      await page.waitForURL(`${lv.publicUrl}/connections/salesforce?result=relinked_approved`);
      expect(authorizations).toStrictEqual(['refresh_token api', 'refresh_token api web']);
      const grants = await lv.grants('alice');
      expect(grants).toHaveLength(1);
      expect(grants[0]?.id).not.toBe(first?.id);
      expect([...grants[0]!.scopes].sort()).toStrictEqual(['api', 'refresh_token', 'web']);
      expect(grants[0]?.consent).toStrictEqual({ [SALES_AGENT]: [READ, WRITE] });
      const sales = page.getByRole('group', { name: /Sales agent/ });
      expect(await sales.getByLabel(/Change your Salesforce records/).isChecked()).toBe(true);
      await context.close();
    },
    E2E_TIMEOUT_MS,
  );
});
