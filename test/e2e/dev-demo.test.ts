/**
 * `npm run dev`'s demo in headless Chromium: the real dev entry point started
 * in an empty directory (a fresh clone), its in-process demo IdP and CRM, and
 * a newcomer who signs in, links the CRM and gives the demo agent consent.
 * Screenshots go to test-output/e2e-dev/.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillDevLogin, launchChromium } from '../helpers/chromium.js';
import { startDevProcess, type DevProcess } from '../helpers/dev-process.js';

const OUT = join(process.cwd(), 'test-output', 'e2e-dev');

let cwd: string;
let dev: DevProcess;
let browser: Browser;
let base: string;

beforeAll(async () => {
  await mkdir(OUT, { recursive: true });
  cwd = await mkdtemp(join(tmpdir(), 'tv-dev-demo-'));
  // The demo IdP and CRM listen on the two ports after the public one.
  dev = await startDevProcess(cwd);
  base = `https://127.0.0.1:${dev.ports.public}`;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await dev?.stop();
  await rm(cwd, { recursive: true, force: true });
});

const login = fillDevLogin;

describe('npm run dev demo in a browser', () => {
  it('signs in at the demo IdP, links the demo CRM and gives the demo agent consent, with zero setup', async () => {
    expect(dev.output()).toContain('sign in at the');
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const scopesAsked: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.searchParams.has('code_challenge') && url.origin !== base && url.searchParams.get('redirect_uri')?.endsWith('/connections/crm/callback'))
        scopesAsked.push(url.searchParams.get('scope') ?? '');
    });

    await page.goto(`${base}/connections`);
    await login(page, 'alice');
    await page.waitForURL(`${base}/connections`);
    expect(await page.textContent('h1')).toBe('Your connections');
    await page.screenshot({ path: join(OUT, '01-connections.png'), fullPage: true });

    await page.click('a[href="/connections/crm"]');
    await page.getByRole('button', { name: 'Link your Demo CRM account' }).click();
    await login(page, 'alice');
    // The CRM asks for consent to the requested scopes once.
    if (!page.url().startsWith(base)) {
      await page.waitForSelector('button[type=submit]');
      await page.click('button[type=submit]');
    }
    await page.waitForURL(`${base}/connections/crm?result=linked`);
    await page.screenshot({ path: join(OUT, '02-crm-linked.png'), fullPage: true });

    const agent = page.getByRole('group', { name: /Demo agent/ });
    await agent.getByLabel(/Read your CRM contacts/).check();
    await page.getByRole('button', { name: 'Save choices' }).click();
    // The plain link asked only for what every link needs; the consent needs contacts.read, so the CRM is asked again for it.
    await page.waitForURL((url) => url.origin !== base);
    await page.waitForSelector('button[type=submit]');
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/connections/crm?result=relinked_saved`);
    expect(scopesAsked).toStrictEqual(['openid', 'openid contacts.read']);
    expect(await agent.getByLabel(/Read your CRM contacts/).isChecked()).toBe(true);
    expect(await agent.getByLabel(/Create and change your CRM contacts/).isChecked()).toBe(false);
    await page.screenshot({ path: join(OUT, '03-consent-saved.png'), fullPage: true });

    await page.click('a[href="/connections"]');
    expect(await page.textContent('.cards li:has(a[href="/connections/crm"]) .status')).toBe('Active');
    await context.close();
  }, 120_000);
});
