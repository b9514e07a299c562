/**
 * Every bad input of the link flow gets a clear error page, creates no grant and
 * leaves existing grants exactly as they were (store compared before/after).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Grant } from '../../../src/store/grant-store.js';
import { BrowserClient, type PageResponse } from '../../helpers/browser-client.js';
import { runLoginFlow } from '../../helpers/fake-providers/login-flow.js';
import { SALES_AGENT, startLinkingVault, type LinkingVault } from '../../helpers/linking-vault.js';

let lv: LinkingVault;
let alice: BrowserClient;
let existing: Grant;
let usedCallback: string;
let snapshot: Grant[];

beforeAll(async () => {
  lv = await startLinkingVault({ providerTimeoutMs: 1_000 });
  alice = await lv.signIn('alice');
  usedCallback = await lv.authorize(alice, 'salesforce');
  await alice.get(usedCallback);
  existing = (await lv.grants('alice'))[0]!;
  snapshot = await lv.allGrants();
});
afterAll(async () => {
  await lv?.close();
});
afterEach(async () => {
  // No grant created, none changed, nothing queued for revocation.
  expect(await lv.allGrants()).toStrictEqual(snapshot);
  expect(await lv.vault.runtime.stores.revocations.list()).toStrictEqual([]);
});

function expectErrorPage(page: PageResponse, status: number, text: string): void {
  expect(page.status).toBe(status);
  expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(page.headers['cache-control']).toBe('no-store');
  expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(page.text).toContain(text);
  expect(page.text).toContain('role="alert"');
}

describe('callback with a bad state', () => {
  it('refuses a callback without state', async () => {
    expectErrorPage(await alice.get('/connections/salesforce/callback?code=abc'), 400, 'did not belong to a request from this page');
  });

  it('refuses an unknown state', async () => {
    expectErrorPage(await alice.get('/connections/salesforce/callback?code=abc&state=not-a-state'), 400, 'expired or was already used');
  });

  it('refuses a replayed callback (state is single-use)', async () => {
    expectErrorPage(await alice.get(usedCallback), 400, 'expired or was already used');
  });

  it('refuses a code and state from another browser session, and the state is then burnt', async () => {
    const callback = await lv.authorize(alice, 'salesforce');
    const other = await lv.signIn('alice');
    expectErrorPage(await other.get(callback), 400, 'made in another browser session');
    expectErrorPage(await alice.get(callback), 400, 'expired or was already used');
  });

  it('refuses a callback without a session', async () => {
    const callback = await lv.authorize(alice, 'salesforce');
    const stranger = new BrowserClient(lv.publicUrl, lv.vault.pki.ca);
    expectErrorPage(await stranger.get(callback), 401, 'Your session has ended');
  });

  it('refuses a response delivered to another provider’s callback (mix-up)', async () => {
    const callback = await lv.authorize(alice, 'salesforce');
    expectErrorPage(await alice.get(callback.replace('/connections/salesforce/', '/connections/servicenow/')), 400, 'another browser session');
    expectErrorPage(await alice.get(callback), 400, 'expired or was already used');
  });
});

describe('provider trouble', () => {
  it('shows the provider’s refusal (error=access_denied) without creating anything', async () => {
    const page = await alice.get('/connections/salesforce');
    const started = await alice.postForm('/connections/salesforce/link', { _csrf: BrowserClient.csrf(page) });
    const { callbackUrl } = await runLoginFlow(new URL(started.location!), {
      login: 'alice',
      password: 'alice',
      redirectUri: `${lv.publicUrl}/connections/salesforce/callback`,
      consent: false,
    });
    expect(callbackUrl.searchParams.get('error')).toBe('access_denied');
    expectErrorPage(await alice.get(callbackUrl.pathname + callbackUrl.search), 400, 'did not grant access');
    // The provider's own error_description is never echoed.
    expect((await alice.get('/connections/salesforce')).text).not.toContain('error_description');
  });

  it('gives up on a provider that does not answer in time', async () => {
    const callback = await lv.authorize(alice, 'salesforce');
    lv.salesforce.setSlowTokenEndpoint(2_500);
    try {
      expectErrorPage(await alice.get(callback), 504, 'did not answer in time');
    } finally {
      lv.salesforce.setSlowTokenEndpoint(0);
    }
  });

  it('reports a failing token endpoint', async () => {
    const callback = await lv.authorize(alice, 'salesforce');
    lv.salesforce.setTokenEndpointFailing(true);
    try {
      expectErrorPage(await alice.get(callback), 502, 'did not complete the link');
    } finally {
      lv.salesforce.setTokenEndpointFailing(false);
    }
  });

  it('refuses a forged code for a valid state', async () => {
    const callback = await lv.authorize(alice, 'salesforce');
    const url = new URL(callback, lv.publicUrl);
    url.searchParams.set('code', 'forged-code');
    expectErrorPage(await alice.get(url.pathname + url.search), 400, 'did not grant access');
  });
});

describe('off-origin return addresses', () => {
  it.each([
    '//evil.example',
    '/\\evil.example',
    '/\t/evil.example',
    '/%2F/evil.example',
    '/%5Cevil.example',
    '/%09/evil.example',
    '/%252F%252Fevil.example',
    'https://evil.example/',
  ])('refuses returnTo=%j', async (target) => {
    const browser = new BrowserClient(lv.publicUrl, lv.vault.pki.ca);
    const answer = await browser.get(`/login?returnTo=${encodeURIComponent(target)}`);
    expectErrorPage(answer, 400, 'not on this site');
    expect(answer.headers.location).toBeUndefined();
  });

  // The URL parser removes dot segments: these become `//evil.example`, a protocol-relative Location.
  const normalisingOffOrigin = ['/.//evil.example', '/%2e//evil.example', '/a/..//evil.example', '/connections/.././/evil.example'];

  it.each(normalisingOffOrigin)('refuses returnTo=%j for a signed-in user', async (target) => {
    const answer = await alice.get(`/login?returnTo=${encodeURIComponent(target)}`);
    expectErrorPage(answer, 400, 'not on this site');
    expect(answer.headers.location).toBeUndefined();
  });

  it.each(normalisingOffOrigin)('refuses returnTo=%j before a sign-in starts', async (target) => {
    const browser = new BrowserClient(lv.publicUrl, lv.vault.pki.ca);
    const answer = await browser.get(`/login?returnTo=${encodeURIComponent(target)}`);
    expectErrorPage(answer, 400, 'not on this site');
    expect(answer.headers.location).toBeUndefined();
  });

  it('sends the browser after a full sign-in to the normalised path it checked', async () => {
    const browser = new BrowserClient(lv.publicUrl, lv.vault.pki.ca);
    const start = await browser.get(`/login?returnTo=${encodeURIComponent('/connections/./salesforce')}`);
    expect(start.status).toBe(303);
    const { callbackUrl } = await runLoginFlow(new URL(start.location!), { login: 'alice', password: 'alice', redirectUri: `${lv.publicUrl}/auth/callback` });
    const done = await browser.get(callbackUrl.pathname + callbackUrl.search);
    expect(done.status).toBe(303);
    expect(done.location).toBe('/connections/salesforce');
    expect(new URL(done.location!, lv.publicUrl).origin).toBe(lv.publicUrl);
  });
});

describe('state-changing POSTs', () => {
  it('refuses an unlink without the CSRF token (same browser, cookie sent)', async () => {
    expectErrorPage(await alice.postForm('/connections/salesforce/unlink', { grant: existing.id }), 403, 'did not come from a page of this site');
  });

  it('refuses a consent change with a wrong CSRF token', async () => {
    const answer = await alice.postForm('/connections/salesforce/consent', {
      _csrf: 'forged',
      grant: existing.id,
      consent: `salesforce:records.read ${SALES_AGENT}`,
    });
    expectErrorPage(answer, 403, 'did not come from a page of this site');
  });

  it('refuses a cross-site POST (no SameSite=Lax cookie arrives)', async () => {
    const page = await alice.get('/connections/salesforce');
    const stranger = new BrowserClient(lv.publicUrl, lv.vault.pki.ca);
    expectErrorPage(
      await stranger.postForm('/connections/salesforce/unlink', { _csrf: BrowserClient.csrf(page), grant: existing.id }),
      401,
      'Your session has ended',
    );
  });

  it('refuses a CSRF token from another session', async () => {
    const bob = await lv.signIn('bob');
    const bobPage = await bob.get('/connections/salesforce');
    expectErrorPage(
      await alice.postForm('/connections/salesforce/unlink', { _csrf: BrowserClient.csrf(bobPage), grant: existing.id }),
      403,
      'did not come from a page of this site',
    );
  });

  it('answers the same for someone else’s grant as for a missing one', async () => {
    const bob = await lv.signIn('bob');
    const page = await bob.get('/connections/salesforce');
    expectErrorPage(
      await bob.postForm('/connections/salesforce/unlink', { _csrf: BrowserClient.csrf(page), grant: existing.id }),
      404,
      'does not exist or is not yours',
    );
    expectErrorPage(
      await bob.postForm('/connections/salesforce/unlink', { _csrf: BrowserClient.csrf(page), grant: 'no-such-grant' }),
      404,
      'does not exist or is not yours',
    );
  });

  it('shows and answers the same for someone else’s grant on the unlink confirmation, Approve and Deny paths', async () => {
    const bob = await lv.signIn('bob');
    const page = await bob.get('/connections/salesforce');
    expectErrorPage(await bob.get(`/connections/salesforce/unlink?grant=${encodeURIComponent(existing.id)}`), 404, 'does not exist or is not yours');
    expectErrorPage(
      await bob.postForm('/connections/salesforce/approve', {
        _csrf: BrowserClient.csrf(page),
        grant: existing.id,
        agent: SALES_AGENT,
        operation: 'salesforce:records.read',
      }),
      404,
      'does not exist or is not yours',
    );
    expectErrorPage(
      await alice.postForm('/connections/salesforce/deny', { agent: SALES_AGENT, operation: 'salesforce:records.read' }),
      403,
      'did not come from a page of this site',
    );
  });

  it('refuses to approve or deny a request outside the admin ceiling', async () => {
    const csrf = BrowserClient.csrf(await alice.get('/connections/salesforce'));
    for (const [agent, operation] of [
      ['spiffe://corp.example/agents/support', 'salesforce:records.write'],
      [SALES_AGENT, 'servicenow:incident.read'],
      ['spiffe://corp.example/agents/unknown', 'salesforce:records.read'],
    ] as const) {
      expectErrorPage(
        await alice.postForm('/connections/salesforce/approve', { _csrf: csrf, grant: existing.id, agent, operation }),
        400,
        'not allowed for that agent',
      );
      expectErrorPage(await alice.postForm('/connections/salesforce/deny', { _csrf: csrf, agent, operation }), 400, 'not allowed for that agent');
    }
  });

  it('refuses consent outside the admin ceiling', async () => {
    const page = await alice.get('/connections/salesforce');
    const csrf = BrowserClient.csrf(page);
    for (const consent of [
      `salesforce:records.write spiffe://corp.example/agents/support`,
      `servicenow:incident.read ${SALES_AGENT}`,
      `salesforce:records.read spiffe://corp.example/agents/unknown`,
      'garbage',
    ]) {
      expectErrorPage(await alice.postForm('/connections/salesforce/consent', { _csrf: csrf, grant: existing.id, consent }), 400, 'not allowed for that agent');
    }
  });
});

describe('expired state', () => {
  it('refuses a callback after the 10-minute state lifetime (shortened here to 1 s)', async () => {
    const short = await startLinkingVault({ stateTtlSeconds: 1 });
    try {
      const browser = await short.signIn('alice');
      const callback = await short.authorize(browser, 'salesforce');
      await sleep(1_200);
      expectErrorPage(await browser.get(callback), 400, 'expired or was already used');
      expect(await short.allGrants()).toStrictEqual([]);
    } finally {
      await short.close();
    }
  });
});
