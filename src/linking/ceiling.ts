/**
 * The admin ceiling as the consent pages use it: the agents that may ever use
 * a provider, and what an agent asked for on a deep link
 * (`/connections/{provider}?agent=..&operation=..`), kept only when it lies
 * inside that ceiling; and the upstream scopes a link asks for.
 */
import type { Agent, Operation, Provider, ProviderCatalog } from '../providers/catalog.js';
import type { Grant } from '../store/grant-store.js';

/** Agents with any operation of this provider in their admin ceiling, with those operations. */
export function agentsFor(catalog: ProviderCatalog, providerId: string): Array<{ agent: Agent; operations: Operation[] }> {
  return catalog
    .listAgents()
    .map((agent) => ({ agent, operations: catalog.ceilingFor(agent.id, providerId) }))
    .filter((a) => a.operations.length > 0);
}

/** A deep-link request, when it names an agent and one of its ceiling operations on this provider. */
export function askedFor(
  catalog: ProviderCatalog,
  providerId: string,
  agentId: string | undefined,
  operation: string | undefined,
): { agent: Agent; operation: Operation } | undefined {
  if (!agentId || !operation) return undefined;
  const agent = catalog.agent(agentId);
  const op = catalog.ceilingFor(agentId, providerId).find((o) => o.name === operation);
  return agent && op ? { agent, operation: op } : undefined;
}

/**
 * The scopes a link asks the provider for (incremental authorization, RFC
 * 6749 §3.3): the provider's scopes that no operation declares (such as
 * `refresh_token` or `openid`, which every link needs) plus the scopes of
 * these operations, in the provider's configured order.
 */
export function linkScopes(provider: Provider, operations: Iterable<Operation>): string[] {
  const declared = new Set([...provider.operations.values()].flatMap((op) => op.scopes));
  const needed = new Set([...operations].flatMap((op) => op.scopes));
  return provider.scopes.filter((scope) => !declared.has(scope) || needed.has(scope));
}

/** Upstream scopes these operations need that the grant was not given. */
export function missingScopes(grant: Pick<Grant, 'scopes'>, operations: Iterable<Operation>): string[] {
  const granted = new Set(grant.scopes);
  return [...new Set([...operations].flatMap((op) => op.scopes))].filter((scope) => !granted.has(scope));
}

/** The operations, by full name, that a grant's consent holds for any agent on its provider. */
export function consentedOperations(catalog: ProviderCatalog, grant: Pick<Grant, 'consent' | 'provider'>): Operation[] {
  const names = new Set(Object.values(grant.consent).flat());
  return [...names].map((name) => catalog.operation(name)).filter((op): op is Operation => op?.provider === grant.provider);
}
