/**
 * Which grant an exchange uses, and whether this agent may do this operation
 * with it. Effective permission = admin ceiling ∩ user consent − kill switches
 * (DESIGN: Grants and consent).
 */
import { AccessDenied, ConsentRequired, InvalidScope, assert } from '../errors.js';
import { consentLink } from '../grants/consent-link.js';
import type { Operation, ProviderCatalog } from '../providers/catalog.js';
import type { Grant, GrantStore } from '../store/types.js';

const STATUS_PREFERENCE = { active: 0, consent_required: 1, revoked: 2 } as const;

export class GrantPolicy {
  constructor(
    private readonly grants: GrantStore,
    private readonly catalog: ProviderCatalog,
    private readonly publicUrl: string,
  ) {}

  /** Admin ceiling: may this agent ever perform this operation? */
  assertCeiling(agent: string, operation: Operation): void {
    assert(this.catalog.ceilingAllows(agent, operation.name), new InvalidScope('operation not permitted for this agent'));
  }

  consentUri(provider: string, agent?: string, operation?: string): string {
    return consentLink(this.publicUrl, provider, agent, operation);
  }

  /**
   * The user's grant for the provider. A named grant (`identifier`) that is
   * missing or belongs to someone else gets one identical `access_denied`.
   */
  async select(userId: string, agent: string, operation: Operation, grantId?: string): Promise<Grant> {
    const link = () => this.consentUri(operation.provider, agent, operation.name);
    let grant: Grant | undefined;
    if (grantId !== undefined) {
      const named = await this.grants.get(grantId);
      assert(named && named.userId === userId && named.provider === operation.provider, new AccessDenied('no such grant for this user'));
      grant = named;
    } else {
      const mine = (await this.grants.listByUser(userId)).filter((g) => g.provider === operation.provider);
      mine.sort((a, b) => STATUS_PREFERENCE[a.status] - STATUS_PREFERENCE[b.status] || b.updatedAt - a.updatedAt);
      grant = mine[0];
      assert(grant, new ConsentRequired(link(), 'no grant for this provider'));
    }
    assert(grant.status !== 'revoked', new AccessDenied('grant revoked'));
    assert(grant.status === 'active', new ConsentRequired(link(), 'grant needs re-consent'));
    assert(grant.consent[agent]?.includes(operation.name), new ConsentRequired(link(), 'operation not consented for this agent'));
    return grant;
  }
}
