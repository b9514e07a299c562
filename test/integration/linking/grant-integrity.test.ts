/**
 * Grant integrity on Redis: a grant whose refresh-token ciphertext was swapped with another
 * grant's, or corrupted, is quarantined (`integrity_error`) on its first use: consent_required
 * with the deep link, no upstream call, one integrity alert, listed for the security team, shown
 * to the user as needing re-linking; re-linking replaces it.
 */
import { withRequestId } from '../../helpers/request-id.js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Grant } from '../../../src/store/grant-store.js';
import { adminCall } from '../../helpers/admin-client.js';
import { grantView, onlyGrant } from '../../helpers/admin-grants.js';
import { SALES_AGENT, startLinkingVault, type LinkingVault } from '../../helpers/linking-vault.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { trailEntries } from '../../helpers/audit-trail.js';

const OPERATION = 'salesforce:records.read';
let redis: RedisHandle;
let raw: Redis;
let lv: LinkingVault;

const grantKey = (id: string) => `tv:{g:${id}}:grant`;
const alerts = async (grantId: string) =>
  (await trailEntries(lv.vault.runtime.stores.audit))
    .map((e) => JSON.parse(e.body) as Record<string, unknown>)
    .filter((r) => r.action === 'grant.integrity' && r.grant === grantId);

async function linked(login: string): Promise<Grant> {
  const browser = await lv.signIn(login);
  await lv.link(browser, 'salesforce', login);
  const grant = await onlyGrant(lv, login, 'salesforce');
  await lv.vault.runtime.stores.grants.setConsent(grant.id, SALES_AGENT, [OPERATION]);
  return (await lv.vault.runtime.stores.grants.get(grant.id))!;
}

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  lv = await startLinkingVault({ redisUrl: redis.url });
}, 60_000);
afterAll(async () => {
  raw?.disconnect();
  await lv?.close();
  await redis?.stop();
});

describe('grant integrity', () => {
  it('quarantines a grant whose ciphertext fails to open: consent_required, no upstream call, one alert, listed, re-linking replaces it', async () => {
    const alice = await linked('alice');
    const bob = await linked('bob');
    expect((await lv.exchange('alice', SALES_AGENT, OPERATION)).status).toBe(200);
    expect((await lv.exchange('bob', SALES_AGENT, OPERATION)).status).toBe(200);

    // Someone with write access to Redis copies bob's ciphertext onto alice's grant, and garbles bob's.
    await raw.hset(grantKey(alice.id), 'refreshToken', bob.refreshToken);
    await raw.hset(grantKey(bob.id), 'refreshToken', `${bob.refreshToken.slice(0, -8)}AAAAAAAA`);
    const upstreamCalls = lv.salesforce.tokenRequests;
    const refusal = {
      status: 400,
      body: {
        error: 'consent_required',
        error_description: 'grant needs re-consent',
        error_uri: `${lv.publicUrl}/connections/salesforce?agent=${encodeURIComponent(SALES_AGENT)}&operation=${encodeURIComponent(OPERATION)}`,
      },
    };
    for (let round = 0; round < 3; round++) {
      for (const login of ['alice', 'bob']) {
        const res = await lv.exchange(login, SALES_AGENT, OPERATION);
        expect({ login, status: res.status, body: res.json() }).toStrictEqual({ login, ...refusal, body: withRequestId(res, refusal.body) });
      }
    }
    expect(lv.salesforce.tokenRequests).toBe(upstreamCalls);
    for (const grant of [alice, bob]) {
      expect((await lv.vault.runtime.stores.grants.get(grant.id))?.status).toBe('integrity_error');
      expect(await alerts(grant.id)).toStrictEqual([
        expect.objectContaining({ action: 'grant.integrity', decision: 'error', user: grant.userId, provider: 'salesforce', grant: grant.id }),
      ]);
    }

    const listed = await adminCall(lv.vault, '/admin/grants?status=integrity_error');
    const quarantined = await Promise.all([alice, bob].map(async (g) => (await lv.vault.runtime.stores.grants.get(g.id))!));
    expect(listed.json()).toStrictEqual({ items: quarantined.sort((a, b) => (a.id < b.id ? -1 : 1)).map(grantView) });

    const browser = await lv.signIn('alice');
    const page = await browser.get('/connections/salesforce');
    expect(page.text).toContain('Needs re-linking');

    // Re-linking replaces it: the quarantined grant is gone, the new one works.
    expect((await lv.link(browser, 'salesforce', 'alice')).location).toBe('/connections/salesforce?result=relinked');
    const fresh = await onlyGrant(lv, 'alice', 'salesforce');
    expect(fresh.id).not.toBe(alice.id);
    expect(fresh.status).toBe('active');
    expect(await lv.vault.runtime.stores.grants.get(alice.id)).toBeNull();
    expect((await lv.exchange('alice', SALES_AGENT, OPERATION)).status).toBe(200);
    expect(await alerts(alice.id)).toHaveLength(1);
  }, 60_000);
});
