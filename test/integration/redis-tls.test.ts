/**
 * The vault on a Redis that speaks only TLS (`rediss://`, certificate from a fake test CA) and only
 * to an ACL user whose password comes from a file: exchanges are issued, their records land in
 * that Redis under the vault's key prefix, and a client without the user's credentials is refused.
 * (A wrong password and a certificate from another CA at start: production-startup.test.ts.)
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_A, exchangeParams, JWT_TYPE, startExchangeVault, type ExchangeVault } from '../helpers/exchange-fixture.js';
import { rawTlsCommands, startRedisTls, type RedisTlsHandle } from '../helpers/redis-tls-server.js';
import { createTestPki } from '../helpers/vault.js';

let redis: RedisTlsHandle;
let vault: ExchangeVault;
let admin: Redis;

beforeAll(async () => {
  redis = await startRedisTls();
  const pki = await createTestPki();
  const passwordFile = join(pki.dir, 'redis-password');
  const tlsCaFile = join(pki.dir, 'redis-ca.crt');
  await writeFile(passwordFile, `${redis.password}\n`, { mode: 0o600 });
  await writeFile(tlsCaFile, redis.caPem);
  vault = await startExchangeVault({
    pki,
    overrides: { store: { kind: 'redis', redis: { url: redis.url, username: redis.username, passwordFile, tlsCaFile } } },
  });
  admin = new Redis(redis.url, { username: redis.username, password: redis.password, tls: { ca: redis.caPem }, lazyConnect: true });
});

afterAll(async () => {
  admin?.disconnect();
  await vault?.close();
  await redis?.stop();
});

describe('the vault on a TLS-only Redis with an ACL user', () => {
  it('issues exchanges, and their records are in that Redis under the vault prefix', async () => {
    const grant = await vault.seedGrant('alice');
    const res = await vault.exchange(await exchangeParams(vault.ids, 'alice', AGENT_A));
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ token_type: 'Bearer', issued_token_type: JWT_TYPE });
    await admin.connect();
    const keys = await admin.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => !k.startsWith('tv:'))).toStrictEqual([]);
    expect(keys.filter((k) => k.includes(grant.id)).length).toBeGreaterThan(0);
    // The vault's connections are the ACL user's, over TLS (CLIENT LIST shows no plain-port client: there is none).
    const clients = (await admin.client('LIST')) as string;
    const users = new Set(
      clients
        .trim()
        .split('\n')
        .map((line) => /\buser=(\S+)/.exec(line)?.[1]),
    );
    expect([...users]).toStrictEqual([redis.username]);
  });

  it('refuses a client that does not authenticate as the ACL user', async () => {
    const reply = await rawTlsCommands(redis.port, redis.caPem, ['PING']);
    expect(reply.split(' ', 1)[0]).toBe('-NOAUTH');
  });
});
