/**
 * Retries upstream RFC 7009 revocations that failed at unlink or re-link.
 * Never gives up on its own: an unrevoked refresh token at the provider is a
 * live credential, so the delay grows (doubling, capped) but attempts go on
 * until the provider confirms. Several replicas may run it: claims are leased.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { AuditWriter } from '../audit/events.js';
import type { Envelope } from '../crypto/envelope.js';
import { openRefreshToken } from './secrets.js';
import { UpstreamFailure, UpstreamInvalidGrant, type UpstreamOAuth } from '../providers/upstream-oauth.js';
import type { PendingRevocation } from '../store/revocation-queue.js';
import type { Stores } from '../store/stores.js';

export interface RevocationWorkerDeps {
  stores: Stores;
  envelope: Envelope;
  upstream: UpstreamOAuth;
  audit: AuditWriter;
  log: FastifyBaseLogger;
  intervalMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  now?: () => number;
}

export interface RevocationWorker {
  start(): void;
  /** Process every due item once; resolves with how many were confirmed revoked. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

const BATCH = 20;
/** Long enough for one attempt of each item in a batch (provider timeouts are ≤ 30 s). */
const LEASE_MS = 5 * 60_000;

export function createRevocationWorker(deps: RevocationWorkerDeps): RevocationWorker {
  const now = deps.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  async function attempt(item: PendingRevocation): Promise<boolean> {
    const { stores, envelope, upstream, audit, log } = deps;
    let failure: string | undefined;
    try {
      const token = openRefreshToken(envelope, { id: item.grantId, userId: item.userId, provider: item.provider, refreshToken: item.token });
      await upstream.revoke(item.provider, token, item.hint);
    } catch (err) {
      if (!(err instanceof UpstreamInvalidGrant)) failure = err instanceof UpstreamFailure ? err.reason : 'error';
    }
    if (failure !== undefined) {
      const attempts = item.attempts + 1;
      const delay = Math.min(deps.baseDelayMs * 2 ** (attempts - 1), deps.maxDelayMs);
      await stores.revocations.reschedule(item.id, attempts, now() + delay, failure);
      log.warn({ revocation: item.id, provider: item.provider, grant: item.grantId, attempts, reason: failure }, 'upstream revocation failed; will retry');
      return false;
    }
    await audit.record({
      action: 'upstream.revoke',
      decision: 'allow',
      user: item.userId,
      provider: item.provider,
      grant: item.grantId,
      reason: 'revoked_on_retry',
      details: { attempts: item.attempts + 1 },
    });
    await stores.revocations.complete(item.id);
    const grant = await stores.grants.get(item.grantId);
    if (grant?.status === 'revoked' && grant.refreshToken === item.token) await stores.grants.delete(grant.id);
    return true;
  }

  async function runOnce(): Promise<number> {
    const items = await deps.stores.revocations.claimDue(now(), BATCH, LEASE_MS);
    let done = 0;
    for (const item of items) {
      try {
        if (await attempt(item)) done += 1;
      } catch (err) {
        // Store or audit unavailable: the lease runs out and the item comes back.
        deps.log.error({ revocation: item.id, err: { type: (err as Error).name } }, 'revocation retry could not be recorded');
      }
    }
    return done;
  }

  const tick = () => {
    running ??= runOnce()
      .catch((err: unknown) => {
        deps.log.error({ err: { type: (err as Error).name } }, 'revocation retry pass failed');
        return 0;
      })
      .finally(() => (running = undefined));
  };

  return {
    start() {
      timer ??= setInterval(tick, deps.intervalMs);
      timer.unref();
    },
    runOnce,
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
