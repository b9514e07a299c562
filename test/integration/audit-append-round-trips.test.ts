/**
 * The audit writer's appends to several chains share one round trip: counted on a private
 * redis-server by its own statistics (INFO: socket reads processed, EVALSHA calls), not by timing.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AuditEventInput } from '../../src/audit/events.js';
import { verifyTrail } from '../../src/audit/verify.js';
import { createAuditWriter } from '../../src/audit/writer.js';
import { auditChainOfGrant } from '../../src/store/audit-store.js';
import { connectRedisStores } from '../../src/store/redis/index.js';
import type { Stores } from '../../src/store/stores.js';
import { homeless } from '../helpers/audit-writers.js';
import { startRedis, type RedisHandle } from '../helpers/redis-server.js';

const CHAINS = 16;
const hmacKey = randomBytes(32);
let redis: RedisHandle;
let raw: Redis;
let stores: Stores;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  stores = await connectRedisStores({ url: redis.url, keyPrefix: 'rt:', auditChains: CHAINS });
});

afterAll(async () => {
  await stores.close();
  raw.disconnect();
  await redis.stop();
});

/** Socket reads redis-server has processed (each INFO counts its own) and EVALSHA calls so far. */
async function serverCounters(): Promise<{ reads: number; scripts: number }> {
  const info = await raw.info('stats', 'commandstats');
  return {
    reads: Number(/^total_reads_processed:(\d+)/m.exec(info)?.[1]),
    scripts: Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(info)?.[1] ?? 0),
  };
}

/** The first grant found on each of `n` distinct chains. */
function grantsOnDistinctChains(n: number): string[] {
  const byChain = new Map<number, string>();
  for (let i = 0; byChain.size < n; i++) if (!byChain.has(auditChainOfGrant(`g-${i}`, CHAINS))) byChain.set(auditChainOfGrant(`g-${i}`, CHAINS), `g-${i}`);
  return [...byChain.values()];
}

const event = (grant: string, n: number): AuditEventInput => ({ action: 'token.exchange', decision: 'allow', requestId: `req-${grant}-${n}`, grant });

it('appends records of four chains recorded together in one round trip (one script call per chain), and each awaited record in its own', async () => {
  // A writer without a home chain (as when there are more writers than chains: src/audit/chain-owners.ts)
  // routes each record by its grant, so records of four grants go to four chains.
  const writer = createAuditWriter({ store: homeless(stores.audit), hmacKey });
  const grants = grantsOnDistinctChains(4);
  // Warm: scripts loaded, every chain's head cached by the writer.
  await Promise.all(grants.map((g) => writer.record(event(g, 1))));

  const before = await serverCounters();
  const together = await Promise.all(grants.map((g) => writer.record(event(g, 2))));
  const after = await serverCounters();

  expect(together).toStrictEqual(grants.map((g) => ({ ...event(g, 2), chain: auditChainOfGrant(g, CHAINS), seq: 2, time: expect.any(String) })));
  expect(after.scripts - before.scripts).toBe(4);
  // One read carried the four appends; the other is the INFO that counted it.
  expect(after.reads - before.reads).toBe(2);

  // The counter tells round trips apart: four records awaited one by one are four reads.
  const start = await serverCounters();
  for (const g of grants) await writer.record(event(g, 3));
  const end = await serverCounters();
  expect(end.scripts - start.scripts).toBe(4);
  expect(end.reads - start.reads).toBe(5);

  const trail = await verifyTrail(stores.audit, hmacKey);
  expect({ ok: trail.ok, records: trail.records }).toStrictEqual({ ok: true, records: 12 });
});
