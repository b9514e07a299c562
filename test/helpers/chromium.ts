/** Headless Chromium for e2e tests: Debian's /usr/bin/chromium (never a downloaded browser). */
import { chromium, type Browser, type Page } from 'playwright-core';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
}

/** Fill and submit the dev login page of oidc-provider (the fake IdP and providers) as `login`. */
export async function fillDevLogin(page: Page, login: string): Promise<void> {
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', login);
  await page.click('button[type=submit]');
}

/** Sign in at the IdP as `login` and link Salesforce as the same account, through the pages (ends on the linked page). */
export async function signInAndLinkSalesforce(page: Page, publicUrl: string, login = 'alice'): Promise<void> {
  await page.goto(`${publicUrl}/connections/salesforce`);
  await fillDevLogin(page, login);
  await page.waitForURL(`${publicUrl}/connections/salesforce`);
  await page.getByRole('button', { name: 'Link your Salesforce account' }).click();
  await fillDevLogin(page, login);
  await page.waitForSelector('button[type=submit]');
  await page.click('button[type=submit]');
  await page.waitForURL(`${publicUrl}/connections/salesforce?result=linked`);
}
