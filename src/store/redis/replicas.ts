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
import type { Redis } from 'ioredis';
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
