/**
 * Which grant an exchange uses, and whether this agent may do this operation
 * with it. Effective permission = admin ceiling ∩ user consent − kill switches
 * (docs/architecture.md#grants-and-consent).
 */
import { AccessDenied, ConsentRequired, InvalidScope, assert } from '../errors.js';
import { consentLink } from './consent-link.js';
import type { Operation, ProviderCatalog } from '../providers/catalog.js';
import type { Grant, GrantStore } from '../store/grant-store.js';

const STATUS_PREFERENCE = { active: 0, consent_required: 1, integrity_error: 2, revoked: 3 } as const;

/** How long the (user, provider) → grant id hint is trusted before the user's index is read again. */
const HINT_TTL_MS = 10_000;
const MAX_HINTS = 50_000;

export class GrantPolicy {
  /**
   * Which grant a (user, provider) resolved to last time. Only a hint: the grant
   * itself is always read fresh, and a hint whose grant is gone, foreign or not
   * active falls back to the user's index, so status and consent are never stale.
   */
  readonly #hints = new Map<string, { grantId: string; until: number }>();

  constructor(
    private readonly grants: GrantStore,
    private readonly catalog: ProviderCatalog,
    private readonly publicUrl: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Admin ceiling: may this agent ever perform this operation? */
  assertCeiling(agent: string, operation: Operation): void {
    if (!this.catalog.ceilingAllows(agent, operation.name))
      throw new InvalidScope('operation not permitted for this agent').because('operation is not permitted for this agent');
  }

  consentUri(provider: string, agent?: string, operation?: string): string {
    return consentLink(this.publicUrl, provider, agent, operation);
  }

  /**
   * The user's grant for the provider. A named grant (`identifier`) that is
   * missing or belongs to someone else gets one identical `access_denied`.
   */
  async select(userId: string, agent: string, operation: Operation, grantId?: string): Promise<Grant> {
    return (await this.selectWith(userId, agent, operation, grantId)).grant;
  }

  /**
   * select(), plus a read of the same grant's other keys started right behind the
   * first grant read when the grant id is known without a read (named, or a live
   * hint), so both leave in one auto-pipelined write and Redis runs them in that
   * order. Its result is handed back only when that first read is the grant
   * selected, so it always ran after the grant was read; otherwise it is dropped,
   * so its promise must handle its own rejection.
   */
  async selectWith<T>(
    userId: string,
    agent: string,
    operation: Operation,
    grantId?: string,
    alongside?: (grantId: string) => Promise<T>,
    /** Told the user's own grant once it is known, before its status and consent are judged (audit of denials). */
    onOwnGrant?: (grant: Grant) => void,
  ): Promise<{ grant: Grant; alongside?: Promise<T> }> {
    const link = () => this.consentUri(operation.provider, agent, operation.name);
    const first = grantId ?? this.#hint(userId, operation.provider);
    const reading = first === undefined ? undefined : this.grants.get(first);
    const early = first === undefined ? undefined : alongside?.(first);
    let grant: Grant | null | undefined = await reading;
    let firstRead = true;
    if (grantId !== undefined) {
      assert(grant && grant.userId === userId && grant.provider === operation.provider, () =>
        new AccessDenied('no such grant for this user').because('no such grant for this user'),
      );
    } else if (!(grant && grant.userId === userId && grant.provider === operation.provider && grant.status === 'active')) {
      // No hint, or a stale one: the user's index decides, and the grant it names is read again.
      firstRead = false;
      grant = await this.#fromIndex(userId, operation.provider);
      if (!grant) throw new ConsentRequired(link(), 'no grant for this provider').because('user has not linked this provider');
    }
    onOwnGrant?.(grant);
    if (grant.status === 'revoked') throw new AccessDenied('grant revoked').because('grant is revoked');
    if (grant.status !== 'active') throw new ConsentRequired(link(), 'grant needs re-consent').because('grant needs re-consent');
    if (!grant.consent[agent]?.includes(operation.name))
      throw new ConsentRequired(link(), 'operation not consented for this agent').because('operation is not consented for this agent');
    return early !== undefined && firstRead ? { grant, alongside: early } : { grant };
  }

  #hint(userId: string, provider: string): string | undefined {
    const hint = this.#hints.get(`${provider}\n${userId}`);
    return hint && hint.until > this.now() ? hint.grantId : undefined;
  }

  async #fromIndex(userId: string, provider: string): Promise<Grant | undefined> {
    const mine = (await this.grants.listByUser(userId)).filter((g) => g.provider === provider);
    mine.sort((a, b) => STATUS_PREFERENCE[a.status] - STATUS_PREFERENCE[b.status] || b.updatedAt - a.updatedAt);
    const grant = mine[0];
    const key = `${provider}\n${userId}`;
    this.#hints.delete(key);
    if (grant?.status === 'active') {
      if (this.#hints.size >= MAX_HINTS) this.#hints.delete(this.#hints.keys().next().value!);
      this.#hints.set(key, { grantId: grant.id, until: this.now() + HINT_TTL_MS });
    }
    return grant;
  }
}
