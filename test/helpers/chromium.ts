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
