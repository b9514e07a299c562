/**
 * Incremental authorization (RFC 6749 §3.3) against the fake Salesforce: a
 * link asks only for the scopes of what it is for, and a consent that needs
 * more is a re-link asking for the larger set, the new grant replacing the old.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserClient } from '../../helpers/browser-client.js';
import { runLoginFlow } from '../../helpers/fake-providers/login-flow.js';
import { SALES_AGENT, startLinkingVault, SUPPORT_AGENT, type LinkingVault } from '../../helpers/linking-vault.js';

const READ = 'salesforce:records.read';
const WRITE = 'salesforce:records.write';
let lv: LinkingVault;

beforeAll(async () => {
  lv = await startLinkingVault({
    salesforceScopes: { provider: ['refresh_token', 'api', 'web'], operations: { 'records.read': ['api'], 'records.write': ['api', 'web'] } },
  });
});
afterAll(async () => {
  await lv?.close();
});

const deepLink = (agent: string, operation: string) => `/connections/salesforce?agent=${encodeURIComponent(agent)}&operation=${encodeURIComponent(operation)}`;
const scopeOf = (location: string) => new URL(location).searchParams.get('scope');
const only = async (login: string) => {
  const grants = await lv.grants(login);
  expect(grants).toHaveLength(1);
  return grants[0]!;
};

/** Walk the provider's pages from an authorization URL and deliver its callback to the vault. */
async function finishAtProvider(browser: BrowserClient, authorizationUrl: string, login: string) {
  const { callbackUrl } = await runLoginFlow(new URL(authorizationUrl), {
    login,
    password: login,
    redirectUri: `${lv.publicUrl}/connections/salesforce/callback`,
  });
  return browser.get(callbackUrl.pathname + callbackUrl.search);
}

describe('incremental scopes', () => {
  it('a link from a deep link asks only for the requested operation’s scopes; approving it needs no re-link', async () => {
    const browser = await lv.signIn('alice');
    const page = await browser.get(deepLink(SALES_AGENT, READ));
    expect(page.text).toContain('Link your Salesforce account below first; you then approve or deny this request here.');
    const started = await browser.postForm('/connections/salesforce/link', { _csrf: BrowserClient.csrf(page), agent: SALES_AGENT, operation: READ });
    expect(scopeOf(started.location!)).toBe('refresh_token api');
    const linked = await finishAtProvider(browser, started.location!, 'alice');
    expect(linked.location).toBe(`${deepLink(SALES_AGENT, READ)}&result=linked`);
    const grant = await only('alice');
    expect([...grant.scopes].sort()).toStrictEqual(['api', 'refresh_token']);
    expect(grant.consent).toStrictEqual({});

    const back = await browser.get(linked.location!);
    expect(back.text).not.toContain('Approving takes you to Salesforce');
    const approved = await browser.postForm('/connections/salesforce/approve', {
      _csrf: BrowserClient.csrf(back),
      grant: grant.id,
      agent: SALES_AGENT,
      operation: READ,
    });
    expect(approved.location).toBe('/connections/salesforce?result=approved');
    expect(await only('alice')).toMatchObject({ id: grant.id, consent: { [SALES_AGENT]: [READ] } });
  });

  it('approving an operation that needs more scopes re-links asking for them, then approves it on the new grant', async () => {
    const browser = await lv.signIn('alice');
    const old = await only('alice');
    const oldUpstreamGrant = await lv.salesforce.grantIdOf(lv.refreshTokenOf(old));
    const page = await browser.get(deepLink(SALES_AGENT, WRITE));
    expect(page.text).toContain('Approving takes you to Salesforce to link your account again, asking for this extra access: <span class="op">web</span>.');
    const approve = await browser.postForm('/connections/salesforce/approve', {
      _csrf: BrowserClient.csrf(page),
      grant: old.id,
      agent: SALES_AGENT,
      operation: WRITE,
    });
    expect(approve.status).toBe(303);
    expect(new URL(approve.location!).origin).toBe(lv.salesforce.origin);
    // What is consented already (read: api) plus what the request needs (write: api web).
    expect(scopeOf(approve.location!)).toBe('refresh_token api web');
    expect(await only('alice')).toStrictEqual(old);

    const done = await finishAtProvider(browser, approve.location!, 'alice');
    expect(done.location).toBe('/connections/salesforce?result=relinked_approved');
    const fresh = await only('alice');
    expect(fresh.id).not.toBe(old.id);
    expect([...fresh.scopes].sort()).toStrictEqual(['api', 'refresh_token', 'web']);
    expect(fresh.consent).toStrictEqual({ [SALES_AGENT]: [READ, WRITE] });
    expect(await lv.salesforce.grantExists(oldUpstreamGrant!)).toBe(false);
    expect((await browser.get(done.location!)).text).toContain('Account linked again with the extra access this needs, and the request was approved.');
  });

  it('a plain link asks for the undeclared scopes only; saving a choice that needs more re-links, then saves it', async () => {
    const browser = await lv.signIn('bob');
    const start = await browser.get('/connections/salesforce');
    const started = await browser.postForm('/connections/salesforce/link', { _csrf: BrowserClient.csrf(start) });
    expect(scopeOf(started.location!)).toBe('refresh_token');
    await finishAtProvider(browser, started.location!, 'bob');
    const old = await only('bob');
    expect(old.scopes).toStrictEqual(['refresh_token']);

    const page = await browser.get('/connections/salesforce');
    const saved = await browser.postForm('/connections/salesforce/consent', {
      _csrf: BrowserClient.csrf(page),
      grant: old.id,
      consent: [`${READ} ${SUPPORT_AGENT}`],
    });
    expect(scopeOf(saved.location!)).toBe('refresh_token api');
    expect(await only('bob')).toStrictEqual(old);
    const done = await finishAtProvider(browser, saved.location!, 'bob');
    expect(done.location).toBe('/connections/salesforce?result=relinked_saved');
    const fresh = await only('bob');
    expect(fresh.id).not.toBe(old.id);
    expect([...fresh.scopes].sort()).toStrictEqual(['api', 'refresh_token']);
    expect(fresh.consent).toStrictEqual({ [SUPPORT_AGENT]: [READ] });

    // Withdrawing needs no scopes: saved at once.
    const later = await browser.get('/connections/salesforce');
    const withdrawn = await browser.postForm('/connections/salesforce/consent', { _csrf: BrowserClient.csrf(later), grant: fresh.id });
    expect(withdrawn.location).toBe('/connections/salesforce?result=consent_saved');
    expect((await only('bob')).consent).toStrictEqual({});
  });
});
