/**
 * The writer process of bench/audit-contention.ts for the baseline row: copied by that bench into a
 * checkout of the commit before N chains (AUDIT_BASELINE_COMMIT there), where it runs that commit's
 * one-chain writer with the same protocol (`ready`, `go`, counts as JSON) and the same load: C
 * callers appending events that name one of 10,000 grants. It imports that checkout's own modules,
 * so it type-checks only there; it is kept out of this checkout's build (tsconfig.json excludes it).
 */
import { createAuditWriter } from '../src/audit/writer.js';
import { connectRedisStores } from '../src/store/redis/index.js';

const { URL: url, PREFIX: keyPrefix, KEY: key, C: conc, S: seconds } = process.env;
const stores = await connectRedisStores({ url: url!, keyPrefix: keyPrefix! });
const writer = createAuditWriter({ store: stores.audit, hmacKey: Buffer.from(key!, 'hex') });
const result = { ok: 0, failed: 0, reasons: {} as Record<string, number>, cpuUs: 0 };
process.stdout.write('ready\n');
await new Promise((r) => process.stdin.once('data', r));
const cpu = process.cpuUsage();
const end = Date.now() + Number(seconds) * 1000;
let n = 0;
await Promise.all(
  Array.from({ length: Number(conc) }, async () => {
    while (Date.now() < end) {
      try {
        await writer.record({
          action: 'token.exchange',
          decision: 'allow',
          requestId: `${process.pid}-${n++}`,
          grant: `g-${Math.floor(Math.random() * 10_000)}`,
        });
        result.ok++;
      } catch (e) {
        result.failed++;
        const k = (e as Error).name;
        result.reasons[k] = (result.reasons[k] ?? 0) + 1;
      }
    }
  }),
);
const used = process.cpuUsage(cpu);
result.cpuUs = used.user + used.system;
process.stdout.write(`${JSON.stringify(result)}\n`);
await stores.close();
process.exit(0);
