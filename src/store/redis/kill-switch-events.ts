import type { Redis } from 'ioredis';
import type { KillSwitchEvents } from '../kill-switch-store.js';

/**
 * Redis pub/sub for kill-switch changes. Subscribing needs a connection of its
 * own (a subscribed connection can run nothing else); it is opened on first
 * use and closed with the stores. Messages carry only the epoch.
 */
export class RedisKillSwitchEvents implements KillSwitchEvents {
  #subscriber: Redis | undefined;
  readonly #listeners = new Set<(epoch: number) => void>();

  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
  ) {}

  async publish(epoch: number): Promise<void> {
    await this.redis.publish(this.channel, String(epoch));
  }

  async subscribe(listener: (epoch: number) => void): Promise<() => Promise<void>> {
    if (this.#subscriber === undefined) {
      // Unlike commands, a subscription should come back by itself after a reconnect. The name
      // tells operators (and tests) in CLIENT LIST which replica's subscriber a connection is.
      const sub = this.redis.duplicate({ enableOfflineQueue: true, autoResubscribe: true, connectionName: subscriberName() });
      sub.on('error', () => {});
      sub.on('message', (channel: string, message: string) => {
        if (channel !== this.channel) return;
        const epoch = Number(message);
        if (!Number.isSafeInteger(epoch)) return;
        for (const l of this.#listeners) l(epoch);
      });
      this.#subscriber = sub;
      await sub.subscribe(this.channel);
    }
    this.#listeners.add(listener);
    return async () => {
      this.#listeners.delete(listener);
    };
  }

  /** The subscriber connection, for tests that cut the fast path. */
  get subscriber(): Redis | undefined {
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
