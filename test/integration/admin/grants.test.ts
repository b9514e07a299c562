/**
 * Admin grants API: list and search without secrets, revoke one (RFC 7009
 * upstream, outstanding tokens dead, local delete), bulk revoke with a report,
 * and the admin API's bad inputs, against real oidc-provider fakes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Grant } from '../../../src/store/grant-store.js';
import { adminCall } from '../../helpers/admin-client.js';
import { grantView, onlyGrant } from '../../helpers/admin-grants.js';
import { SALES_AGENT, linkAliceAndBob, startLinkingVault, SUPPORT_AGENT, type LinkingVault } from '../../helpers/linking-vault.js';
import { consentedRecord, honoured } from '../../helpers/token-liveness.js';
import { withRequestId } from '../../helpers/request-id.js';
import { trailEntries, trailRecords } from '../../helpers/audit-trail.js';

const ADMIN = 'spiffe://dev.local/admin';
const invalid = {
  error: 'invalid_request',
  error_description: 'The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.',
};
const invalidClient = { error: 'invalid_client', error_description: 'Client authentication failed.' };

let lv: LinkingVault;
let aliceSf: Grant;
let aliceSn: Grant;
let bobSf: Grant;

const one = (login: string, provider: string) => onlyGrant(lv, login, provider);
const view = grantView;

/** An outstanding operation token of the grant, honoured until the grant is revoked. */
const outstanding = async (jti: string, g: Grant) => {
  await lv.vault.runtime.stores.tokens.put(consentedRecord(jti, g), 60_000);
  expect(await honoured(lv.vault.runtime.stores, jti)).toBe(true);
};

const auditBodies = async () => await trailRecords(lv.vault.runtime.stores.audit);

beforeAll(async () => {
  lv = await startLinkingVault();
  await linkAliceAndBob(lv);
  const { grants } = lv.vault.runtime.stores;
  aliceSf = await one('alice', 'salesforce');
  aliceSn = await one('alice', 'servicenow');
  bobSf = await one('bob', 'salesforce');
  await grants.setConsent(aliceSf.id, SALES_AGENT, ['records.read']);
  await grants.setConsent(bobSf.id, SUPPORT_AGENT, ['records.read']);
  await grants.setConsent(aliceSn.id, 'spiffe://corp.example/agents/triage', ['servicenow:incident.read']);
  aliceSf = (await grants.get(aliceSf.id))!;
  aliceSn = (await grants.get(aliceSn.id))!;
  bobSf = (await grants.get(bobSf.id))!;
}, 60_000);
afterAll(async () => {
  await lv?.close();
});

describe('admin grants API', () => {
  it('lists, searches and pages grants without any secret field', async () => {
    const all = [aliceSf, aliceSn, bobSf].sort((a, b) => (a.id < b.id ? -1 : 1));
    const res = await adminCall(lv.vault, '/admin/grants');
    expect(res.status).toBe(200);
    expect(res.json()).toStrictEqual({ items: all.map(view) });
    expect(res.text).not.toContain('refreshToken');
    expect(res.text).not.toContain(aliceSf.refreshToken);

    const alice = encodeURIComponent(aliceSf.userId);
    expect((await adminCall(lv.vault, `/admin/grants?user=${alice}&provider=salesforce`)).json()).toStrictEqual({ items: [view(aliceSf)] });
    expect((await adminCall(lv.vault, `/admin/grants?agent=${encodeURIComponent(SUPPORT_AGENT)}`)).json()).toStrictEqual({ items: [view(bobSf)] });
    expect((await adminCall(lv.vault, '/admin/grants?status=revoked')).json()).toStrictEqual({ items: [] });

    const first = (await adminCall(lv.vault, '/admin/grants?limit=2')).json<{ items: unknown[]; next: string }>();
    expect(first).toStrictEqual({ items: all.slice(0, 2).map(view), next: expect.any(String) });
    const second = (await adminCall(lv.vault, `/admin/grants?limit=2&cursor=${first.next}`)).json();
    expect(second).toStrictEqual({ items: all.slice(2).map(view) });
    // Paging past the end: empty, not an error.
    const past = Buffer.from('~~~~', 'utf8').toString('base64url');
    expect((await adminCall(lv.vault, `/admin/grants?cursor=${past}`)).json()).toStrictEqual({ items: [] });
  });

  it('refuses malformed filters with invalid_request', async () => {
    for (const query of ['status=gone', 'limit=0', 'limit=abc', 'limit=100000', 'cursor=not%20base64!', 'colour=red', 'user=has%20space']) {
      const res = await adminCall(lv.vault, `/admin/grants?${query}`);
      expect({ query, status: res.status, body: res.json() }).toStrictEqual({ query, status: 400, body: withRequestId(res, invalid) });
    }
  });

  it('refuses a gateway certificate and changes nothing', async () => {
    const before = await lv.allGrants();
    const auditBefore = await auditBodies();
    for (const [path, body] of [
      ['/admin/grants', undefined],
      [`/admin/grants/${aliceSn.id}/revoke`, { reason: 'x' }],
      ['/admin/grants/revoke', { provider: 'salesforce', reason: 'x' }],
    ] as const) {
      const res = await adminCall(lv.vault, path, { client: lv.vault.pki.gateway, ...(body && { method: 'POST', body }) });
      expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 401, body: withRequestId(res, invalidClient) });
    }
    expect(await lv.allGrants()).toStrictEqual(before);
    expect(await auditBodies()).toStrictEqual(auditBefore);
    expect(await lv.servicenow.isRefreshTokenActive(lv.refreshTokenOf(aliceSn))).toBe(true);
  });

  it('revokes one grant: upstream gone, outstanding tokens dead, cache dropped, record deleted, audited', async () => {
    const { stores } = lv.vault.runtime;
    const upstreamGrant = await lv.servicenow.grantIdOf(lv.refreshTokenOf(aliceSn));
    expect(await lv.servicenow.grantExists(upstreamGrant!)).toBe(true);
    await outstanding('j-admin-1', aliceSn);
    const res = await adminCall(lv.vault, `/admin/grants/${aliceSn.id}/revoke`, { method: 'POST', body: { reason: 'incident-7' } });
    expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 200, body: { revoked: true } });
    expect(await stores.grants.get(aliceSn.id)).toBeNull();
    expect(await honoured(stores, 'j-admin-1')).toBe(false);
    expect(await stores.tokens.getAccessToken(aliceSn.id)).toBeNull();
    expect(await lv.servicenow.grantExists(upstreamGrant!)).toBe(false);
    const audit = await auditBodies();
    expect(audit).toContainEqual(
      expect.objectContaining({
        action: 'grant.revoke',
        decision: 'allow',
        reason: 'incident-7',
        actor: ADMIN,
        grant: aliceSn.id,
        user: aliceSn.userId,
        provider: 'servicenow',
        details: { found: true },
      }),
    );
    expect(audit).toContainEqual(expect.objectContaining({ action: 'upstream.revoke', decision: 'allow', actor: ADMIN, grant: aliceSn.id, reason: 'revoked' }));

    // Gone, but listable as a tombstone (no secret): who held it, when, why and by whom.
    const tombstone = {
      id: aliceSn.id,
      user: aliceSn.userId,
      provider: 'servicenow',
      upstreamSubject: aliceSn.upstreamSubject,
      status: 'revoked',
      tombstone: true,
      revokedAt: expect.any(Number),
      reason: 'incident-7',
      revokedBy: ADMIN,
      revokedByRole: 'admin',
    };
    expect((await adminCall(lv.vault, '/admin/grants?status=revoked')).json()).toStrictEqual({ items: [tombstone] });
    expect((await adminCall(lv.vault, `/admin/grants?provider=servicenow`)).json()).toStrictEqual({ items: [tombstone] });

    // The user is told, on the consent pages, and offered to link again.
    const today = new Date().toISOString().slice(0, 10);
    const browser = await lv.signIn('alice');
    for (const path of ['/connections', '/connections/servicenow']) {
      const page = await browser.get(path);
      expect(page.text).toContain(`This connection was revoked by your security team on ${today}. You can link the account again.`);
    }
    expect((await browser.get('/connections/servicenow')).text).toContain('action="/connections/servicenow/link"');
    expect((await browser.get('/connections/salesforce')).text).not.toContain('revoked by your security team');

    // Already revoked (now a tombstone): the same answer. Never existed: 404. Nothing else changes.
    const before = await lv.allGrants();
    const again = await adminCall(lv.vault, `/admin/grants/${aliceSn.id}/revoke`, { method: 'POST', body: { reason: 'again' } });
    expect({ status: again.status, body: again.json() }).toStrictEqual({ status: 200, body: { revoked: true } });
    const unknown = await adminCall(lv.vault, '/admin/grants/no-such-grant/revoke', { method: 'POST', body: { reason: 'again' } });
    expect({ status: unknown.status, body: unknown.json() }).toStrictEqual({
      status: 404,
      body: withRequestId(unknown, { error: 'not_found', error_description: 'The requested resource does not exist.' }),
    });
    expect(await lv.allGrants()).toStrictEqual(before);
    expect((await auditBodies()).at(-1)).toMatchObject({ action: 'grant.revoke', decision: 'deny', grant: 'no-such-grant', details: { found: false } });
    for (const [id, body] of [
      [aliceSf.id, { reason: '' }],
      [aliceSf.id, {}],
      [aliceSf.id, { reason: 'r', extra: 1 }],
      ['has%20space', { reason: 'r' }],
    ] as const) {
      const bad = await adminCall(lv.vault, `/admin/grants/${id}/revoke`, { method: 'POST', body });
      expect({ id, status: bad.status, body: bad.json() }).toStrictEqual({ id, status: 400, body: withRequestId(bad, invalid) });
    }
    expect(await stores.grants.get(aliceSf.id)).toStrictEqual(aliceSf);
  });

  it('bulk revoke needs exactly one selector', async () => {
    for (const body of [
      { reason: 'r' },
      { user: aliceSf.userId, provider: 'salesforce', reason: 'r' },
      { provider: 'salesforce' },
      { provider: 'salesforce', reason: 'r', extra: 1 },
    ]) {
      const res = await adminCall(lv.vault, '/admin/grants/revoke', { method: 'POST', body });
      expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 400, body: withRequestId(res, invalid) });
    }
    expect(await lv.allGrants()).toHaveLength(2);
  });

  it('bulk revokes by provider with the provider down: report counts upstream_failed, retry queued, tokens dead', async () => {
    const { stores } = lv.vault.runtime;
    await outstanding('j-admin-2', aliceSf);
    await outstanding('j-admin-3', bobSf);
    await lv.stopFake('salesforce');
    const res = await adminCall(lv.vault, '/admin/grants/revoke', { method: 'POST', body: { provider: 'salesforce', reason: 'provider-breach' } });
    expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 200, body: { revoked: 2, upstream_revoked: 0, upstream_failed: 2 } });
    expect(await honoured(stores, 'j-admin-2')).toBe(false);
    expect(await honoured(stores, 'j-admin-3')).toBe(false);
    const queued = (await stores.revocations.list()).map((q) => q.grantId).sort();
    expect(queued).toStrictEqual([aliceSf.id, bobSf.id].sort());
    for (const g of [aliceSf, bobSf]) expect((await stores.grants.get(g.id))?.status).toBe('revoked');
    expect((await adminCall(lv.vault, '/admin/grants?status=active')).json()).toStrictEqual({ items: [] });
    expect(await auditBodies()).toContainEqual(
      expect.objectContaining({
        action: 'grant.revoke',
        actor: ADMIN,
        provider: 'salesforce',
        reason: 'provider-breach',
        details: { bulk: true, grants: 2 },
      }),
    );

    // Revoked grants are not revoked twice.
    const again = await adminCall(lv.vault, '/admin/grants/revoke', { method: 'POST', body: { provider: 'salesforce', reason: 'again' } });
    expect(again.json()).toStrictEqual({ revoked: 0, upstream_revoked: 0, upstream_failed: 0 });
    expect(await stores.revocations.list()).toHaveLength(2);
  });

  it('revoking a grant already revoked (upstream revocation still pending) answers the same and changes nothing', async () => {
    const { stores } = lv.vault.runtime;
    const before = { grants: await lv.allGrants(), queue: await stores.revocations.list() };
    expect((await stores.grants.get(aliceSf.id))?.status).toBe('revoked');
    const res = await adminCall(lv.vault, `/admin/grants/${aliceSf.id}/revoke`, { method: 'POST', body: { reason: 'again' } });
    expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 200, body: { revoked: true } });
    expect({ grants: await lv.allGrants(), queue: await stores.revocations.list() }).toStrictEqual(before);
    const last = (await trailEntries(stores.audit)).at(-1);
    expect(JSON.parse(last!.body)).toMatchObject({ action: 'grant.revoke', actor: ADMIN, grant: aliceSf.id, reason: 'again', details: { found: false } });
  });

  it('bulk revokes by user with the provider up: upstream_revoked counted and grants deleted', async () => {
    const { stores } = lv.vault.runtime;
    const bob = await lv.signIn('bob');
    await lv.link(bob, 'servicenow', 'bob');
    const grant = await one('bob', 'servicenow');
    const upstreamGrant = await lv.servicenow.grantIdOf(lv.refreshTokenOf(grant));
    const res = await adminCall(lv.vault, '/admin/grants/revoke', { method: 'POST', body: { user: grant.userId, reason: 'offboarding' } });
    // bob's Salesforce grant is already revoked (pending upstream): not counted again.
    expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 200, body: { revoked: 1, upstream_revoked: 1, upstream_failed: 0 } });
    expect(await stores.grants.get(grant.id)).toBeNull();
    expect(await lv.servicenow.grantExists(upstreamGrant!)).toBe(false);
  });
});
