/** Failed upstream RFC 7009 revocations, retried by grants/revocation-worker.ts. */
/** An upstream RFC 7009 revocation that failed and is retried later. */
export interface PendingRevocation {
  id: string;
  provider: string;
  /** The grant the token belonged to: the AAD of `token` (it may be deleted since). */
  grantId: string;
  userId: string;
  /** Envelope ciphertext of the token, sealed to the grant (grants/secrets.ts). */
  token: string;
  hint: 'refresh_token' | 'access_token';
  attempts: number;
  /** Epoch ms of the next attempt. */
  nextAttemptAt: number;
  createdAt: number;
  /** Short non-secret reason of the last failure. */
  lastError?: string;
}

export interface RevocationQueue {
  /** Add (or replace) an item. */
  enqueue(item: PendingRevocation): Promise<void>;
  /**
   * Items due at `now`, at most `limit`, each leased for `leaseMs` in the same atomic
   * step (its next attempt moves to now + leaseMs), so two workers never retry one item at once.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<PendingRevocation[]>;
  /** Record a failed attempt: new attempt count, next attempt time and reason. */
  reschedule(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void>;
  /** Remove an item (revoked upstream, or given up). */
  complete(id: string): Promise<void>;
  /** Every pending item, soonest first (admin views and tests). */
  list(): Promise<PendingRevocation[]>;
}
