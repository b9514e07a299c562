/**
 * The user's view of a connection in headless Chromium (Debian's
 * /usr/bin/chromium, never a downloaded browser): after real exchanges the
 * provider page lists each use (agent, operation, UTC time, outcome) in an
 * accessible table, shows a hostile agent id as text, and revokes one agent
 * with its own button; that agent's next exchange is refused while the other
 * agent's still succeeds. Screenshots go to test-output/e2e/.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { signInAndLinkSalesforce } from '../helpers/chromium.js';
import { OUT, useConsentE2e } from '../helpers/consent-e2e.js';
import { SALES_AGENT, SUPPORT_AGENT, type LinkingVault } from '../helpers/linking-vault.js';

const READ = 'salesforce:records.read';
const HOSTILE = 'spiffe://evil.example/"><img src=x onerror="document.title=\'pwned\'">';

const e2e = useConsentE2e();
let lv: LinkingVault;
let browser: Browser;
beforeAll(() => {
  ({ lv, browser } = e2e);
});

const shot = (page: Page, name: string) => page.screenshot({ path: join(OUT, `activity-${name}.png`), fullPage: true });

describe("a connection's history and per-agent revocation in a browser", () => {
  it('shows the uses newest first, escapes agent ids, and revokes one agent only', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });

    await signInAndLinkSalesforce(page, lv.publicUrl);
    await page
      .getByRole('group', { name: /Support agent/ })
      .getByLabel(/Read your Salesforce records/)
      .check();
    await page
      .getByRole('group', { name: /Sales agent/ })
      .getByLabel(/Read your Salesforce records/)
      .check();
    await page.getByRole('button', { name: 'Save choices' }).click();
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce?result=consent_saved`);
    expect(await page.getByText('No agent has used this account recently.').isVisible()).toBe(true);

    expect((await lv.exchange('alice', SUPPORT_AGENT, READ)).status).toBe(200);
    expect((await lv.exchange('alice', SALES_AGENT, READ)).status).toBe(200);
    // A use recorded with a hostile agent id (agent ids come from tokens): it must show as text.
    const [grant] = await lv.grants('alice');
    await lv.vault.runtime.audit.record({
      action: 'token.forward',
      decision: 'allow',
      agent: HOSTILE,
      user: grant!.userId,
      provider: 'salesforce',
      grant: grant!.id,
      operation: READ,
      details: { method: 'GET', path: '/services/data/{version}/query', upstreamStatus: 403 },
    });

    await page.reload();
    const history = page.getByRole('table', { name: /most recent uses of this account/ });
    expect(await history.getByRole('columnheader').allTextContents()).toStrictEqual(['Time (UTC)', 'Agent', 'Operation', 'Outcome']);
    const rows = history.locator('tbody tr');
    expect(await rows.count()).toBe(3);
    const cells = async (i: number) => (await rows.nth(i).getByRole('cell').allInnerTexts()).map((c) => c.replace(/\s+/g, ' ').trim());
    const [hostile, sales, support] = [await cells(0), await cells(1), await cells(2)];
    expect(hostile.slice(1)).toStrictEqual([HOSTILE, `Read your Salesforce records ${READ} GET /services/data/{version}/query`, 'Call made (HTTP 403)']);
    expect(sales.slice(1)).toStrictEqual([`Sales agent ${SALES_AGENT}`, `Read your Salesforce records ${READ}`, 'Token issued']);
    expect(support.slice(1)).toStrictEqual([`Support agent ${SUPPORT_AGENT}`, `Read your Salesforce records ${READ}`, 'Token issued']);
    for (const row of [hostile, sales, support]) expect(row[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(await history.locator('img').count()).toBe(0);
    expect(await page.title()).toBe('Salesforce — Token Vault');
    await shot(page, 'history');

    const agents = page.getByRole('table', { name: /Agents that may use this account/ });
    expect(await agents.getByRole('columnheader').allTextContents()).toStrictEqual(['Agent', 'May', 'Action']);
    await agents.getByRole('button', { name: 'Revoke Support agent' }).click();
    await page.waitForURL(`${lv.publicUrl}/connections/salesforce?result=agent_revoked`);
    expect(await page.getByRole('status').textContent()).toBe('That agent can no longer use this account. Other agents keep the access you gave them.');
    expect(await agents.getByRole('button').allTextContents()).toStrictEqual(['Revoke Sales agent']);
    expect(
      await page
        .getByRole('group', { name: /Support agent/ })
        .getByLabel(/Read your Salesforce records/)
        .isChecked(),
    ).toBe(false);
    await shot(page, 'agent-revoked');

    expect((await lv.exchange('alice', SUPPORT_AGENT, READ)).json()).toMatchObject({ error: 'consent_required' });
    expect((await lv.exchange('alice', SALES_AGENT, READ)).status).toBe(200);
    expect((await lv.grants('alice'))[0]?.consent).toStrictEqual({ [SALES_AGENT]: [READ] });
    expect(dialogs).toStrictEqual([]);
    await context.close();
  }, 120_000);
});
