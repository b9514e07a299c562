import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserClient } from '../../helpers/browser-client.js';
import { startLinkingVault, SUPPORT_AGENT, type LinkingVault } from '../../helpers/linking-vault.js';

let lv: LinkingVault;

beforeAll(async () => {
  lv = await startLinkingVault();
});
afterAll(async () => {
  await lv?.close();
});

describe('linking', () => {
  it('signs in at the IdP and links Salesforce, storing an encrypted grant with instance_url', async () => {
    const browser = await lv.signIn();
    const answer = await lv.link(browser, 'salesforce');
    expect(answer.status).toBe(303);
    expect(answer.location).toBe('/connections/salesforce?result=linked');
    const grants = await lv.grants();
    expect(grants).toHaveLength(1);
    const grant = grants[0]!;
    expect(grant).toMatchObject({ provider: 'salesforce', status: 'active', version: 1, consent: {}, instanceUrl: lv.salesforce.origin });
    expect(grant.upstreamSubject).toMatch(/\/id\/.+\/alice$/);
    const refreshToken = lv.refreshTokenOf(grant);
    expect(grant.refreshToken).not.toContain(refreshToken);
    expect(await lv.salesforce.isRefreshTokenActive(refreshToken)).toBe(true);
    const page = await browser.get('/connections/salesforce?result=linked');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Account linked');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    void SUPPORT_AGENT;
    void BrowserClient;
  });
});
