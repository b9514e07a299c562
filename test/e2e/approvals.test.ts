/**
 * Human approval end to end in headless Chromium (Debian's /usr/bin/chromium): alice links
 * Salesforce and lets the sales agent create records, each one approved by her. The agent's
 * gateway asks (`authorization_pending`), alice sees the exact request on /approvals (the
 * agent's summary as plain text) and approves; the gateway's poll gets a token that /forward
 * accepts for that request, once. A second request she denies: the poll gets `access_denied`.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { signInAndLinkSalesforce } from '../helpers/chromium.js';
import { OUT, SCREENSHOTS, useConsentE2e } from '../helpers/consent-e2e.js';
import { SALES_AGENT, type LinkingVault } from '../helpers/linking-vault.js';
import { GRANT_TYPE_CIBA, sha256 } from '../helpers/approval-fixture.js';
import { withRequestId } from '../helpers/request-id.js';

const E2E_TIMEOUT_MS = 120_000;
const e2e = useConsentE2e({ userApprovedCreate: true });
let lv: LinkingVault;
let browser: Browser;
beforeAll(() => {
  ({ lv, browser } = e2e);
});

const PATH = '/services/data/v60.0/sobjects/Account';
const SUMMARY = 'Create the account <b>Acme</b>\u202e\u0007 for the Q3 deal';

async function ask(body: string): Promise<string> {
  const detail = { type: 'salesforce', actions: ['records.create'], method: 'POST', path: PATH, body_sha256: sha256(body), summary: SUMMARY };
  const res = await lv.tokenRequest('alice', SALES_AGENT, {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    resource: 'salesforce',
    authorization_details: JSON.stringify([detail]),
  });
  expect(res.status).toBe(400);
  const answer = res.json<{ error: string; auth_req_id: string; interval: number }>();
  expect(answer).toMatchObject({ error: 'authorization_pending', interval: 1 });
  return answer.auth_req_id;
}

const poll = (authReqId: string) => lv.tokenRequest('alice', SALES_AGENT, { grant_type: GRANT_TYPE_CIBA, auth_req_id: authReqId });

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(OUT, `approvals-${name}.png`), fullPage: true });
}

describe('approvals in a browser', { timeout: E2E_TIMEOUT_MS }, () => {
  it('the user sees the exact action and approves it; the token allows that request once; a denied one answers access_denied', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await signInAndLinkSalesforce(page, lv.publicUrl);
    await page
      .getByRole('group', { name: /Sales agent/ })
      .getByLabel(/each one approved by you/)
      .check();
    await page.getByRole('button', { name: 'Save choices' }).click();
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce?result=consent_saved`);

    const body = '{"Name":"Acme"}';
    const authReqId = await ask(body);
    expect((await poll(authReqId)).json()).toMatchObject({ error: 'authorization_pending' });

    await page.goto(`${lv.publicUrl}/connections`);
    await page.getByRole('link', { name: '1 request waits for your approval' }).click();
    await page.waitForURL(`${lv.publicUrl}/approvals`);
    const request = page.locator('li.approval');
    expect(await request.locator('.action').textContent()).toBe(`POST ${PATH}`);
    expect(await request.textContent()).toContain(sha256(body));
    expect(await request.textContent()).toContain('Sales agent');
    expect(await request.locator('.summary').textContent()).toBe('Create the account <b>Acme</b>\ufffd\ufffd for the Q3 deal');
    expect(await request.locator('.summary b').count()).toBe(0);
    await screenshot(page, 'pending');
    await page.screenshot({ path: join(SCREENSHOTS, 'approvals.png'), fullPage: true });
    await request.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(`${lv.publicUrl}/approvals?result=approved`);
    expect(await page.textContent('[role=status]')).toContain('Approved');
    expect(await page.textContent('main')).toContain('No request is waiting for you.');

    await sleep(1_100);
    const issued = await poll(authReqId);
    expect(issued.status).toBe(200);
    const token = issued.json<{ access_token: string }>().access_token;
    const calls = lv.salesforce.apiCalls.length;
    const sent = await lv.forward(`/salesforce${PATH}`, token, { method: 'POST', body });
    expect(sent.status).toBe(200);
    expect(lv.salesforce.apiCalls.slice(calls).map((c) => [c.method, c.path, c.sub])).toStrictEqual([['POST', PATH, 'alice']]);
    const again = await lv.forward(`/salesforce${PATH}`, token, { method: 'POST', body });
    expect(again.status).toBe(401);

    const second = await ask('{"Name":"Globex"}');
    await page.goto(`${lv.publicUrl}/approvals`);
    await page.locator('li.approval').getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(`${lv.publicUrl}/approvals?result=denied`);
    await screenshot(page, 'denied');
    await sleep(1_100);
    const denied = await poll(second);
    expect({ status: denied.status, body: denied.json() }).toStrictEqual({
      status: 400,
      body: withRequestId(denied, { error: 'access_denied', error_description: 'The approver denied the request.' }),
    });
    await context.close();
  });
});
