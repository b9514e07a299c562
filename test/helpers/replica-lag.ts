/**
 * A replica that falls behind its master, deterministically: its replication link is cut and it
 * cannot come back (it presents a `masterauth` the master refuses, so every resync attempt fails),
 * while the replica itself keeps running and stays eligible for promotion (Sentinel and Cluster
 * skip only replicas disconnected for about ten detection periods). Whatever the master writes
 * meanwhile exists on the master only: a `kill -9` of the master then loses it, as a slow or
 * partitioned replica would in production. A paused process (SIGSTOP, `DEBUG SLEEP`) would not do:
 * the kernel keeps buffering the replication stream and the replica applies it when it wakes.
 */
import { infoField, redisCommand, redisText, waitFor } from './redis-node.js';

export interface LaggingReplica {
  readonly port: number;
  /** Lets the replica replicate again (from whichever master it is told to follow). */
  restore(): Promise<void>;
}

/** The port of the (first) replica the master on `masterPort` streams to. */
export async function replicaOf(masterPort: number): Promise<number> {
  const line = infoField(await redisText(masterPort, 'info', 'replication'), 'slave0');
  const port = /port=(\d+)/.exec(line ?? '')?.[1];
  if (port === undefined) throw new Error(`the master on ${masterPort} has no replica`);
  return Number(port);
}

/** Cuts the link of the master's replica; resolves once the master streams to no replica. */
export async function cutReplication(masterPort: number): Promise<LaggingReplica> {
  const port = await replicaOf(masterPort);
  await redisCommand(port, 'config', 'set', 'masterauth', 'refused-by-the-master');
  await redisCommand(port, 'client', 'kill', 'type', 'master');
  await waitFor(
    'the replica to drop off its master',
    10_000,
    async () => infoField(await redisText(masterPort, 'info', 'replication'), 'connected_slaves') === '0',
  );
  return {
    port,
    async restore() {
      await redisCommand(port, 'config', 'set', 'masterauth', '');
    },
  };
}

/** Resolves once the master's replica has applied everything the master wrote so far. */
export async function caughtUp(masterPort: number): Promise<void> {
  const replica = await replicaOf(masterPort);
  const offset = async (port: number) => Number(infoField(await redisText(port, 'info', 'replication'), 'master_repl_offset'));
  const target = await offset(masterPort);
  await waitFor('the replica to catch up', 10_000, async () => (await offset(replica)) >= target);
}
