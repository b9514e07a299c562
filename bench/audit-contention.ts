/**
 * Audit append throughput with contention between replicas: R writer processes (each its own
 * Redis connection and audit writer, as R vault processes would have), each with C concurrent
 * callers, append for S seconds to one trail of N chains on a private redis-server (AOF on).
 * Each record names one of 10,000 grants, so records spread over the chains by grant.
 * Prints, per chain count, records/s in all, how many gave up (AuditContentionError: an exchange
 * answers 503 for each) and the load average before and after.
 *
 * `R=3 C=16 S=5 CHAINS=1,4,16 npx tsx bench/audit-contention.ts`
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createAuditWriter } from '../src/audit/writer.js';
import { connectRedisStores } from '../src/store/redis/index.js';
import { startRedis } from '../test/helpers/redis-server.js';

interface Result {
  ok: number;
  failed: number;
  reasons: Record<string, number>;
}

/** One writer process: connects, says `ready`, waits for `go` on stdin, appends for S seconds, prints its counts. */
async function child(): Promise<void> {
  const { URL: url, PREFIX: keyPrefix, CHAINS: chains, KEY: key, C: conc, S: seconds } = process.env;
  const stores = await connectRedisStores({ url: url!, keyPrefix: keyPrefix!, auditChains: Number(chains) }, 10_000);
  const writer = createAuditWriter({ store: stores.audit, hmacKey: Buffer.from(key!, 'hex') });
  const result: Result = { ok: 0, failed: 0, reasons: {} };
  process.stdout.write('ready\n');
  await new Promise((r) => process.stdin.once('data', r));
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
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await stores.close();
}

/** A writer process: `ready` resolves once it is connected; `go()` starts it; `done` has its counts. */
function startChild(env: Record<string, string>): { ready: Promise<void>; go: () => void; done: Promise<Result> } {
  const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, ...env, AUDIT_BENCH_CHILD: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => (markReady = r));
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) markReady();
  });
  const done = new Promise<Result>((resolve, reject) =>
    proc.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.slice('ready\n'.length)) as Result) : reject(new Error(`writer exited ${code}`)))),
  );
  return { ready, go: () => proc.stdin.end('go\n'), done };
}

async function parent(): Promise<void> {
  const redis = await startRedis();
  const R = Number(process.env.R ?? 3);
  const C = Number(process.env.C ?? 16);
  const S = Number(process.env.S ?? 5);
  const chainCounts = (process.env.CHAINS ?? '1,4,16').split(',').map(Number);
  const key = randomBytes(32).toString('hex');
  try {
    for (const chains of chainCounts) {
      const env = { URL: redis.url, PREFIX: `b${chains}:`, CHAINS: String(chains), KEY: key, C: String(C), S: String(S) };
      const children = Array.from({ length: R }, () => startChild(env));
      await Promise.all(children.map((c) => c.ready));
      const before = loadavg()[0]!;
      for (const c of children) c.go();
      const results = await Promise.all(children.map((c) => c.done));
      const ok = results.reduce((s, r) => s + r.ok, 0);
      const failed = results.reduce((s, r) => s + r.failed, 0);
      const reasons: Record<string, number> = {};
      for (const r of results) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
      const after = loadavg()[0]!;
      console.log(
        JSON.stringify({
          chains,
          writers: R,
          callersEach: C,
          seconds: S,
          records: ok,
          perSecond: Math.round(ok / S),
          gaveUp: failed,
          reasons,
          load: [before, after],
        }),
      );
    }
  } finally {
    await redis.stop();
  }
}

if (process.env.AUDIT_BENCH_CHILD === '1') await child();
else await parent();
process.exit(0);
