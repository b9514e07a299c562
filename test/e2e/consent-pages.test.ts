/**
 * End to end in headless Chromium (Debian's /usr/bin/chromium, never a
 * downloaded browser): sign in at the IdP, link Salesforce, tick consent for
 * an agent, see the connection active, unlink it. A screenshot of every page
 * goes to test-output/e2e/.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fillDevLogin } from '../helpers/chromium.js';
import { OUT, useConsentE2e } from '../helpers/consent-e2e.js';
import { SUPPORT_AGENT, type LinkingVault } from '../helpers/linking-vault.js';

const e2e = useConsentE2e();
let lv: LinkingVault;
let browser: Browser;
beforeAll(() => {
  ({ lv, browser } = e2e);
});

let shot = 0;
async function screenshot(page: Page, name: string): Promise<void> {
  shot += 1;
  await page.screenshot({ path: join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

/** The fake provider's dev login page, then its consent page when it shows one. */
async function providerLogin(page: Page, login: string, name: string): Promise<void> {
  await page.waitForSelector('input[name=login]');
  await screenshot(page, `${name}-login`);
  await fillDevLogin(page, login);
}

describe('consent pages in a browser', () => {
  it('signs in, links Salesforce, consents for an agent, sees it active and unlinks it', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (msg) => {
      if (/Content Security Policy|Refused/i.test(msg.text())) violations.push(msg.text());
    });

    await page.goto(`${lv.publicUrl}/connections`);
    await providerLogin(page, 'alice', 'idp');
    await page.waitForURL(`${lv.publicUrl}/connections`);
    expect(await page.textContent('h1')).toBe('Your connections');
    expect(await page.textContent('.who')).toBe('Alice Example');
    await screenshot(page, 'connections');

    await page.click('a[href="/connections/salesforce"]');
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce`);
    expect(await page.textContent('main')).toContain('Not linked');
    await screenshot(page, 'provider-not-linked');

    await page.getByRole('button', { name: 'Link your Salesforce account' }).click();
    await providerLogin(page, 'alice', 'salesforce');
    await page.waitForSelector('button[type=submit]');
    await screenshot(page, 'salesforce-consent');
    await page.click('button[type=submit]');
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce?result=linked`);
    expect(await page.textContent('[role=status]')).toContain('Account linked');
    await screenshot(page, 'provider-linked');

    const support = page.getByRole('group', { name: /Support agent/ });
    await support.getByLabel(/Read your Salesforce records/).check();
    await page.getByRole('button', { name: 'Save choices' }).click();
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce?result=consent_saved`);
    expect(await support.getByLabel(/Read your Salesforce records/).isChecked()).toBe(true);
    await screenshot(page, 'consent-saved');
    const [grant] = await lv.grants('alice');
    expect(grant?.consent).toStrictEqual({ [SUPPORT_AGENT]: ['salesforce:records.read'] });

    await page.click('a[href="/connections"]');
    await page.waitForURL(`${lv.publicUrl}/connections`);
    expect(await page.textContent('.cards li:has(a[href="/connections/salesforce"]) .status')).toBe('Active');
    await screenshot(page, 'connections-active');

    await page.click('a[href="/connections/salesforce"]');
    await page.getByRole('button', { name: 'Unlink this account' }).click();
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce?result=unlinked`);
    expect(await page.textContent('[role=status]')).toContain('The provider confirmed');
    expect(await page.textContent('main')).toContain('Not linked');
    await screenshot(page, 'unlinked');
    expect(await lv.grants('alice')).toStrictEqual([]);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${lv.publicUrl}/signed-out`);
    await screenshot(page, 'signed-out');
    expect(violations).toStrictEqual([]);
    await context.close();
  });
});
