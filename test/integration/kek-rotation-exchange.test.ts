/**
 * A key-encryption-key rotation over 1,000 grants
 * completes with every grant still exchanging; a grant whose ciphertext was
 * swapped with another's is reported by the rewrap job and never served.
 *
 * End to end: grants hold REAL refresh tokens of a fake Salesforce org and no
 * cached access token, so every exchange must open the rewrapped refresh-token
 * ciphertext and present it upstream. The rotation goes through the admin API
 * (new key file, reload, rewrap batches until done), then the old key is
 * retired, so each of the 998 exchanges proves its grant opens under the new
 * key alone and that the provider accepts what came out.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../src/dev/fake-oauth-server.js';
import { openRefreshToken } from '../../src/grants/secrets.js';
import type { Grant } from '../../src/store/grant-store.js';
import { adminCall } from '../helpers/admin-client.js';
import { AGENT_A, exchangeParams, JWT_TYPE, type ExchangeVault } from '../helpers/exchange-fixture.js';
import { fakeClient } from '../helpers/fake-providers/catalog.js';
import { startRedis, type RedisHandle } from '../helpers/redis-server.js';
import { seedSalesforceGrant, startSalesforceVault } from '../helpers/salesforce-vault.js';

const GRANTS = 1_000;
/** Exchanges (and seeds) in flight at once. */
const CONCURRENCY = 8;
/** The two grants whose ciphertexts are swapped in storage. */
const SWAPPED = [10, 11] as const;

let redis: RedisHandle;
let salesforce: FakeOAuthServer;
let vault: ExchangeVault;
/** By index: the seeded grant and its plaintext upstream refresh token. */
const seeded: Array<{ grant: Grant; refreshToken: string }> = [];

const user = (i: number) => `user-${String(i).padStart(4, '0')}`;

async function inPool<T>(count: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return results;
}

const exchangeAs = async (i: number) => {
  const res = await vault.exchange(await exchangeParams(vault.ids, user(i), AGENT_A, { resource: 'salesforce', scope: 'salesforce:records.read' }));
  return { status: res.status, body: res.json<Record<string, unknown>>(), requestId: res.headers['x-request-id'] };
};

beforeAll(async () => {
  redis = await startRedis();
  salesforce = await startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] });
  vault = await startSalesforceVault({ salesforce: { server: salesforce } }, redis.url);
  seeded.push(
    ...(await inPool(GRANTS, async (i) => {
      const grant = await seedSalesforceGrant(vault, salesforce, 'salesforce', user(i));
      return { grant, refreshToken: openRefreshToken(vault.runtime.envelope, grant) };
    })),
  );
  // Someone with write access to Redis swaps two grants' ciphertexts.
  const { grants } = vault.runtime.stores;
  const [a, b] = SWAPPED.map((i) => seeded[i]!.grant);
  await grants.rewrapRefreshToken(a!.id, a!.refreshToken, b!.refreshToken);
  await grants.rewrapRefreshToken(b!.id, b!.refreshToken, a!.refreshToken);
}, 120_000);

afterAll(async () => {
  await vault?.close();
  await salesforce?.stop();
  await redis?.stop();
});

describe('KEK rotation over 1,000 grants, end to end', () => {
  it('rotates through the admin API, reports the swapped pair, and every other grant still exchanges under the new key alone', async () => {
    const started = performance.now();
    await writeFile(join(vault.pki.dir, 'kek-2.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
    const reloaded = await adminCall(vault, '/admin/keys/reload', { method: 'POST' });
    expect(reloaded.json<{ kek: unknown }>().kek).toStrictEqual({ ids: ['1', '2'], active: '2' });

    // The rewrap job, in resumable batches of 300, run to completion.
    const batches: Array<Record<string, unknown>> = [];
    do {
      const res = await adminCall(vault, '/admin/keys/rewrap', { method: 'POST', body: { pageSize: 100, maxPages: 3 } });
      expect(res.status).toBe(200);
      batches.push(res.json());
    } while (batches.at(-1)!.done !== true && batches.length < 10);
    const failed = SWAPPED.map((i) => ({ grantId: seeded[i]!.grant.id, reason: 'cannot_open' })).sort((x, y) => (x.grantId < y.grantId ? -1 : 1));
    expect(batches.length).toBe(4);
    expect(batches.at(-1)).toMatchObject({ activeKeyId: '2', done: true, scanned: GRANTS, rewrapped: GRANTS - 2, alreadyActive: 0, raced: 0, failed });

    // The swapped pair is never served: quarantined on first use (the user must link again), and
    // neither refresh token was presented upstream.
    const deepLink = `/connections/salesforce?agent=${encodeURIComponent(AGENT_A)}&operation=${encodeURIComponent('salesforce:records.read')}`;
    const refusal = (requestId: unknown) => ({
      status: 400,
      body: {
        error: 'consent_required',
        error_description: 'grant needs re-consent',
        error_uri: expect.stringMatching(new RegExp(`^https://[^/]+${deepLink.replace(/[?]/g, '\\?')}$`)),
        request_id: requestId,
      },
      requestId,
    });
    const refreshesBefore = salesforce.refreshes;
    for (const i of SWAPPED) {
      const answer = await exchangeAs(i);
      expect(answer).toStrictEqual(refusal(answer.requestId));
    }
    expect(salesforce.refreshes).toBe(refreshesBefore);
    for (const i of SWAPPED) expect(await salesforce.isRefreshTokenActive(seeded[i]!.refreshToken)).toBe(true);
    const swappedIds = SWAPPED.map((i) => seeded[i]!.grant.id);
    const trail = (await vault.auditRecords()).filter((r) => r.action === 'token.exchange' && swappedIds.includes(r.grant ?? ''));
    expect(trail.map((r) => [r.grant, r.decision, r.tokenHmac])).toStrictEqual(swappedIds.map((id) => [id, 'deny', undefined]));
    const alerts = (await vault.auditRecords()).filter((r) => r.action === 'grant.integrity');
    expect(alerts.map((r) => [r.grant, r.decision, r.reason])).toStrictEqual(
      swappedIds.map((id) => [id, 'error', 'ciphertext failed to open: DecryptionError']),
    );
    for (const id of swappedIds) expect((await vault.runtime.stores.grants.get(id))?.status).toBe('integrity_error');

    // Retire the old key: from here only kek-2 can open anything.
    await rm(join(vault.pki.dir, 'kek-1.key'));
    const retired = await adminCall(vault, '/admin/keys/reload', { method: 'POST' });
    expect(retired.json<{ kek: unknown }>().kek).toStrictEqual({ ids: ['2'], active: '2' });

    const others = seeded.map((_, i) => i).filter((i) => !(SWAPPED as readonly number[]).includes(i));
    const answers = await inPool(others.length, (k) => exchangeAs(others[k]!));
    const refused = answers.map((a, k) => ({ grant: others[k], ...a })).filter((a) => a.status !== 200);
    expect(refused).toStrictEqual([]);
    for (const { body } of answers) expect(body).toMatchObject({ token_type: 'Bearer', issued_token_type: JWT_TYPE, scope: 'salesforce:records.read' });
    // Every one of them opened its rewrapped refresh token and the provider accepted it (one refresh each).
    expect(salesforce.refreshes - refreshesBefore).toBe(GRANTS - 2);
    for (const i of others) {
      const grant = (await vault.runtime.stores.grants.get(seeded[i]!.grant.id))!;
      expect({ status: grant.status, version: grant.version, kek: vault.runtime.envelope.keyIdOf(grant.refreshToken) }).toStrictEqual({
        status: 'active',
        version: 2,
        kek: '2',
      });
    }
    for (const i of SWAPPED) {
      const answer = await exchangeAs(i);
      expect(answer).toStrictEqual(refusal(answer.requestId));
    }
    console.log(
      `KEK rotation over ${GRANTS} grants: ${batches.length} rewrap batches, ${GRANTS - 2} exchanges with an upstream refresh, ${Math.round(performance.now() - started)} ms`,
    );
  }, 120_000);
});
