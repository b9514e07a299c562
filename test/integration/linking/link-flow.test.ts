/**
 * Linking, re-linking, consent and unlinking against oidc-provider fakes of
 * Salesforce (instance_url, no expires_in, rotation on) and ServiceNow
 * (per-instance host), through the real HTTPS vault.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../../src/store/audit-store.js';
import { BrowserClient } from '../../helpers/browser-client.js';
import { SALES_AGENT, startLinkingVault, SUPPORT_AGENT, type LinkingVault } from '../../helpers/linking-vault.js';
import { consentedRecord, honoured } from '../../helpers/token-liveness.js';
import { trailEntries } from '../../helpers/audit-trail.js';

let lv: LinkingVault;

beforeAll(async () => {
  lv = await startLinkingVault();
});
afterAll(async () => {
  await lv?.close();
});

async function auditActions(): Promise<Array<Record<string, unknown>>> {
  const entries: AuditEntry[] = await trailEntries(lv.vault.runtime.stores.audit);
  return entries.map((e) => JSON.parse(e.body) as Record<string, unknown>);
}

const only = async (login: string, provider: string) => {
  const grants = (await lv.grants(login)).filter((g) => g.provider === provider);
  expect(grants).toHaveLength(1);
  return grants[0]!;
};

describe('linking', () => {
  it('signs in at the IdP and links Salesforce into an encrypted grant with instance_url and the identity URL as subject', async () => {
    const browser = await lv.signIn('alice');
    const answer = await lv.link(browser, 'salesforce');
    expect(answer.status).toBe(303);
    expect(answer.location).toBe('/connections/salesforce?result=linked');
    const grant = await only('alice', 'salesforce');
    expect(grant).toStrictEqual({
      id: expect.stringMatching(/^[\w-]{24}$/),
      userId: `${lv.idp.issuer}#alice`,
      provider: 'salesforce',
      upstreamSubject: `${lv.salesforce.origin}/id/00D000000000001AAA/alice`,
      instanceUrl: lv.salesforce.origin,
      scopes: ['api', 'refresh_token'],
      status: 'active',
      refreshToken: expect.any(String),
      version: 1,
      consent: {},
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
    const refreshToken = lv.refreshTokenOf(grant);
    expect(grant.refreshToken).not.toContain(refreshToken);
    expect(await lv.salesforce.isRefreshTokenActive(refreshToken)).toBe(true);
    // The access token is cached encrypted, shorter than its life.
    const cached = await lv.vault.runtime.stores.tokens.getAccessToken(grant.id);
    expect(cached?.grantVersion).toBe(1);
    const page = await browser.get('/connections/salesforce?result=linked');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Account linked');
    expect(page.text).toContain('Active');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(await auditActions()).toContainEqual(
      expect.objectContaining({ action: 'grant.link', decision: 'allow', user: grant.userId, grant: grant.id, provider: 'salesforce' }),
    );
  });

  it('links ServiceNow on its own instance host, subject from the ID token', async () => {
    const browser = await lv.signIn('bob');
    const answer = await lv.link(browser, 'servicenow', 'bob');
    expect(answer.location).toBe('/connections/servicenow?result=linked');
    const grant = await only('bob', 'servicenow');
    expect(grant).toMatchObject({ upstreamSubject: 'bob', status: 'active', version: 1, scopes: ['openid', 'useraccount'] });
    expect(grant.instanceUrl).toBeUndefined();
    expect(await lv.servicenow.isRefreshTokenActive(lv.refreshTokenOf(grant))).toBe(true);
  });

  it('saves consent within the admin ceiling and shows it ticked', async () => {
    const browser = await lv.signIn('alice');
    const grant = await only('alice', 'salesforce');
    const page = await browser.get('/connections/salesforce');
    const saved = await browser.postForm('/connections/salesforce/consent', {
      _csrf: BrowserClient.csrf(page),
      grant: grant.id,
      consent: [`salesforce:records.read ${SUPPORT_AGENT}`, `salesforce:records.write ${SALES_AGENT}`],
    });
    expect(saved.status).toBe(303);
    expect(saved.location).toBe('/connections/salesforce?result=consent_saved');
    expect((await only('alice', 'salesforce')).consent).toStrictEqual({
      [SUPPORT_AGENT]: ['salesforce:records.read'],
      [SALES_AGENT]: ['salesforce:records.write'],
    });
    const after = await browser.get(saved.location!);
    expect(after.text).toMatch(/value="salesforce:records\.read spiffe:\/\/corp\.example\/agents\/support" checked/);
    expect(await auditActions()).toContainEqual(
      expect.objectContaining({ action: 'grant.consent', agent: SALES_AGENT, grant: grant.id, details: { operations: 'salesforce:records.write' } }),
    );
  });

  const salesReadLink = `/connections/salesforce?agent=${encodeURIComponent(SALES_AGENT)}&operation=salesforce:records.read`;

  it('shows what an agent asked for on the deep link with Approve and Deny, never pre-ticked', async () => {
    const browser = await lv.signIn('alice');
    const grant = await only('alice', 'salesforce');
    const page = await browser.get(salesReadLink);
    expect(page.status).toBe(200);
    const csrf = BrowserClient.csrf(page);
    const fields = (action: string) =>
      `<form method="post" action="/connections/salesforce/${action}" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="agent" value="${SALES_AGENT}">\n<input type="hidden" name="operation" value="salesforce:records.read">`;
    expect(page.text).toContain(
      `<section class="request" aria-labelledby="request-title">
<h2 id="request-title">An agent asks for access</h2>
<p><strong>Sales agent</strong> <span class="op">${SALES_AGENT}</span> asks to:
<strong>Read your Salesforce records</strong> <span class="op">salesforce:records.read</span></p>
<p><span class="limits">Each time the agent asks: one call, valid for 60 seconds; your Salesforce token never leaves the vault.</span></p>
<p>Nothing changes until you choose.</p>

<div class="actions">${fields('approve')}<input type="hidden" name="grant" value="${grant.id}">
<button type="submit">Approve</button></form>
${fields('deny')}<button type="submit" class="secondary">Deny</button></form></div>
</section>`,
    );
    // The ordinary checkboxes show only what is consented: the request is not ticked there.
    expect(page.text).toMatch(/value="salesforce:records\.read spiffe:\/\/corp\.example\/agents\/sales">\s*<label/);
    expect(page.text).toMatch(/value="salesforce:records\.write spiffe:\/\/corp\.example\/agents\/sales" checked>/);
    expect(page.text).not.toContain('(requested)');
  });

  it('Deny changes nothing, says so, and is audited', async () => {
    const browser = await lv.signIn('alice');
    const before = await lv.allGrants();
    const page = await browser.get(salesReadLink);
    const denied = await browser.postForm('/connections/salesforce/deny', {
      _csrf: BrowserClient.csrf(page),
      agent: SALES_AGENT,
      operation: 'salesforce:records.read',
    });
    expect(denied.status).toBe(303);
    expect(denied.location).toBe('/connections/salesforce?result=denied');
    expect(await lv.allGrants()).toStrictEqual(before);
    expect((await browser.get(denied.location!)).text).toContain('Denied. Nothing was changed: the agent was not given access.');
    const grant = await only('alice', 'salesforce');
    expect((await auditActions()).filter((e) => e['reason'] === 'request_denied')).toStrictEqual([
      expect.objectContaining({
        action: 'grant.consent',
        decision: 'deny',
        reason: 'request_denied',
        user: grant.userId,
        actor: grant.userId,
        agent: SALES_AGENT,
        provider: 'salesforce',
        operation: 'salesforce:records.read',
      }),
    ]);
  });

  it('Approve adds exactly the requested operation for that agent, audited, and refuses a POST without the CSRF token', async () => {
    const browser = await lv.signIn('alice');
    const grant = await only('alice', 'salesforce');
    const page = await browser.get(salesReadLink);
    const form = { grant: grant.id, agent: SALES_AGENT, operation: 'salesforce:records.read' };
    expect((await browser.postForm('/connections/salesforce/approve', form)).status).toBe(403);
    expect(await only('alice', 'salesforce')).toStrictEqual(grant);
    const approved = await browser.postForm('/connections/salesforce/approve', { _csrf: BrowserClient.csrf(page), ...form });
    expect(approved.status).toBe(303);
    expect(approved.location).toBe('/connections/salesforce?result=approved');
    const after = await only('alice', 'salesforce');
    expect(after).toStrictEqual({
      ...grant,
      consent: { [SUPPORT_AGENT]: ['salesforce:records.read'], [SALES_AGENT]: ['salesforce:records.read', 'salesforce:records.write'] },
      consentEpochs: { ...grant.consentEpochs, [SALES_AGENT]: expect.any(Number) },
      updatedAt: expect.any(Number),
    });
    expect(await auditActions()).toContainEqual(
      expect.objectContaining({
        action: 'grant.consent',
        decision: 'allow',
        reason: 'request_approved',
        agent: SALES_AGENT,
        grant: grant.id,
        details: { operations: 'salesforce:records.read salesforce:records.write', approved: 'salesforce:records.read' },
      }),
    );
    expect((await browser.get(approved.location!)).text).toContain('Approved. The agent may now do what it asked for');
    const again = await browser.get(salesReadLink);
    expect(again.text).toContain('<p role="status">Sales agent may already do this.</p>');
    expect(again.text).not.toContain('/connections/salesforce/approve');
  });

  it('sends a signed-out deep link through sign-in and back', async () => {
    const browser = new BrowserClient(lv.publicUrl, lv.vault.pki.ca);
    const answer = await browser.get(`/connections/salesforce?agent=${encodeURIComponent(SALES_AGENT)}&operation=salesforce:records.read`);
    expect(answer.status).toBe(303);
    expect(answer.location).toBe(
      `/login?returnTo=${encodeURIComponent(`/connections/salesforce?agent=${encodeURIComponent(SALES_AGENT)}&operation=salesforce:records.read`)}`,
    );
  });

  it('re-links the same Salesforce account: new grant keeps consent, old refresh token revoked upstream', async () => {
    const browser = await lv.signIn('alice');
    const old = await only('alice', 'salesforce');
    const oldToken = lv.refreshTokenOf(old);
    const oldUpstreamGrant = await lv.salesforce.grantIdOf(oldToken);
    expect(oldUpstreamGrant).toBeDefined();
    const answer = await lv.link(browser, 'salesforce');
    expect(answer.location).toBe('/connections/salesforce?result=relinked');
    const fresh = await only('alice', 'salesforce');
    expect(fresh.id).not.toBe(old.id);
    expect(fresh.consent).toStrictEqual(old.consent);
    expect(await lv.vault.runtime.stores.grants.get(old.id)).toBeNull();
    expect(await lv.salesforce.grantExists(oldUpstreamGrant!)).toBe(false);
    expect(await lv.salesforce.isRefreshTokenActive(lv.refreshTokenOf(fresh))).toBe(true);
    expect(await auditActions()).toContainEqual(expect.objectContaining({ action: 'grant.relink', grant: fresh.id, details: { replaces: 1 } }));
  });

  it('unlinks only after a confirmation page: grant deleted, upstream grant gone, page says the provider confirmed', async () => {
    const browser = await lv.signIn('bob');
    const grant = await only('bob', 'servicenow');
    const upstreamGrant = await lv.servicenow.grantIdOf(lv.refreshTokenOf(grant));
    const provider = await browser.get('/connections/servicenow');
    expect(provider.text).toContain(`<a class="button danger" href="/connections/servicenow/unlink?grant=${grant.id}">Unlink this account</a>`);
    expect(provider.text).not.toContain('action="/connections/servicenow/unlink"');
    const page = await browser.get(`/connections/servicenow/unlink?grant=${grant.id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h1>Unlink ServiceNow?</h1>');
    expect(page.text).toContain(
      `<p>This revokes the vault’s access to your ServiceNow account <span class="op">bob</span> at ServiceNow.
Every agent loses access at once, and the choices you made for them are deleted. You can link the account again later.</p>
<div class="actions"><form method="post" action="/connections/servicenow/unlink" class="inline">
<input type="hidden" name="_csrf" value="${BrowserClient.csrf(page)}"><input type="hidden" name="grant" value="${grant.id}">
<button type="submit" class="danger">Confirm</button></form>
<a class="button secondary" href="/connections/servicenow">Cancel</a></div>`,
    );
    expect(await only('bob', 'servicenow')).toStrictEqual(grant);
    expect((await browser.get('/connections/servicenow/unlink?grant=no-such-grant')).status).toBe(404);
    const answer = await browser.postForm('/connections/servicenow/unlink', { _csrf: BrowserClient.csrf(page), grant: grant.id });
    expect(answer.status).toBe(303);
    expect(answer.location).toBe('/connections/servicenow?result=unlinked');
    expect(await lv.vault.runtime.stores.grants.get(grant.id)).toBeNull();
    expect(await lv.servicenow.grantExists(upstreamGrant!)).toBe(false);
    const after = await browser.get(answer.location!);
    expect(after.text).toContain('The provider confirmed');
    expect(after.text).toContain('Not linked');
    expect(await auditActions()).toContainEqual(expect.objectContaining({ action: 'upstream.revoke', decision: 'allow', grant: grant.id }));
  });

  it('unlink with the provider down: unusable at once, retry queued, page says so; the worker finishes later', async () => {
    const browser = await lv.signIn('bob');
    await lv.link(browser, 'servicenow', 'bob');
    const { stores } = lv.vault.runtime;
    await stores.grants.setConsent((await only('bob', 'servicenow')).id, SUPPORT_AGENT, ['servicenow:incident.read']);
    const grant = await only('bob', 'servicenow');
    await stores.tokens.put(consentedRecord('j-outstanding', grant), 60_000);
    expect(await honoured(stores, 'j-outstanding')).toBe(true);
    const page = await browser.get('/connections/servicenow');
    await lv.stopFake('servicenow');
    const answer = await browser.postForm('/connections/servicenow/unlink', { _csrf: BrowserClient.csrf(page), grant: grant.id });
    expect(answer.location).toBe('/connections/servicenow?result=unlink_pending');
    expect(await stores.grants.get(grant.id)).toMatchObject({ status: 'revoked', version: 2 });
    expect(await honoured(stores, 'j-outstanding')).toBe(false);
    expect(await stores.tokens.getAccessToken(grant.id)).toBeNull();
    const queued = await stores.revocations.list();
    expect(queued).toStrictEqual([
      {
        id: expect.any(String),
        provider: 'servicenow',
        grantId: grant.id,
        userId: grant.userId,
        token: grant.refreshToken,
        hint: 'refresh_token',
        attempts: 1,
        nextAttemptAt: expect.any(Number),
        createdAt: expect.any(Number),
        lastError: 'unreachable',
      },
    ]);
    const after = await browser.get(answer.location!);
    expect(after.text).toContain('did not confirm the revocation yet');
    expect(after.text).toContain('Revoked');

    // Provider back: the worker revokes and deletes the grant.
    await lv.restartFake('servicenow');
    await stores.revocations.reschedule(queued[0]!.id, 1, Date.now(), 'network');
    expect(await lv.vault.app.revocations.runOnce()).toBe(1);
    expect(await stores.revocations.list()).toStrictEqual([]);
    expect(await stores.grants.get(grant.id)).toBeNull();
  });

  it('refuses to store a grant whose instance_url is off the provider hosts, and revokes its tokens upstream', async () => {
    const browser = await lv.signIn('alice');
    const fake = await lv.restartFake('salesforce', { apiBaseUrl: 'https://acme.my.salesforce.com.attacker.example' });
    try {
      const before = { grants: await lv.allGrants(), audit: (await auditActions()).length };
      const answer = await lv.link(browser, 'salesforce', 'alice');
      expect(answer.status).toBe(502);
      expect(answer.text).toContain('Provider error');
      expect(answer.text).not.toContain('attacker.example');
      expect({ grants: await lv.allGrants(), audit: (await auditActions()).length }).toStrictEqual(before);
      // The upstream approval is gone (RFC 7009 revocation of the refresh token).
      expect(fake.revokedGrants).toBe(1);
    } finally {
      await lv.restartFake('salesforce');
    }
  });
});
