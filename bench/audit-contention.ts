/**
 * Audit append throughput with contention between replicas: R writer processes (each its own
 * Redis connection and audit writer, as R vault processes would have), each with C concurrent
 * callers, append for S seconds to one trail of N chains on a private redis-server (AOF on).
 * Each record names one of 10,000 grants, so records spread over the chains by grant. Every row
 * starts on an emptied server with a freshly rewritten append-only file (`emptyServer`).
 *
 * Prints one table row per chain count and appends the table to bench/RESULTS.md (BENCH_RESULTS=off
 * to skip): records/s in all, how many gave up (AuditContentionError: an exchange answers 503 for
 * each), what the appends met (applied / stale head / stale head that claimed the turn / refused
 * because another writer held the turn), separate take-turn calls, store calls per record and
 * records per applied append, CPU µs per record in the
 * writer processes and in redis-server (steadier than records/s on a shared machine), and the
 * load average before and after.
 *
 * Options (env): R writers (3), C callers each (16), S seconds (5), CHAINS (1,4,16), ROUNDS (1), and
 * BEFORE, whose writer runs too, row by row in the same run, for a before → after ratio:
 * - `baseline` (the default): the one-chain writer of AUDIT_BASELINE_COMMIT (main before N chains,
 *   the trail the 18–21k records/s of docs/scaling.md were measured on), checked out into a temporary
 *   git worktree (removed after) and driven by bench/audit-baseline-child.ts with the same load;
 *   its store-call column reads n/a. Needs this repository's history (not a shallow clone).
 * - `off`: this checkout only.
 * - a path to another checkout: its own copy of this file drives its writer (copy this one over it
 *   for the store-call and CPU columns):
 *   `git worktree add --detach /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/node_modules`
 *   `cp bench/audit-contention.ts /tmp/base/bench/ && BEFORE=/tmp/base npx tsx bench/audit-contention.ts`
 *
 *   `npx tsx bench/audit-contention.ts`, or `BENCH_ONLY=audit npm run bench` (the same, with the same env)
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createAuditWriter } from '../src/audit/writer.js';
import type { AuditStore } from '../src/store/audit-store.js';
import { connectRedisStores } from '../src/store/redis/index.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { runAuditLoad } from './audit-load.js';

interface Result {
  ok: number;
  failed: number;
  reasons: Record<string, number>;
  /** Absent from writers of older checkouts. */
  cpuUs?: number;
  appends?: { applied: number; stale: number; claimed: number; held: number; records: number; turnCalls: number };
}

/** The writer's store, counting what each append met. */
function counting(inner: AuditStore, tally: NonNullable<Result['appends']>): AuditStore {
  const store: AuditStore = Object.create(inner) as AuditStore;
  store.append = async (chain, head, entries, turn, claimMs) => {
    const result = await inner.append(chain, head, entries, turn, claimMs);
    if (result.ok) {
      tally.applied++;
      tally.records += entries.length;
    } else if (result.turnTaken === true) tally.claimed++;
    else if (result.turnHeld === true) tally.held++;
    else tally.stale++;
    return result;
  };
  // Writers that take the turn in a call of its own (before the append claimed it) pay a round trip.
  if (inner.takeTurn !== undefined)
    store.takeTurn = (chain, ttlMs) => {
      tally.turnCalls++;
      return inner.takeTurn!(chain, ttlMs);
    };
  return store;
}

/** One writer process: connects, says `ready`, waits for `go` on stdin, appends for S seconds, prints its counts. */
async function child(): Promise<void> {
  const { URL: url, PREFIX: keyPrefix, CHAINS: chains, KEY: key, C: conc, S: seconds } = process.env;
  const stores = await connectRedisStores({ url: url!, keyPrefix: keyPrefix!, auditChains: Number(chains) }, 10_000);
  const appends = { applied: 0, stale: 0, claimed: 0, held: 0, records: 0, turnCalls: 0 };
  const writer = createAuditWriter({ store: counting(stores.audit, appends), hmacKey: Buffer.from(key!, 'hex') });
  await runAuditLoad((event) => writer.record(event), Number(conc), Number(seconds), { appends });
  await stores.close();
}

/** A writer process of `script`: `ready` resolves once it is connected; `go()` starts it; `done` has its counts. */
function startChild(script: string, env: Record<string, string>): { ready: Promise<void>; go: () => void; done: Promise<Result> } {
  const proc = spawn(process.execPath, [...process.execArgv, script], {
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

/** main before N audit chains: one chain, writers taking turns on it (the baseline of BEFORE=baseline). */
const AUDIT_BASELINE_COMMIT = '2a4c9c3';

/** A temporary worktree of AUDIT_BASELINE_COMMIT with this checkout's node_modules and the baseline writer process. */
function baselineCheckout(): { script: string; remove: () => void } {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'audit-baseline-'));
  execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', '--force', dir, AUDIT_BASELINE_COMMIT], { stdio: 'ignore' });
  symlinkSync(resolve(root, 'node_modules'), join(dir, 'node_modules'));
  const script = join(dir, 'bench', 'audit-baseline-child.ts');
  copyFileSync(fileURLToPath(new URL('./audit-baseline-child.ts', import.meta.url)), script);
  copyFileSync(fileURLToPath(new URL('./audit-load.ts', import.meta.url)), join(dir, 'bench', 'audit-load.ts'));
  return {
    script,
    remove: () => {
      execFileSync('git', ['-C', root, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An empty server for the next row, as it was for the first: the data of the rows before it is
 * dropped and its append-only file rewritten (and any rewrite in progress waited out) first.
 * Otherwise each row appended to everything the earlier rows left (hundreds of MB per row), and
 * redis-server's automatic AOF rewrites forked and compressed that whole dataset during the later
 * rows, billing them (copy-on-write page faults in the server, a busy child on the shared cores)
 * for the data of the rows before.
 */
async function emptyServer(raw: Redis): Promise<void> {
  const busy = async () => /^(aof_rewrite_in_progress|aof_rewrite_scheduled|rdb_bgsave_in_progress):1/m.test(await raw.info('persistence'));
  const settle = async () => {
    while (await busy()) await new Promise((r) => setTimeout(r, 100));
  };
  await settle();
  await raw.flushall();
  await raw.bgrewriteaof();
  await settle();
}

/** redis-server's CPU seconds (user + system) so far. */
async function redisCpu(raw: Redis): Promise<number> {
  const info = await raw.info('cpu');
  const field = (name: string) => Number(new RegExp(`^used_cpu_${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('user') + field('sys');
}

const sum = (rs: Result[], pick: (r: Result) => number | undefined) => rs.reduce((s, r) => s + (pick(r) ?? 0), 0);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function parent(): Promise<void> {
  const redis = await startRedis();
  const raw = new Redis(redis.url);
  const R = Number(process.env.R ?? 3);
  const C = Number(process.env.C ?? 16);
  const S = Number(process.env.S ?? 5);
  const chainCounts = (process.env.CHAINS ?? '1,4,16').split(',').map(Number);
  const rounds = Number(process.env.ROUNDS ?? 1);
  const writers: Array<{ label: string; script: string }> = [{ label: 'this checkout', script: fileURLToPath(import.meta.url) }];
  const before = process.env.BEFORE ?? 'baseline';
  const baseline = before === 'baseline' ? baselineCheckout() : undefined;
  if (baseline) writers.unshift({ label: `baseline (${AUDIT_BASELINE_COMMIT}, one chain)`, script: baseline.script });
  else if (before !== 'off') writers.unshift({ label: `before (${before})`, script: join(before, 'bench', 'audit-contention.ts') });
  const key = randomBytes(32).toString('hex');
  const startLoad = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  const rows: string[] = [];
  let run = 0;
  try {
    for (let round = 1; round <= rounds; round++)
      for (const chains of chainCounts) {
        let firstRate: number | undefined;
        for (const w of writers) {
          const env = { URL: redis.url, PREFIX: `b${run++}:`, CHAINS: String(chains), KEY: key, C: String(C), S: String(S) };
          await emptyServer(raw);
          const children = Array.from({ length: R }, () => startChild(w.script, env));
          await Promise.all(children.map((c) => c.ready));
          const before = loadavg()[0]!;
          const redisBefore = await redisCpu(raw);
          for (const c of children) c.go();
          const results = await Promise.all(children.map((c) => c.done));
          const redisUs = ((await redisCpu(raw)) - redisBefore) * 1e6;
          const after = loadavg()[0]!;
          const ok = sum(results, (r) => r.ok);
          const reasons: Record<string, number> = {};
          for (const r of results) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
          const counted = results.every((r) => r.appends !== undefined);
          const a = (pick: (x: NonNullable<Result['appends']>) => number) => sum(results, (r) => (r.appends ? pick(r.appends) : 0));
          const calls = a((x) => x.applied + x.stale + x.claimed + x.held + x.turnCalls);
          const appendCell = counted
            ? `${fmt(a((x) => x.applied))} / ${fmt(a((x) => x.stale))} / ${fmt(a((x) => x.claimed))} / ${fmt(a((x) => x.held))} / ${fmt(a((x) => x.turnCalls))} (${ok > 0 ? (calls / ok).toFixed(2) : 'n/a'} per record)`
            : 'n/a';
          const perAppend = counted && a((x) => x.applied) > 0 ? (a((x) => x.records) / a((x) => x.applied)).toFixed(1) : 'n/a';
          const writerCpu = results.every((r) => r.cpuUs !== undefined) && ok > 0 ? fmt(sum(results, (r) => r.cpuUs) / ok) : 'n/a';
          const gaveUp = sum(results, (r) => r.failed);
          // The rows after the first of a chain count: their records/s against the first's (the baseline's) in the same round.
          const ratio = firstRate === undefined ? '' : ` (${(ok / S / firstRate).toFixed(2)}×)`;
          firstRate ??= ok / S;
          const row = `| ${rounds > 1 ? `${round}: ` : ''}${w.label} | ${chains} | ${R} × ${C} | ${fmt(ok / S)}${ratio} | ${fmt(gaveUp)}${gaveUp > 0 ? ` ${JSON.stringify(reasons)}` : ''} | ${appendCell} | ${perAppend} | ${writerCpu} | ${ok > 0 ? fmt(redisUs / ok) : 'n/a'} | ${before.toFixed(1)} → ${after.toFixed(1)} |`;
          console.log(row);
          rows.push(row);
        }
      }
  } finally {
    raw.disconnect();
    await redis.stop();
    baseline?.remove();
  }
  report(
    [
      '| writer | chains | writers × callers | records/s (× the first row of its chain count) | gave up | store calls: applied / stale / stale + turn claimed / turn held by another / separate take-turn calls (all per record) | records per applied append | writer CPU µs/record | redis-server CPU µs/record | load average (1 min) |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
    ],
    { R, C, S, startLoad },
  );
}

/** Prints the table and appends it to bench/RESULTS.md with the commit, Node version and load average. */
function report(lines: string[], run: { R: number; C: number; S: number; startLoad: string }): void {
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.env.BENCH_RESULTS === 'off') return;
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  const dirty = git('status', '--porcelain', '--untracked-files=no') === '' ? '' : ' (uncommitted changes)';
  const endLoad = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  const header = `\n## \`bench/audit-contention.ts\`, ${new Date().toISOString()}: commit ${git('rev-parse', '--short', 'HEAD')}${dirty}, node ${process.version}, R=${run.R} C=${run.C} S=${run.S}, load average ${endLoad} at the end (${run.startLoad} at the start)\n\n`;
  appendFileSync(new URL('./RESULTS.md', import.meta.url), `${header}${lines.join('\n')}\n`);
}

if (process.env.AUDIT_BENCH_CHILD === '1') await child();
else await parent();
process.exit(0);
