/**
 * `WAIT numreplicas timeout` after the writes that must survive a failover (a rotated refresh
 * token, the audit record of a release): a write the primary acknowledged but no replica has
 * received is lost when a replica is promoted, so nothing derived from it is released before
 * `minReplicasAck` replicas have it. Not acknowledged in time = StoreUnavailableError (503).
 *
 * WAIT covers every earlier write of the same connection and blocks that connection while it
 * waits, so concurrent callers share one: a caller joins the WAIT queued behind the one in flight
 * (sent after its own write), never more than two per connection, so a replica that stops
 * answering holds the connection for at most about two timeouts, not one per request.
 */
import { Cluster, Command, type Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';

export interface ReplicaAck {
  /** Replicas that must acknowledge; 0 turns WAIT off. */
  replicas: number;
  timeoutMs: number;
}

export class ReplicaWaiter {
  #inflight: Promise<number> | undefined;
  #next: Promise<number> | undefined;

  constructor(
    private readonly redis: Pick<Redis, 'wait'>,
    private readonly ack: ReplicaAck,
  ) {}

  get enabled(): boolean {
    return this.ack.replicas > 0;
  }

  /** Resolves once `ack.replicas` replicas hold every write this connection sent before the call. */
  async replicated(): Promise<void> {
    if (!this.enabled) return;
    const acked = await this.#join();
    if (acked < this.ack.replicas) throw new StoreUnavailableError('write not acknowledged by enough replicas');
  }

  #join(): Promise<number> {
    if (this.#inflight === undefined) return (this.#inflight = this.#send());
    this.#next ??= this.#inflight.then(
      () => this.#promoteNext(),
      () => this.#promoteNext(),
    );
    return this.#next;
  }

  #promoteNext(): Promise<number> {
    this.#next = undefined;
    return (this.#inflight = this.#send());
  }

  #send(): Promise<number> {
    const sent = this.redis.wait(this.ack.replicas, this.ack.timeoutMs);
    const done = () => {
      if (this.#inflight === sent) this.#inflight = undefined;
    };
    sent.then(done, done);
    return sent;
  }
}

/** One ReplicaWaiter per connection that writes reach: the one server, or each Cluster master. */
export class ReplicaWaiters {
  readonly #one: ReplicaWaiter | undefined;
  readonly #perNode = new WeakMap<Redis, ReplicaWaiter>();

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly ack: ReplicaAck,
  ) {
    if (!(redis instanceof Cluster)) this.#one = new ReplicaWaiter(redis, ack);
  }

  get enabled(): boolean {
    return this.ack.replicas > 0;
  }

  /** Resolves once `ack.replicas` replicas of the master owning `key` hold every write sent to it before the call. */
  async replicated(key: string): Promise<void> {
    if (!this.enabled) return;
    if (this.#one !== undefined) return this.#one.replicated();
    const node = this.#masterOf(key);
    let waiter = this.#perNode.get(node);
    if (waiter === undefined) this.#perNode.set(node, (waiter = new ReplicaWaiter(node, this.ack)));
    return waiter.replicated();
  }

  /** The connection ioredis routes `key` to: the first node of its slot in the client's slot map. */
  #masterOf(key: string): Redis {
    const cluster = this.redis as Cluster;
    // The slot as ioredis computes it for routing (hash tag included), from the same code.
    const slot = new Command('exists', [key]).getSlot();
    const owner = slot === null ? undefined : cluster.slots[slot]?.[0];
    const node = owner === undefined ? undefined : cluster.nodes('master').find((n) => nodeKey(n) === owner);
    if (node === undefined) throw new StoreUnavailableError('no master known for the slot of a replicated write');
    return node;
  }
}

/** ioredis's node key (`host:port`, cluster/util.js getNodeKey) of a node connection. */
function nodeKey(node: Redis): string {
  return `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`;
}
