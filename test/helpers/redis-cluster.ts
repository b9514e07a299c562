/**
 * A private Redis Cluster for tests: 3 masters with one replica each on free loopback ports, each
 * node in its own temp dir with AOF on (`redis-cli --cluster create --cluster-replicas 1`).
 * Start one per test file and share it (flush() between tests): creating one takes seconds.
 * Processes are watched like test/helpers/redis-server.ts (no orphan outlives the test run).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateServerArgs } from './redis-server.js';
import { hasOnlineReplica, infoField, redisCli, redisCommand, redisText, startNode, stopOnFailure, waitFor } from './redis-node.js';
import type { RedisNode } from './redis-node.js';

export interface RedisClusterOptions {
  /** `cluster-node-timeout`: how long a silent master has before its replica takes over; default 5000. */
  nodeTimeoutMs?: number;
}

export interface RedisClusterHandle {
  /** Every node (masters and replicas) as started; startup nodes for a client. */
  readonly nodes: readonly RedisNode[];
  /** `redis://127.0.0.1:<port>` of every node, for `store.redis.nodes`. */
  readonly urls: readonly string[];
  node(port: number): RedisNode;
  /** Ports of the nodes that are masters now, as a live node sees it. */
  masters(): Promise<number[]>;
  /** Port of the master that serves `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** FLUSHALL on every master (replicas follow). */
  flush(): Promise<void>;
  /** Resolves once every running node reports `cluster_state:ok` and each master has a synced replica. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const NODES = 6;

export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const root = await mkdtemp(join(tmpdir(), 'tv-cluster-'));
  const nodeTimeout = String(opts.nodeTimeoutMs ?? 5000);
  const args = (port: number, dir: string) => [
    ...privateServerArgs(port, dir),
    '--appendfsync',
    'everysec',
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, 'nodes.conf'),
    '--cluster-node-timeout',
    nodeTimeout,
    '--cluster-announce-ip',
    '127.0.0.1',
  ];
  // Each node's cluster bus listens on its port + 10000.
  const started = await Promise.allSettled(Array.from({ length: NODES }, () => startNode(root, 'redis-server', args, { alsoFree: [10_000] })));
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(root, { recursive: true, force: true });
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  await stopOnFailure(stop, () =>
    redisCli(nodes[0]!.port, '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'),
  );
  const live = () => nodes.filter((n) => n.running);
  const topology = async () => parseClusterNodes(await redisText(live()[0]!.port, 'cluster', 'nodes'));
  const handle: RedisClusterHandle = {
    nodes,
    urls: nodes.map((n) => `redis://127.0.0.1:${n.port}`),
    node(port) {
      const found = nodes.find((n) => n.port === port);
      if (found === undefined) throw new Error(`no cluster node on port ${port}`);
      return found;
    },
    async masters() {
      return (await topology()).filter((n) => n.master && !n.failed).map((n) => n.port);
    },
    async masterOf(key) {
      const slot = Number(await redisCommand(live()[0]!.port, 'cluster', 'keyslot', key));
      const owner = (await topology()).find((n) => n.master && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
      if (owner === undefined) throw new Error(`no master serves slot ${slot}`);
      return owner.port;
    },
    async flush() {
      await Promise.all((await handle.masters()).map((port) => redisCommand(port, 'flushall')));
    },
    async waitHealthy(timeoutMs = 30_000) {
      await waitFor('a healthy cluster', timeoutMs, async () => {
        for (const n of live()) {
          if (infoField(await redisText(n.port, 'cluster', 'info'), 'cluster_state') !== 'ok') return false;
        }
        const view = await topology();
        const masters = view.filter((n) => n.master && !n.failed);
        if (masters.length !== 3) return false;
        for (const m of masters) if (!(await hasOnlineReplica(m.port))) return false;
        return true;
      });
    },
    stop,
  };
  await stopOnFailure(stop, () => handle.waitHealthy());
  return handle;
}

interface ClusterNodeView {
  port: number;
  master: boolean;
  failed: boolean;
  slots: [number, number][];
}

/** Parses `CLUSTER NODES`: `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`. */
function parseClusterNodes(text: string): ClusterNodeView[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [, address = '', flags = '', , , , , , ...slots] = line.trim().split(' ');
      const port = Number(address.split('@')[0]?.split(':')[1]);
      const flagList = flags.split(',');
      const ranges = slots
        .filter((s) => !s.startsWith('['))
        .map((s) => {
          const [a = '0', b = a] = s.split('-');
          return [Number(a), Number(b)] as [number, number];
        });
      return { port, master: flagList.includes('master'), failed: flagList.includes('fail') || flagList.includes('fail?'), slots: ranges };
    });
}
