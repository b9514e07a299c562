/**
 * The README's browser steps against `npm run dev` (src/dev/dev.ts), in a
 * playwright page: sign in at the demo IdP, link the demo CRM, tick or approve
 * what the demo agent may do. Used by the e2e tests and scripts/newcomer-time.ts.
 */
import type { Page } from 'playwright-core';
import { fillDevLogin } from './chromium.js';

/**
 * A consent change the grant's upstream scopes do not cover sends the browser to the CRM to link
 * again with the larger scope set (incremental consent); the change is made when that link completes.
 */
async function throughRelink(page: Page, base: string, done: RegExp): Promise<void> {
  await page.waitForURL((url) => !url.href.startsWith(base) || done.test(url.href));
  if (!page.url().startsWith(base)) {
    await page.waitForSelector('button[type=submit]');
    await page.click('button[type=submit]');
  }
  await page.waitForURL(done);
}

/** Steps 1–3 up to the link: `/connections`, sign in as `user`, link the Demo CRM as `user`. */
export async function signInAndLinkCrm(page: Page, base: string, user = 'alice'): Promise<void> {
  await page.goto(`${base}/connections`);
  await fillDevLogin(page, user);
  await page.waitForURL(`${base}/connections`);
  await page.click('a[href="/connections/crm"]');
  await page.getByRole('button', { name: 'Link your Demo CRM account' }).click();
  await fillDevLogin(page, user);
  // The CRM asks for consent to the requested scopes once.
  if (!page.url().startsWith(base)) {
    await page.waitForSelector('button[type=submit]');
    await page.click('button[type=submit]');
  }
  await page.waitForURL(`${base}/connections/crm?result=linked`);
}

/** Ticks the operation labelled `label` for the demo agent and saves; true when it shows ticked after. */
export async function consentDemoAgent(page: Page, base: string, label: RegExp): Promise<boolean> {
  const agent = page.getByRole('group', { name: /Demo agent/ });
  await agent.getByLabel(label).check();
  await page.getByRole('button', { name: 'Save choices' }).click();
  await throughRelink(page, base, /result=(consent_saved|relinked_saved)/);
  return agent.getByLabel(label).isChecked();
}

/** The deep link of a `consent_required` shows the agent's request unticked; Approve consents exactly that operation. */
export async function approveDeepLink(page: Page, base: string, deepLink: string, label: RegExp): Promise<boolean> {
  await page.goto(deepLink);
  await page.getByRole('button', { name: 'Approve' }).click();
  await throughRelink(page, base, /result=(approved|relinked_approved)/);
  return page
    .getByRole('group', { name: /Demo agent/ })
    .getByLabel(label)
    .isChecked();
}
