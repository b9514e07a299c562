import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRewrap } from '../../src/grants/rewrap-job.js';
import { createEnvelope, type Envelope } from '../../src/crypto/envelope.js';
import { Keyring } from '../../src/crypto/keyring.js';
import { openRefreshToken, sealAccessToken, sealRefreshToken } from '../../src/grants/secrets.js';
import { connectRedisStores } from '../../src/store/redis/index.js';
import type { Grant } from '../../src/store/grant-store.js';
import type { Stores } from '../../src/store/stores.js';
import { startRedis, type RedisHandle } from '../helpers/redis-server.js';

const GRANTS = 1_000;
const kek1 = { id: '1', key: randomBytes(32) };
const kek2 = { id: '2', key: randomBytes(32) };

let redis: RedisHandle;
let stores: Stores;
let before: Envelope;
let after: Envelope;
const ids: string[] = [];

function grantFor(i: number): Grant {
  const id = `g${String(i).padStart(5, '0')}`;
  return {
    id,
    userId: `https://idp.example.test#user-${i % 37}`,
    provider: i % 2 ? 'salesforce' : 'servicenow',
    upstreamSubject: `upstream-${i}`,
    scopes: ['api'],
    status: 'active',
    refreshToken: '',
    version: 1,
    consent: {},
    createdAt: 1,
    updatedAt: 1,
  };
}

beforeAll(async () => {
  redis = await startRedis();
  stores = await connectRedisStores({ url: redis.url });
  before = await createEnvelope(new Keyring([kek1]));
  after = await createEnvelope(new Keyring([kek1, kek2], '2'));
  for (let i = 0; i < GRANTS; i++) {
    const grant = grantFor(i);
    grant.refreshToken = sealRefreshToken(before, grant, `fake-refresh-token-${i}`);
    await stores.grants.create(grant);
    ids.push(grant.id);
  }
});
afterAll(async () => {
  await stores.close();
  await redis.stop();
});

describe('key-encryption-key rotation', () => {
  it('moves 1,000 grants to the new key in resumable batches, reports swapped ciphertexts and never rewrites them', async () => {
    // Two grants whose ciphertexts were swapped in storage (e.g. by someone with Redis write access).
    const [a, b] = [(await stores.grants.get(ids[10]!))!, (await stores.grants.get(ids[11]!))!];
    await stores.grants.rewrapRefreshToken(a.id, a.refreshToken, b.refreshToken);
    await stores.grants.rewrapRefreshToken(b.id, b.refreshToken, a.refreshToken);
    // A cached access token under the old key is dropped, not left needing it.
    await stores.tokens.cacheAccessToken(
      ids[20]!,
      { ciphertext: sealAccessToken(before, grantFor(20), 'fake-at'), expiresAt: Date.now() + 60_000, grantVersion: 1 },
      60_000,
    );

    const first = await runRewrap({ stores, envelope: after, activeKeyId: '2', pageSize: 200, maxPages: 2 });
    expect(first.done).toBe(false);
    expect(first.scanned).toBe(400);
    expect(first.cursor).toBeDefined();
    const rest = await runRewrap({ stores, envelope: after, activeKeyId: '2', pageSize: 200, cursor: first.cursor! });
    expect(rest.done).toBe(true);
    expect(first.scanned + rest.scanned).toBe(GRANTS);
    expect(first.rewrapped + rest.rewrapped).toBe(GRANTS - 2);
    expect([...first.failed, ...rest.failed]).toStrictEqual([
      { grantId: a.id, reason: 'cannot_open' },
      { grantId: b.id, reason: 'cannot_open' },
    ]);
    expect((await stores.grants.get(a.id))!.refreshToken).toBe(b.refreshToken);
    expect(await stores.tokens.getAccessToken(ids[20]!)).toBeNull();

    // Every other grant opens with only the new key, and its version is untouched.
    const onlyNew = await createEnvelope(new Keyring([kek2]));
    for (const id of ids) {
      const grant = (await stores.grants.get(id))!;
      if (id === a.id || id === b.id) continue;
      expect(onlyNew.keyIdOf(grant.refreshToken)).toBe('2');
      expect(openRefreshToken(onlyNew, grant)).toBe(`fake-refresh-token-${Number(id.slice(1))}`);
      expect(grant.version).toBe(1);
    }

    // Idempotent: a second run moves nothing and reports the same two records.
    const again = await runRewrap({ stores, envelope: after, activeKeyId: '2' });
    expect(again).toStrictEqual({
      activeKeyId: '2',
      scanned: GRANTS,
      rewrapped: 0,
      alreadyActive: GRANTS - 2,
      raced: 0,
      failed: [
        { grantId: a.id, reason: 'cannot_open' },
        { grantId: b.id, reason: 'cannot_open' },
      ],
      done: true,
    });
  }, 60_000);
});
