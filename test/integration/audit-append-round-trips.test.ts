/**
 * The audit writer's appends to several chains share one round trip, and its appends run by
 * EVALSHA, or by EVAL once the server lost the script, whether small enough to share the tick's
 * auto-pipeline or large enough to go as commands of their own (src/store/redis/scripts.ts):
 * counted on a private redis-server by its own statistics (INFO: socket reads processed, script
 * calls), not by timing.
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

/** One field of a command's line in INFO commandstats (0 for a command not called yet). */
const commandStat = (info: string, command: string, field: string) => Number(new RegExp(`^cmdstat_${command}:.*\\b${field}=(\\d+)`, 'm').exec(info)?.[1] ?? 0);

/** Socket reads redis-server has processed (each INFO counts its own) and EVALSHA calls so far. */
async function serverCounters(): Promise<{ reads: number; scripts: number }> {
  const info = await raw.info('stats', 'commandstats');
  return {
    reads: Number(/^total_reads_processed:(\d+)/m.exec(info)?.[1]),
    scripts: commandStat(info, 'evalsha', 'calls'),
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

it('appends small and large batches through EVALSHA, and through EVAL after the server lost the script', async () => {
  const writer = createAuditWriter({ store: homeless(stores.audit), hmacKey });
  const [grant] = grantsOnDistinctChains(1);
  const before = (await verifyTrail(stores.audit, hmacKey)).records;
  const scriptCalls = async () => {
    const info = await raw.info('commandstats');
    return {
      evalsha: commandStat(info, 'evalsha', 'calls'),
      eval: commandStat(info, 'eval', 'calls'),
      failedEvalsha: commandStat(info, 'evalsha', 'failed_calls'),
    };
  };
  // One grant, so each batch is one append to one chain: 1 record (10 arguments) or 40 (about 200).
  const batch = (size: number, n: number) => Promise.all(Array.from({ length: size }, (_, i) => writer.record(event(grant!, 1000 * n + i))));
  for (const size of [1, 40]) {
    await raw.script('FLUSH');
    await raw.config('RESETSTAT');
    // The first append meets NOSCRIPT and is sent again with its Lua; the second finds it loaded.
    const first = await batch(size, size);
    const second = await batch(size, size + 1);
    expect(await scriptCalls()).toStrictEqual({ evalsha: 2, eval: 1, failedEvalsha: 1 });
    expect(new Set([...first, ...second].map((r) => r.requestId)).size).toBe(2 * size);
  }
  const trail = await verifyTrail(stores.audit, hmacKey);
  expect({ ok: trail.ok, records: trail.records }).toStrictEqual({ ok: true, records: before + 82 });
});
