/**
 * Audit-chain contention between replicas: R writers (one Redis connection each, as R vault
 * processes would have) append to one chain for 3 s, each with C concurrent callers, against a
 * private redis-server. Prints how many records were written and how many gave up with
 * AuditContentionError (an exchange answers 503 for each). `R=3 C=16 npx tsx bench/audit-contention.ts`.
 */
import { randomBytes } from 'node:crypto';
import { createAuditWriter } from '../src/audit/writer.js';
import { connectRedisStores } from '../src/store/redis/index.js';
import { startRedis } from '../test/helpers/redis-server.js';

const redis = await startRedis();
const hmacKey = randomBytes(32);
const REPLICAS = Number(process.env.R ?? 3);
const SECONDS = 3;
const CONC = Number(process.env.C ?? 16);
const writers = await Promise.all(
  Array.from({ length: REPLICAS }, async () => createAuditWriter({ store: (await connectRedisStores({ url: redis.url, keyPrefix: 'c:' })).audit, hmacKey })),
);
let ok = 0;
let failed = 0;
const reasons = new Map<string, number>();
const end = performance.now() + SECONDS * 1000;
let n = 0;
await Promise.all(
  writers.flatMap((w, r) =>
    Array.from({ length: CONC }, async () => {
      while (performance.now() < end) {
        try {
          await w.record({ action: 'token.exchange', decision: 'allow', requestId: `r${r}-${n++}`, reason: 'x' });
          ok++;
        } catch (e) {
          failed++;
          const k = (e as Error).name;
          reasons.set(k, (reasons.get(k) ?? 0) + 1);
        }
      }
    }),
  ),
);
console.log({ REPLICAS, CONC, ok, failed, reasons: Object.fromEntries(reasons) });
await redis.stop();
process.exit(0);
