/**
 * The `state` of a link in flight (RFC 6749 §10.12): a fresh random value that
 * keys the PKCE verifier and nonce, single use (the one-shot store's `take` is
 * one atomic GETDEL), bound to the browser session, the user and the provider
 * it was issued for, and dead after the configured lifetime (at most 10 min).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { OneShotStore } from '../store/session-store.js';
import { LinkError } from './errors.js';

/** The browser session a link belongs to (session.ts `ActiveSession` fits). */
export interface LinkSession {
  /** The session cookie's id: only its hash is stored with the state. */
  id: string;
  userId: string;
}

/** What the callback needs back from its request. */
export interface PendingLink {
  provider: string;
  codeVerifier: string;
  nonce?: string;
  /** The deep link's request, to show again (for Approve or Deny) after the link. */
  agent?: string;
  operation?: string;
  /** The scopes asked for, kept for a token response that does not list the granted ones (RFC 6749 §5.1). */
  scopes?: string[];
  /** A re-link for more scopes started by Approve: approve the request once the new grant exists. */
  approve?: true;
  /** A re-link for more scopes started by saving choices: save them once the new grant exists. */
  choices?: Array<{ agent: string; operation: string }>;
}

interface StoredLink extends PendingLink {
  /** SHA-256 of the session id: the state is bound to this browser session without storing the id. */
  session: string;
  userId: string;
  /** Absent on states saved before it was recorded; the store's TTL bounds those. */
  expiresAt?: number;
}

const KEY_PREFIX = 'link:';
const sessionHash = (session: LinkSession) => createHash('sha256').update(session.id).digest('base64url');

export class LinkStates {
  constructor(
    private readonly oneShot: OneShotStore,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new state value; nothing is stored until `save`, so a failed authorization URL leaves nothing behind. */
  static newState(): string {
    return randomBytes(32).toString('base64url');
  }

  async save(state: string, session: LinkSession, pending: PendingLink): Promise<void> {
    const stored: StoredLink = { ...pending, session: sessionHash(session), userId: session.userId, expiresAt: this.now() + this.ttlMs };
    await this.oneShot.put(KEY_PREFIX + state, JSON.stringify(stored), this.ttlMs);
  }

  /**
   * Take the state (gone afterwards, whatever the outcome: a state shown to the
   * wrong session is burnt) and check that it belongs to this session, user
   * and provider.
   */
  async take(state: string, session: LinkSession, providerId: string): Promise<PendingLink> {
    const raw = await this.oneShot.take(KEY_PREFIX + state);
    if (raw === null) throw new LinkError('TV_LINK_STATE_INVALID');
    const { session: boundTo, userId, expiresAt, ...pending } = JSON.parse(raw) as StoredLink;
    // The store's TTL already drops it; the recorded lifetime also holds where a store keeps keys a little longer.
    if (expiresAt !== undefined && this.now() >= expiresAt) throw new LinkError('TV_LINK_STATE_EXPIRED');
    if (boundTo !== sessionHash(session) || userId !== session.userId) throw new LinkError('TV_LINK_STATE_OTHER_SESSION', 'link state from another session');
    // Mix-up defence: the answer must arrive on the callback of the provider the request went to.
    if (pending.provider !== providerId) throw new LinkError('TV_LINK_STATE_OTHER_PROVIDER');
    return pending;
  }
}
