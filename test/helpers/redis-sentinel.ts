/**
 * A private Redis Sentinel set for tests: one master, one replica, three sentinels monitoring the
 * master as `tv`, all on free loopback ports in one temp dir, AOF on. Sentinels announce 127.0.0.1
 * and do not resolve host names. Start one per test file and share it (flush() between tests).
 * Processes are watched like test/helpers/redis-server.ts (no orphan outlives the test run).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateServerArgs } from './redis-server.js';
import { hasOnlineReplica, infoField, redisCommand, redisText, startNode, stopOnFailure, waitFor } from './redis-node.js';
import type { RedisNode } from './redis-node.js';

export const SENTINEL_MASTER_NAME = 'tv';

export interface RedisSentinelOptions {
  /** `down-after-milliseconds`: how long a silent master has before the sentinels fail it over; default 5000. */
  downAfterMs?: number;
}

export interface RedisSentinelHandle {
  /** The name the sentinels monitor the master under. */
  readonly name: string;
  /** The two data servers (master and replica as started; roles change on failover). */
  readonly servers: readonly RedisNode[];
  readonly sentinels: readonly RedisNode[];
  /** `redis://127.0.0.1:<port>` of each sentinel, for `store.redis.nodes`. */
  readonly sentinelUrls: readonly string[];
  server(port: number): RedisNode;
  /** Port of the master as the sentinels report it now. */
  master(): Promise<number>;
  /** FLUSHALL on the master (the replica follows). */
  flush(): Promise<void>;
  /** Resolves once every running sentinel names one running master that has a synced replica, and sees the other sentinels. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisSentinel(opts: RedisSentinelOptions = {}): Promise<RedisSentinelHandle> {
  const root = await mkdtemp(join(tmpdir(), 'tv-sentinel-'));
  const dataArgs = (replicaOf?: number) => (port: number, dir: string) => [
    ...privateServerArgs(port, dir),
    '--appendfsync',
    'everysec',
    '--replica-announce-ip',
    '127.0.0.1',
    ...(replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(replicaOf)]),
  ];
  const nodes: RedisNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    const master = await startNode(root, 'redis-server', dataArgs());
    nodes.push(master);
    nodes.push(await startNode(root, 'redis-server', dataArgs(master.port)));
    const sentinelArgs = async (port: number, dir: string) => {
      const conf = join(dir, 'sentinel.conf');
      await writeFile(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          'sentinel resolve-hostnames no',
          'sentinel announce-ip 127.0.0.1',
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${opts.downAfterMs ?? 5000}`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 10000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
          '',
        ].join('\n'),
        { flag: 'wx' },
      ).catch((err: NodeJS.ErrnoException) => {
        // A restart keeps the file the sentinel rewrote (its view of the set).
        if (err.code !== 'EEXIST') throw err;
      });
      return [conf, '--loglevel', 'warning'];
    };
    for (let i = 0; i < 3; i++) nodes.push(await startNode(root, 'redis-sentinel', sentinelArgs));
  } catch (err) {
    await stop();
    throw err;
  }
  const servers = nodes.slice(0, 2);
  const sentinels = nodes.slice(2);
  const ask = async () => {
    const live = sentinels.find((s) => s.running);
    if (live === undefined) throw new Error('no sentinel running');
    const [, port] = (await redisCommand(live.port, 'sentinel', 'get-master-addr-by-name', SENTINEL_MASTER_NAME)) as string[];
    return Number(port);
  };
  const handle: RedisSentinelHandle = {
    name: SENTINEL_MASTER_NAME,
    servers,
    sentinels,
    sentinelUrls: sentinels.map((s) => `redis://127.0.0.1:${s.port}`),
    server(port) {
      const found = servers.find((n) => n.port === port);
      if (found === undefined) throw new Error(`no data server on port ${port}`);
      return found;
    },
    master: ask,
    async flush() {
      await redisCommand(await ask(), 'flushall');
    },
    async waitHealthy(timeoutMs = 30_000) {
      await waitFor('a healthy sentinel set', timeoutMs, async () => {
        const masterPort = await ask();
        if (!servers.some((s) => s.port === masterPort && s.running)) return false;
        if (infoField(await redisText(masterPort, 'info', 'replication'), 'role') !== 'master') return false;
        if (!(await hasOnlineReplica(masterPort))) return false;
        for (const s of sentinels.filter((n) => n.running)) {
          const fields = (await redisCommand(s.port, 'sentinel', 'master', SENTINEL_MASTER_NAME)) as string[];
          const value = (name: string) => fields[fields.indexOf(name) + 1];
          if (Number(value('port')) !== masterPort || value('flags') !== 'master') return false;
          if (Number(value('num-slaves')) < 1 || Number(value('num-other-sentinels')) < sentinels.filter((n) => n.running).length - 1) return false;
        }
        return true;
      });
    },
    stop,
  };
  await stopOnFailure(stop, () => handle.waitHealthy());
  return handle;
}
