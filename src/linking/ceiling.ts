/**
 * The admin ceiling as the consent pages use it: the agents that may ever use
 * a provider, and what an agent asked for on a deep link
 * (`/connections/{provider}?agent=..&operation=..`), kept only when it lies
 * inside that ceiling.
 */
import type { Agent, Operation, ProviderCatalog } from '../providers/catalog.js';

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
