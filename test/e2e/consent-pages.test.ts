/**
 * End to end in headless Chromium (Debian's /usr/bin/chromium, never a
 * downloaded browser): sign in at the IdP, link Salesforce, tick consent for
 * an agent, see the connection active, unlink it after confirming; answer a
 * deep link's request with Deny, then Approve; unlink with JavaScript off. A
 * screenshot of every page goes to test-output/e2e/, those worth a look to
 * test-output/screenshots/.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fillDevLogin } from '../helpers/chromium.js';
import { OUT, SCREENSHOTS, useConsentE2e } from '../helpers/consent-e2e.js';
import { SALES_AGENT, SUPPORT_AGENT, type LinkingVault } from '../helpers/linking-vault.js';

/** Chromium, two fake providers and a vault on a shared 2-core machine: slower than the default 30 s. */
const E2E_TIMEOUT_MS = 120_000;
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

describe('consent pages in a browser', { timeout: E2E_TIMEOUT_MS }, () => {
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
    await page.screenshot({ path: join(SCREENSHOTS, 'connections.png'), fullPage: true });

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
    expect((await support.locator('label', { hasText: 'Read your Salesforce records' }).innerText()).replace(/\s+/g, ' ')).toBe(
      'Read your Salesforce records salesforce:records.read Each time the agent asks: one call, valid for 60 seconds; your Salesforce token never leaves the vault.',
    );
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
    await page.getByRole('link', { name: 'Unlink this account' }).click();
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce/unlink?grant=${grant!.id}`);
    expect(await page.textContent('h1')).toBe('Unlink Salesforce?');
    expect(await page.textContent('main p')).toContain('This revokes the vault’s access to your Salesforce account');
    await screenshot(page, 'unlink-confirmation');
    await page.screenshot({ path: join(SCREENSHOTS, 'unlink-confirmation.png'), fullPage: true });
    expect(await lv.grants('alice')).toHaveLength(1);
    await page.getByRole('button', { name: 'Confirm' }).click();
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

  it('shows a deep link’s request unticked; Deny changes nothing; Approve consents exactly that', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const deepLink = `${lv.publicUrl}/connections/salesforce?agent=${encodeURIComponent(SALES_AGENT)}&operation=salesforce%3Arecords.read`;
    await page.goto(deepLink);
    await providerLogin(page, 'alice', 'idp-deep-link');
    await page.waitForURL(deepLink);
    const request = page.getByRole('region', { name: 'An agent asks for access' });
    expect(await request.textContent()).toContain('Link your Salesforce account below first');
    await page.getByRole('button', { name: 'Link your Salesforce account' }).click();
    await providerLogin(page, 'alice', 'salesforce-deep-link');
    await page.waitForSelector('button[type=submit]');
    await page.click('button[type=submit]');
    await page.waitForURL(`${deepLink}&result=linked`);

    const text = (await request.innerText()).replace(/\s+/g, ' ');
    expect(text).toContain(`Sales agent ${SALES_AGENT} asks to: Read your Salesforce records salesforce:records.read`);
    expect(text).toContain('Each time the agent asks: one call, valid for 60 seconds; your Salesforce token never leaves the vault.');
    expect(text).toContain('Nothing changes until you choose.');
    const sales = page.getByRole('group', { name: /Sales agent/ });
    expect(await sales.getByLabel(/Read your Salesforce records/).isChecked()).toBe(false);
    expect(await sales.getByLabel(/Change your Salesforce records/).isChecked()).toBe(false);
    await screenshot(page, 'deep-link-approval');
    await page.screenshot({ path: join(SCREENSHOTS, 'deep-link-approval.png'), fullPage: true });

    const before = await lv.grants('alice');
    expect(before).toHaveLength(1);
    expect(before[0]?.consent).toStrictEqual({});
    await request.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce?result=denied`);
    expect(await page.textContent('[role=status]')).toBe('Denied. Nothing was changed: the agent was not given access.');
    expect(await lv.grants('alice')).toStrictEqual(before);

    await page.goto(deepLink);
    await request.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce?result=approved`);
    expect((await lv.grants('alice'))[0]?.consent).toStrictEqual({ [SALES_AGENT]: ['salesforce:records.read'] });
    expect(await sales.getByLabel(/Read your Salesforce records/).isChecked()).toBe(true);
    expect(await sales.getByLabel(/Change your Salesforce records/).isChecked()).toBe(false);
    await screenshot(page, 'deep-link-approved');
    await context.close();
  });

  it('asks before unlinking with JavaScript disabled too: Cancel keeps the link, Confirm unlinks', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${lv.publicUrl}/connections/salesforce`);
    await providerLogin(page, 'alice', 'idp-no-js');
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce`);
    const [grant] = await lv.grants('alice');
    await page.getByRole('link', { name: 'Unlink this account' }).click();
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce/unlink?grant=${grant!.id}`);
    expect(await page.textContent('h1')).toBe('Unlink Salesforce?');
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce`);
    expect(await lv.grants('alice')).toStrictEqual([grant]);

    await page.getByRole('link', { name: 'Unlink this account' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce?result=unlinked`);
    expect(await lv.grants('alice')).toStrictEqual([]);
    await context.close();
  });
});
