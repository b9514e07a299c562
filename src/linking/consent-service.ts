/**
 * What the connections pages read and change besides linking: a user's
 * grants with their agents and recent uses, consent within the admin ceiling,
 * withdrawing one agent's consent, and unlinking with RFC 7009 revocation
 * upstream. A grant is found only through its owner and provider, with one
 * answer for a missing and a foreign grant. Every change is audited before it
 * is made. Failures are LinkErrors (errors.ts).
 */
import type { AuditWriter } from '../audit/events.js';
import type { Actor, GrantRetirement, RevocationOutcome } from '../grants/retire.js';
import type { Agent, Operation, Provider, ProviderCatalog } from '../providers/catalog.js';
import type { Grant, GrantTombstone } from '../store/grant-store.js';
import type { Stores } from '../store/stores.js';
import { agentsFor, askedFor, missingScopes } from './ceiling.js';
import { LinkError } from './errors.js';
import { consentedAgents, recentUses, type AgentAccess, type GrantUse } from './grant-history.js';

export interface ConsentServiceDeps {
  stores: Stores;
  catalog: ProviderCatalog;
  audit: AuditWriter;
  /** Retires a grant: shared with re-linking and the admin API's revocation. */
  retirement: GrantRetirement;
}

/** One ticked box of the consent form. */
export interface ConsentChoice {
  agent: string;
  operation: string;
}

/** One provider as its page shows it to the signed-in user. */
export interface ProviderView {
  provider: Provider;
  grants: Grant[];
  agents: Array<{ agent: Agent; operations: Operation[] }>;
  /** Per grant id: the agents holding consent and the recent uses. */
  activity: Map<string, { agents: AgentAccess[]; uses: GrantUse[] }>;
  /** The deep link's request, when it lies inside the admin ceiling. */
  request?: ConsentAsk;
  /** This user's tombstones of this provider (retired grants, no secret). */
  tombstones: GrantTombstone[];
}

/** A deep link's request as the page offers it for Approve or Deny. */
export interface ConsentAsk {
  agent: Agent;
  operation: Operation;
  /** The live grant Approve adds it to (the most recently changed one), when there is one. */
  grant?: Grant;
  /** The agent may already do this on that grant. */
  granted: boolean;
  /** Scopes that grant lacks for it: approving links again to ask for them. */
  missingScopes: string[];
}

/** What a consent change did: `needs_scopes` changed nothing, the grant must be linked again with more scopes first. */
export type ConsentOutcome = 'saved' | 'unchanged' | 'needs_scopes';

export class ConsentService {
  constructor(private readonly deps: ConsentServiceDeps) {}

  provider(id: string): Provider {
    const provider = this.deps.catalog.provider(id);
    if (!provider) throw new LinkError('TV_LINK_UNKNOWN_PROVIDER');
    return provider;
  }

  /** Every configured provider with this user's grants of it. */
  async connections(userId: string): Promise<Array<{ provider: Provider; grants: Grant[]; tombstones: GrantTombstone[] }>> {
    const [grants, tombstones] = await Promise.all([this.deps.stores.grants.listByUser(userId), this.deps.stores.grants.tombstonesByUser(userId)]);
    return this.deps.catalog.list().map((provider) => ({
      provider,
      grants: grants.filter((g) => g.provider === provider.id),
      tombstones: tombstones.filter((t) => t.provider === provider.id),
    }));
  }

  async providerView(userId: string, providerId: string, request: { agent?: string | undefined; operation?: string | undefined } = {}): Promise<ProviderView> {
    const { stores, catalog } = this.deps;
    const provider = this.provider(providerId);
    const grants = (await stores.grants.listByUser(userId)).filter((g) => g.provider === provider.id);
    // Only the signed-in user's own grants are listed, so only their history is read.
    const activity = new Map(
      await Promise.all(grants.map(async (g) => [g.id, { agents: consentedAgents(g, catalog), uses: await recentUses(stores.audit, catalog, g) }] as const)),
    );
    const asked = askedFor(catalog, provider.id, request.agent, request.operation);
    const target = grants.filter((g) => g.status !== 'revoked').sort((a, b) => b.updatedAt - a.updatedAt)[0];
    const ask: ConsentAsk | undefined = asked && {
      ...asked,
      ...(target ? { grant: target } : {}),
      granted: target?.consent[asked.agent.id]?.includes(asked.operation.name) ?? false,
      missingScopes: target ? missingScopes(target, [asked.operation]) : [],
    };
    const tombstones = (await stores.grants.tombstonesByUser(userId)).filter((t) => t.provider === provider.id);
    return { provider, grants, agents: agentsFor(catalog, provider.id), activity, tombstones, ...(ask ? { request: ask } : {}) };
  }

  /** A grant of this user and provider, for the unlink confirmation. */
  async grantOf(userId: string, providerId: string, grantId: string): Promise<Grant> {
    return this.ownGrant({ userId, requestId: '' }, providerId, grantId);
  }

  /**
   * Approve a deep link's request: add exactly that operation for that agent,
   * audited before the change. Nothing changes when the grant lacks the
   * operation's upstream scopes (`needs_scopes`: link again first).
   */
  async approve(actor: Actor, providerId: string, grantId: string, agentId: string, operation: string): Promise<ConsentOutcome> {
    const grant = await this.liveGrant(actor, providerId, grantId, 'approval on a revoked grant');
    const asked = askedFor(this.deps.catalog, grant.provider, agentId, operation);
    if (!asked) throw new LinkError('TV_LINK_OPERATION_NOT_PERMITTED');
    const before = grant.consent[agentId] ?? [];
    if (before.includes(operation)) return 'unchanged';
    if (missingScopes(grant, [asked.operation]).length > 0) return 'needs_scopes';
    const after = [...before, operation].sort();
    await this.recordConsent(actor, grant, agentId, { operations: after.join(' '), approved: operation }, 'request_approved');
    if (!(await this.deps.stores.grants.setConsent(grant.id, agentId, after))) throw new LinkError('TV_LINK_UNKNOWN_GRANT', 'grant vanished during approval');
    return 'saved';
  }

  /** Deny a deep link's request: nothing changes; the refusal is audited so the security team sees it. */
  async deny(actor: Actor, providerId: string, agentId: string, operation: string): Promise<void> {
    const provider = this.provider(providerId);
    if (!askedFor(this.deps.catalog, provider.id, agentId, operation)) throw new LinkError('TV_LINK_OPERATION_NOT_PERMITTED');
    await this.deps.audit.record({
      action: 'grant.consent',
      decision: 'deny',
      reason: 'request_denied',
      user: actor.userId,
      actor: actor.userId,
      agent: agentId,
      provider: provider.id,
      operation,
      requestId: actor.requestId,
    });
  }

  /**
   * Replace the consent of every agent the page shows: an unticked box
   * withdraws consent. Each changed agent is audited before its change.
   * Nothing changes when a newly ticked operation needs upstream scopes the
   * grant lacks (`needs_scopes`: link again first).
   */
  async saveConsent(actor: Actor, providerId: string, grantId: string, choices: readonly ConsentChoice[]): Promise<ConsentOutcome> {
    const { catalog, stores } = this.deps;
    const grant = await this.liveGrant(actor, providerId, grantId, 'consent on a revoked grant');
    const selection = new Map(agentsFor(catalog, grant.provider).map(({ agent }) => [agent.id, [] as string[]]));
    const added: Operation[] = [];
    for (const { agent, operation } of choices) {
      const chosen = selection.get(agent);
      const op = catalog.ceilingFor(agent, grant.provider).find((o) => o.name === operation);
      if (!chosen || !op) throw new LinkError('TV_LINK_OPERATION_NOT_PERMITTED');
      if (chosen.includes(operation)) continue;
      chosen.push(operation);
      if (!(grant.consent[agent] ?? []).includes(operation)) added.push(op);
    }
    // Only what is newly consented needs scopes; withdrawing never does.
    if (missingScopes(grant, added).length > 0) return 'needs_scopes';
    let changed = false;
    for (const [agent, operations] of selection) {
      const before = [...(grant.consent[agent] ?? [])].sort();
      const after = [...operations].sort();
      if (before.join(' ') === after.join(' ')) continue;
      await this.recordConsent(actor, grant, agent, { operations: after.join(' ') || '(none)' });
      if (!(await stores.grants.setConsent(grant.id, agent, after))) throw new LinkError('TV_LINK_UNKNOWN_GRANT', 'grant vanished during consent');
      changed = true;
    }
    return changed ? 'saved' : 'unchanged';
  }

  /**
   * Withdraw one agent's consent on a grant; every other agent keeps its own.
   * The agent's outstanding operation tokens die with the consent, because a
   * token is honoured only while its grant still consents to it
   * (grants/liveness.ts). Returns false when the agent held no consent (a
   * second click, a stale page): nothing to change, nothing audited, and the
   * same answer for the user, since the agent has no access either way.
   */
  async revokeAgent(actor: Actor, providerId: string, grantId: string, agent: string): Promise<boolean> {
    const grant = await this.liveGrant(actor, providerId, grantId, 'agent revocation on a revoked grant');
    const before = grant.consent[agent] ?? [];
    if (before.length === 0) return false;
    await this.recordConsent(actor, grant, agent, { operations: '(none)', revoked: [...before].sort().join(' ') }, 'agent_revoked');
    if (!(await this.deps.stores.grants.setConsent(grant.id, agent, [])))
      throw new LinkError('TV_LINK_UNKNOWN_GRANT', 'grant vanished during agent revocation');
    return true;
  }

  /** Unlink: unusable at once, revoked upstream, deleted (or kept revoked until the retry succeeds). */
  async unlink(actor: Actor, providerId: string, grantId: string): Promise<RevocationOutcome> {
    const grant = await this.ownGrant(actor, providerId, grantId);
    await this.deps.audit.record({
      action: 'grant.unlink',
      decision: 'allow',
      user: actor.userId,
      actor: actor.userId,
      provider: grant.provider,
      grant: grant.id,
      requestId: actor.requestId,
    });
    return this.deps.retirement.retire(actor, grant);
  }

  /** A grant of this user and provider, or the same answer for missing and foreign ones. */
  private async ownGrant(actor: Actor, providerId: string, grantId: string): Promise<Grant> {
    const provider = this.provider(providerId);
    const grant = await this.deps.stores.grants.get(grantId);
    if (!grant || grant.userId !== actor.userId || grant.provider !== provider.id) throw new LinkError('TV_LINK_UNKNOWN_GRANT');
    return grant;
  }

  /** An own grant that is not revoked: consent on a revoked one would change nothing an agent can use. */
  private async liveGrant(actor: Actor, providerId: string, grantId: string, detail: string): Promise<Grant> {
    const grant = await this.ownGrant(actor, providerId, grantId);
    if (grant.status === 'revoked') throw new LinkError('TV_LINK_UNKNOWN_GRANT', detail);
    return grant;
  }

  /** The audit record of a consent change by the user (before the change is made). */
  private async recordConsent(actor: Actor, grant: Grant, agent: string, details: Record<string, string>, reason?: string): Promise<void> {
    await this.deps.audit.record({
      action: 'grant.consent',
      decision: 'allow',
      ...(reason !== undefined && { reason }),
      user: actor.userId,
      actor: actor.userId,
      agent,
      provider: grant.provider,
      grant: grant.id,
      requestId: actor.requestId,
      details,
    });
  }
}
