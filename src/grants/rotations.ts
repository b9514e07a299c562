/**
 * Rotated refresh tokens from the provider's answer until the store holds them.
 *
 * A provider that rotates has spent the old refresh token the moment it answered (RFC 6749 §6;
 * reuse detection, RFC 9700 §4.14.2, revokes the whole grant when the old one comes back). So the
 * new one is never dropped: it is written, sealed under its own AAD, to the local spool
 * (src/store/rotation-spool.ts) while the compare-and-set commit is tried; if the store does not
 * answer, it stays in memory and on disk, the refresh lock stays with it (extended on every retry:
 * a lease that lapsed during a long outage is still this holder's, peers wait a grace before taking
 * it, src/store/redis/lock-scripts.ts, so no other process presents the spent refresh token),
 * callers get 503, and the commit is retried until the store answers. Meanwhile
 * no refresh of that grant starts in this process (`has`), and nothing derived from the new token
 * is released before the commit and its audit record land. A restarted process replays the spool
 * before it serves.
 */
import type { Envelope } from '../crypto/envelope.js';
import { detached } from '../store/budget.js';
import { StoreUnavailableError } from '../store/errors.js';
import type { Grant, GrantStore } from '../store/grant-store.js';
import type { LockStore } from '../store/lock-store.js';
import type { RotationSpool, SpooledRotation } from '../store/rotation-spool.js';
import { openRefreshToken, openSpooledRefreshToken, sealRefreshToken, sealSpooledRefreshToken, type GrantRef } from './secrets.js';

/** The refresh lock the rotation was answered under; the rotation releases it once persisted. */
export interface LockHold {
  name: string;
  owner: string;
  ttlMs: number;
  /** Set when the rotation keeps the lock past the caller's return (persisted later). */
  handedOver?: boolean;
}

export interface RotationRequest {
  grant: GrantRef & Pick<Grant, 'version'>;
  refreshToken: string;
  lock?: LockHold;
  /** Runs once the commit landed, when it lands later than the caller's own attempt; retried until it resolves (audit, cache). */
  afterPersist: (version: number) => Promise<void>;
}

export type RotationResult = { state: 'committed'; version: number } | { state: 'lost_race' } | { state: 'pending' };

export interface RotationsOptions {
  grants: Pick<GrantStore, 'commitRefresh' | 'get' | 'replicated'>;
  locks: LockStore;
  envelope: Envelope;
  spool: RotationSpool;
  /** Audit of a rotation replayed from the spool, once persisted. */
  replayed: (grant: GrantRef) => Promise<void>;
  /** What could not be done (a spool write or a file that does not open): names ids, never secrets. */
  problem?: (what: string, grantId?: string) => void;
  retryMs?: number;
}

interface Pending extends RotationRequest {
  sealed: string;
  spooled: Promise<unknown>;
}

export class Rotations {
  readonly #pending = new Map<string, Pending>();
  readonly #work = new Set<Promise<unknown>>();
  readonly #retryMs: number;
  readonly #wakers = new Set<() => void>();
  #closed = false;

  constructor(private readonly opts: RotationsOptions) {
    this.#retryMs = opts.retryMs ?? 50;
  }

  /** A rotation of this grant is not yet persisted: its stored refresh token is spent, so no refresh may start. */
  has(grantId: string): boolean {
    return this.#pending.has(grantId);
  }

  /** How many rotations wait for the store (metrics, tests). */
  get size(): number {
    return this.#pending.size;
  }

  /** Spools the new refresh token and commits it; `pending` when the store did not answer (retried in the background). */
  async commit(request: RotationRequest): Promise<RotationResult> {
    const { grant, refreshToken } = request;
    const entry: Pending = { ...request, sealed: sealRefreshToken(this.opts.envelope, grant, refreshToken), spooled: Promise.resolve() };
    entry.spooled = this.#track(this.opts.spool.write(this.#spoolEntry(entry)));
    // Not yet `has()`: concurrent callers of this process are behind the same single flight.
    try {
      const version = await this.#tryCommit(entry);
      this.#forget(entry);
      return version === null ? { state: 'lost_race' } : { state: 'committed', version };
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) {
        this.#forget(entry);
        throw err;
      }
    }
    this.#pending.set(grant.id, entry);
    if (request.lock) request.lock.handedOver = true;
    // On disk before the caller's 503 leaves: from here the process may be stopped at any time.
    // A failed spool write is reported (#track); the token is still kept and retried from memory.
    await entry.spooled.catch(() => {});
    // Retried for as long as it takes, not within the budget of the request that met the outage.
    this.#track(detached(() => this.#persist(entry)));
    return { state: 'pending' };
  }

  /** Loads the spool (before serving) and persists every entry in the background. Returns the problems. */
  async replay(): Promise<string[]> {
    const { entries, problems } = await this.opts.spool.readAll();
    for (const spooled of entries) {
      const grant = { id: spooled.grantId, userId: spooled.userId, provider: spooled.provider, version: spooled.baseVersion };
      let refreshToken: string;
      try {
        refreshToken = openSpooledRefreshToken(this.opts.envelope, grant, spooled.baseVersion, spooled.sealed);
      } catch {
        problems.push(`spooled rotation of grant ${spooled.grantId} does not open`);
        continue;
      }
      const entry: Pending = {
        grant,
        refreshToken,
        ...(spooled.lock && { lock: spooled.lock }),
        sealed: sealRefreshToken(this.opts.envelope, grant, refreshToken),
        spooled: Promise.resolve(),
        afterPersist: () => this.opts.replayed(grant),
      };
      this.#pending.set(grant.id, entry);
      this.#track(this.#persist(entry));
    }
    for (const p of problems) this.opts.problem?.(p);
    return problems;
  }

  /** Retries now instead of at the next tick (the store reconnected). */
  retryNow(): void {
    for (const wake of this.#wakers) wake();
  }

  /** Resolves when no rotation is pending (tests, benches), or rejects after `withinMs`. */
  async settled(withinMs = 30_000): Promise<void> {
    const deadline = performance.now() + withinMs;
    while (this.#pending.size > 0) {
      if (performance.now() > deadline) throw new StoreUnavailableError('rotations still pending');
      await sleep(this.#retryMs);
    }
    await Promise.allSettled([...this.#work]);
  }

  /** Shutdown: every spool write has landed (a pending rotation is on disk, replayed at the next start); retries stop. */
  async close(): Promise<void> {
    this.#closed = true;
    this.retryNow();
    await Promise.allSettled([...this.#pending.values()].map((p) => p.spooled));
    await Promise.allSettled([...this.#work]);
  }

  async #persist(entry: Pending): Promise<void> {
    const { grant, lock } = entry;
    let committed: number | null | undefined;
    while (!this.#closed) {
      try {
        // First, on every retry: the first answer of a store that comes back keeps the lease ours.
        if (lock) void this.opts.locks.extend(lock.name, lock.owner, lock.ttlMs).catch(() => false);
        committed ??= await this.#tryCommit(entry);
        if (committed === null) {
          // The grant moved on without this token (deleted, re-linked, parked): nothing left to keep.
          this.opts.problem?.('rotated refresh token superseded before it was persisted', grant.id);
        } else {
          await entry.afterPersist(committed);
        }
        this.#forget(entry);
        if (lock) await this.opts.locks.release(lock.name, lock.owner).catch(() => false);
        return;
      } catch {
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            this.#wakers.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, this.#retryMs);
          this.#wakers.add(wake);
        });
      }
    }
  }

  /** The new version, or null when the compare-and-set refused and the grant does not hold this token. */
  async #tryCommit(entry: Pending): Promise<number | null> {
    const version = await this.#findCommit(entry);
    // Held by enough replicas (`store.redis.minReplicasAck`) before it counts: else a failover could lose it.
    if (version !== null) await this.opts.grants.replicated(entry.grant.id);
    return version;
  }

  async #findCommit(entry: Pending): Promise<number | null> {
    const { grant } = entry;
    const version = await this.opts.grants.commitRefresh(grant.id, grant.version, entry.sealed);
    if (version !== null) return version;
    // An earlier attempt whose answer was lost may have landed (a rewrap may have re-sealed it since).
    const current = await this.opts.grants.get(grant.id);
    if (current === null || current.refreshToken === entry.sealed) return current?.version ?? null;
    try {
      return openRefreshToken(this.opts.envelope, current) === entry.refreshToken ? current.version : null;
    } catch {
      return null;
    }
  }

  #forget(entry: Pending): void {
    if (this.#pending.get(entry.grant.id) === entry) this.#pending.delete(entry.grant.id);
    const { id } = entry.grant;
    this.#track(entry.spooled.then(() => this.opts.spool.remove(id)));
  }

  #spoolEntry(entry: Pending): SpooledRotation {
    const { grant } = entry;
    const sealed = sealSpooledRefreshToken(this.opts.envelope, grant, grant.version, entry.refreshToken);
    const lock = entry.lock && { name: entry.lock.name, owner: entry.lock.owner, ttlMs: entry.lock.ttlMs };
    return { grantId: grant.id, userId: grant.userId, provider: grant.provider, baseVersion: grant.version, sealed, ...(lock && { lock }) };
  }

  #track<T>(work: Promise<T>): Promise<T> {
    const tracked = work.catch((err: unknown) => {
      this.opts.problem?.(`rotation spool: ${err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.name) : 'unknown'}`);
    });
    this.#work.add(tracked);
    void tracked.finally(() => this.#work.delete(tracked));
    return work;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
