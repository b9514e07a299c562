/**
 * `BENCH_ONLY=topology npm run bench` (or `npx tsx bench/topology.ts`): what one /exchange and one
 * /forward cost Redis, on a standalone server and on a 3-master Cluster (1 replica each), for
 * docs/scaling.md. Real vault, real mTLS, the CRM provider of test/helpers/forward-fixture.ts.
 *
 * Per operation, summed over every master: commands by name (`INFO commandstats`), client bytes
 * in and out (`total_net_input_bytes`, `total_net_output_bytes`), replication bytes
 * (`total_net_repl_output_bytes`), redis-server CPU (`used_cpu_sys + used_cpu_user`, an upper
 * bound: it includes background work). Then `MEMORY USAGE` of a grant, a token record and the
 * audit streams per record. Sequential requests in BENCH_CONCURRENCY loops (default 8), BENCH_OPS
 * of each (default 2000) over keep-alive mTLS connections, sent to a vault child process whose CPU time (/proc, utime + stime) gives
 * the vault's CPU per operation. Prints the load average at start and end: CPU figures are
 * capacity figures only on a quiet machine; commands and bytes do not depend on load.
 */
import { Agent } from 'node:https';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { startVaultChild } from '../test/helpers/vault-child.js';
import { processCpuUs } from './procs.js';
import { call } from '../test/helpers/https-client.js';
import { AGENT_A, exchangeParams } from '../test/helpers/exchange-fixture.js';
import { startForwardWorld, type ForwardWorld } from '../test/helpers/forward-fixture.js';
import { redisCommand, redisText } from '../test/helpers/redis-node.js';
import { startRedisCluster } from '../test/helpers/redis-cluster.js';

const N = Number(process.env.BENCH_OPS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);

interface Counters {
  commands: Map<string, number>;
  netIn: number;
  netOut: number;
  repl: number;
  cpuUs: number;
}

async function counters(ports: number[]): Promise<Counters> {
  const total: Counters = { commands: new Map(), netIn: 0, netOut: 0, repl: 0, cpuUs: 0 };
  for (const port of ports) {
    const info = await redisText(port, 'info', 'all');
    const num = (name: string) => Number(new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1] ?? 0);
    total.netIn += num('total_net_input_bytes');
    total.netOut += num('total_net_output_bytes');
    total.repl += num('total_net_repl_output_bytes');
    total.cpuUs += (num('used_cpu_sys') + num('used_cpu_user')) * 1e6;
    for (const [, name, calls] of info.matchAll(/^cmdstat_([a-z|_]+):calls=(\d+)/gm)) {
      total.commands.set(name!, (total.commands.get(name!) ?? 0) + Number(calls));
    }
  }
  return total;
}

function perOp(before: Counters, after: Counters, ops: number) {
  const commands: Record<string, number> = {};
  for (const [name, calls] of after.commands) {
    const d = (calls - (before.commands.get(name) ?? 0)) / ops;
    // The stats connection's own INFO calls are noise below 0.01 per operation.
    if (d >= 0.01 && name !== 'info') commands[name] = Number(d.toFixed(2));
  }
  const total = Object.values(commands).reduce((a, b) => a + b, 0);
  return {
    commands,
    commandsTotal: Number(total.toFixed(2)),
    bytesIn: Math.round((after.netIn - before.netIn) / ops),
    bytesOut: Math.round((after.netOut - before.netOut) / ops),
    replBytes: Math.round((after.repl - before.repl) / ops),
    redisCpuUs: Math.round((after.cpuUs - before.cpuUs) / ops),
  };
}

async function inLoops<T>(count: number, op: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await op(i);
      }
    }),
  );
  return out;
}

async function measure(label: string, w: ForwardWorld, masters: () => Promise<number[]>, keyPort: (key: string) => Promise<number>) {
  const vault = await startVaultChild(w.vault.rawConfig, w.vault.pki.dir, 'bench-topology');
  // Keep-alive connections, as gateways hold them: the figures are per request, not per TLS handshake.
  const { pki } = w.vault;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: pki.ca, cert: pki.gateway.cert, key: pki.gateway.key });
  try {
    return await measureOn(label, w, { ...vault, agent }, masters, keyPort);
  } finally {
    agent.destroy();
    await vault.stop();
  }
}

async function measureOn(
  label: string,
  w: ForwardWorld,
  vault: { pid: number; internalUrl: string; agent: Agent },
  masters: () => Promise<number[]>,
  keyPort: (key: string) => Promise<number>,
) {
  const freshBody = async () => new URLSearchParams(await exchangeParams(w.vault.ids, 'alice', AGENT_A, { scope: 'crm:records.read' })).toString();
  let body = await freshBody();
  let refused = 0;
  // A 503 is retried and counted (none expected on a healthy store: src/store/budget.ts).
  const exchange = async (): Promise<string> => {
    for (;;) {
      const token = await exchangeOnce();
      if (token !== null) return token;
      refused++;
    }
  };
  const exchangeOnce = async (): Promise<string | null> => {
    const res = await call(`${vault.internalUrl}/exchange`, {
      method: 'POST',
      ca: w.vault.pki.ca,
      client: w.vault.pki.gateway,
      agent: vault.agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
    });
    if (res.status === 503) return null;
    // A slow run outlives the identity tokens: new ones, and the request again.
    if (res.status === 400 && res.text.includes('expired')) {
      body = await freshBody();
      return exchangeOnce();
    }
    if (res.status !== 200) throw new Error(`exchange: ${res.status} ${res.text}`);
    return res.json<{ access_token: string }>().access_token;
  };
  await inLoops(200, exchange);
  let before = await counters(await masters());
  let cpu = processCpuUs(vault.pid);
  let started = performance.now();
  const tokens = await inLoops(N, exchange);
  const exchangeMs = performance.now() - started;
  const exchangeVaultCpuUs = Math.round((processCpuUs(vault.pid) - cpu) / N);
  let after = await counters(await masters());
  const ex = perOp(before, after, N);
  before = after;
  cpu = processCpuUs(vault.pid);
  started = performance.now();
  await inLoops(N, async (i) => {
    const res = await call(`${vault.internalUrl}/forward/crm/records/${i}`, {
      ca: w.vault.pki.ca,
      client: w.vault.pki.gateway,
      agent: vault.agent,
      headers: { authorization: `Bearer ${tokens[i]}` },
    });
    if (res.status !== 200) refused++;
  });
  const forwardMs = performance.now() - started;
  const forwardVaultCpuUs = Math.round((processCpuUs(vault.pid) - cpu) / N);
  after = await counters(await masters());
  const fw = perOp(before, after, N);
  // Memory: one grant hash, one live token record, the audit stream per entry.
  const [fresh] = await inLoops(1, exchange);
  const jti = (JSON.parse(Buffer.from(fresh!.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
  const usage = async (key: string) => Number(await redisCommand(await keyPort(key), 'memory', 'usage', key, 'samples', '0'));
  // Every chain's stream (`{audit:<i>}:log`, src/store/redis/keys.ts), summed, per record.
  let streamBytes = 0;
  let records = 0;
  for (let chain = 0; chain < w.vault.runtime.stores.audit.chains; chain++) {
    const stream = `tv:{audit:${chain}}:log`;
    const port = await keyPort(stream);
    records += Number(await redisCommand(port, 'xlen', stream));
    streamBytes += Number(await redisCommand(port, 'memory', 'usage', stream, 'samples', '0')) || 0;
  }
  const memory = {
    grantBytes: await usage(`tv:{g:${w.grant.id}}:grant`),
    cachedAccessTokenBytes: await usage(`tv:{g:${w.grant.id}}:at`),
    tokenRecordBytes: await usage(`tv:tok:${jti}`),
    auditBytesPerRecord: Math.round(streamBytes / records),
  };
  return {
    label,
    ops: N,
    refused503: refused,
    exchangePerSecond: Math.round(N / (exchangeMs / 1000)),
    forwardPerSecond: Math.round(N / (forwardMs / 1000)),
    exchange: { ...ex, vaultCpuUs: exchangeVaultCpuUs },
    forward: { ...fw, vaultCpuUs: forwardVaultCpuUs },
    memory,
  };
}

/** Both topologies, as JSON with the load average at start and end. */
export async function benchTopology(): Promise<string> {
  const loadStart = loadavg().map((l) => Number(l.toFixed(2)));
  const results = [];
  {
    const w = await startForwardWorld();
    results.push(
      await measure(
        'standalone',
        w,
        async () => [w.redis.port],
        async () => w.redis.port,
      ),
    );
    await w.close();
  }
  {
    const cluster = await startRedisCluster();
    const w = await startForwardWorld({ store: { kind: 'redis', redis: { mode: 'cluster', nodes: cluster.urls } } });
    results.push(
      await measure(
        'cluster (3 masters)',
        w,
        () => cluster.masters(),
        (key) => cluster.masterOf(key),
      ),
    );
    await w.close();
    await cluster.stop();
  }
  const machine = { ops: N, concurrency: CONCURRENCY, loadavgStart: loadStart, loadavgEnd: loadavg().map((l) => Number(l.toFixed(2))), node: process.version };
  return JSON.stringify({ machine, results }, null, 2);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.stdout.write(`${await benchTopology()}\n`);
