import type { RedisClient } from './client.js';
import type { KillSwitchEvents } from '../kill-switch-store.js';

/**
 * Redis pub/sub for kill-switch changes. Subscribing needs a connection of its
 * own (a subscribed connection can run nothing else); it is opened on first
 * use (`openSubscriber`) and closed with the stores. Messages carry only the epoch.
 *
 * On Cluster the channel is sharded (`SPUBLISH`/`SSUBSCRIBE`, Redis 7): it lives in the slot of
 * its `{ks}` tag, so an announcement travels only within the shard that holds the epoch instead
 * of being broadcast over the whole cluster bus, and it follows that shard through a failover.
 */
export class RedisKillSwitchEvents implements KillSwitchEvents {
  #subscriber: RedisClient | undefined;
  readonly #listeners = new Set<(epoch: number) => void>();

  constructor(
    private readonly redis: RedisClient,
    private readonly channel: string,
    private readonly openSubscriber: () => RedisClient,
    private readonly sharded: boolean,
  ) {}

  async publish(epoch: number): Promise<void> {
    if (this.sharded) await this.redis.spublish(this.channel, String(epoch));
    else await this.redis.publish(this.channel, String(epoch));
  }

  async subscribe(listener: (epoch: number) => void): Promise<() => Promise<void>> {
    if (this.#subscriber === undefined) {
      const sub = this.openSubscriber();
      sub.on('error', () => {});
      sub.on(this.sharded ? 'smessage' : 'message', (channel: string, message: string) => {
        if (channel !== this.channel) return;
        const epoch = Number(message);
        if (!Number.isSafeInteger(epoch)) return;
        for (const l of this.#listeners) l(epoch);
      });
      this.#subscriber = sub;
      if (this.sharded) await sub.ssubscribe(this.channel);
      else await sub.subscribe(this.channel);
    }
    this.#listeners.add(listener);
    return async () => {
      this.#listeners.delete(listener);
    };
  }

  /** The subscriber connection, for tests that cut the fast path. */
  get subscriber(): RedisClient | undefined {
    return this.#subscriber;
  }

  close(): void {
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
    this.#listeners.clear();
  }
}

/** `CLIENT SETNAME` of a replica's kill-switch subscriber: unique per process. */
export function subscriberName(pid = process.pid): string {
  return `token-vault:kill-switch-events:${pid}`;
}
