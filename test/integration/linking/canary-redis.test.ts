/**
 * On Redis: no plaintext refresh token, access token, client secret or session
 * id anywhere in Redis (every key and value, whatever its type), in the logs
 * or in any page; and grants (and sessions) survive a Redis restart with AOF.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAccessToken } from '../../../src/grants/secrets.js';
import { BrowserClient } from '../../helpers/browser-client.js';
import { CLIENT_SECRET, startLinkingVault, SUPPORT_AGENT, type LinkingVault } from '../../helpers/linking-vault.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';

let redis: RedisHandle;
let lv: LinkingVault;
const browsers: BrowserClient[] = [];
const canaries = new Map<string, string>();

async function dumpRedis(url: string): Promise<string[]> {
  const raw = new Redis(url);
  try {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        out.push(key);
        const type = await raw.type(key);
        if (type === 'string') out.push((await raw.get(key)) ?? '');
        else if (type === 'hash') out.push(JSON.stringify(await raw.hgetall(key)));
        else if (type === 'set') out.push(JSON.stringify(await raw.smembers(key)));
        else if (type === 'zset') out.push(JSON.stringify(await raw.zrange(key, '0', '-1', 'WITHSCORES')));
        else if (type === 'list') out.push(JSON.stringify(await raw.lrange(key, '0', '-1')));
        else if (type === 'stream') out.push(JSON.stringify(await raw.xrange(key, '-', '+')));
        else throw new Error(`unexpected type ${type}`);
      }
    } while (cursor !== '0');
    return out;
  } finally {
    raw.disconnect();
  }
}

beforeAll(async () => {
  redis = await startRedis();
  lv = await startLinkingVault({ redisUrl: redis.url });
});
afterAll(async () => {
  await lv?.close();
  await redis?.stop();
});

describe('secrets at rest on Redis', () => {
  it('finds no token, client secret or session id in Redis, logs or pages after link, consent, re-link and unlink', async () => {
    const alice = await lv.signIn('alice');
    browsers.push(alice);
    await lv.link(alice, 'salesforce');
    await lv.link(alice, 'servicenow');
    const { stores, envelope } = lv.vault.runtime;
    const remember = async () => {
      for (const grant of await lv.grants('alice')) {
        canaries.set(`refresh token of ${grant.id}`, lv.refreshTokenOf(grant));
        const cached = await stores.tokens.getAccessToken(grant.id);
        if (cached) canaries.set(`access token of ${grant.id}`, openAccessToken(envelope, grant, cached.ciphertext));
      }
    };
    await remember();
    const page = await alice.get('/connections/salesforce');
    const sf = (await lv.grants('alice')).find((g) => g.provider === 'salesforce')!;
    await alice.postForm('/connections/salesforce/consent', {
      _csrf: BrowserClient.csrf(page),
      grant: sf.id,
      consent: `salesforce:records.read ${SUPPORT_AGENT}`,
    });
    await lv.link(alice, 'salesforce'); // re-link: the old refresh token is revoked upstream
    await remember();
    // Unlink with the provider down: the sealed token waits in the retry queue.
    const sn = (await lv.grants('alice')).find((g) => g.provider === 'servicenow')!;
    await lv.stopFake('servicenow');
    const snPage = await alice.get('/connections/servicenow');
    expect((await alice.postForm('/connections/servicenow/unlink', { _csrf: BrowserClient.csrf(snPage), grant: sn.id })).location).toBe(
      '/connections/servicenow?result=unlink_pending',
    );
    expect(await stores.revocations.list()).toHaveLength(1);
    await alice.get('/connections');

    canaries.set('client secret', CLIENT_SECRET);
    canaries.set('session id', alice.cookies.get('__Host-tv_session')!);
    expect(canaries.size).toBeGreaterThanOrEqual(7);
    for (const value of canaries.values()) expect(value.length).toBeGreaterThanOrEqual(16);

    const haystacks: Record<string, string> = {
      redis: (await dumpRedis(redis.url)).join('\n'),
      logs: lv.vault.logs.text(),
      pages: browsers.flatMap((b) => b.transcript).join('\n'),
    };
    expect(haystacks.redis).toContain('grant.link'); // the scan does see the audit stream
    expect(haystacks.logs).toContain('grant.relink'); // and the audit mirror in the logs
    const found = Object.entries(haystacks).flatMap(([where, text]) =>
      [...canaries].filter(([, value]) => text.includes(value)).map(([what]) => `${what} in ${where}`),
    );
    expect(found).toStrictEqual([]);
  });

  it('keeps grants, consent, the retry queue and sessions across a Redis restart (AOF)', async () => {
    const { stores } = lv.vault.runtime;
    const before = await lv.allGrants();
    const queued = await stores.revocations.list();
    expect(before).toHaveLength(2);
    await redis.restart();
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await stores.ping();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(await lv.allGrants()).toStrictEqual(before);
    expect(await stores.revocations.list()).toStrictEqual(queued);
    const sf = before.find((g) => g.provider === 'salesforce')!;
    expect(await lv.salesforce.isRefreshTokenActive(lv.refreshTokenOf(sf))).toBe(true);
    const page = await browsers[0]!.get('/connections/salesforce');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Active');
  });
});
