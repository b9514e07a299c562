/**
 * A connection's recent uses for its owner: which agent used the grant, when,
 * for which operation and with what outcome, from the audit trail.
 *
 * Uses are `token.exchange` records (issued or refused) and `token.forward`
 * records (a call made with the grant through /forward: its `details.method`,
 * `details.path` (the operation's path template) and `details.upstreamStatus`
 * are shown when present). They are
 * found through the audit store's per-grant index (AuditStore.latestForGrant),
 * never by scanning the stream: one page view reads at most HISTORY_WINDOW
 * indexed entries per connection, newest first, and keeps the uses among them.
 *
 * The index is in Redis, which is untrusted, so every record is checked again
 * here: it must name this grant, and when it names a user, the grant's owner.
 * A record of someone else's grant can therefore never appear on a page, even
 * if the index were edited to point at it.
 */
import type { AuditDecision, AuditRecord } from '../audit/events.js';
import type { ProviderCatalog } from '../providers/catalog.js';
import type { AuditStore } from '../store/audit-store.js';
import type { Grant } from '../store/grant-store.js';

/** One row of a connection's history, ready to show (every string is still escaped by the view). */
export interface GrantUse {
  /** ISO 8601 time of the record. */
  time: string;
  agent: { id: string; displayName?: string };
  operation?: { name: string; description?: string };
  /** `GET /services/data/{version}/query`: the forwarded request, when the record names it. */
  request?: string;
  outcome: string;
}

/** An agent holding consent on a grant. */
export interface AgentAccess {
  id: string;
  displayName?: string;
  /** Operations consented to, full names, with their descriptions when the catalog knows them. */
  operations: Array<{ name: string; description?: string }>;
}

/** How many uses a connection shows. */
export const HISTORY_LIMIT = 20;
/**
 * Indexed entries read per connection: the index also holds the grant's link,
 * consent, refresh and revocation records, so some room is left for those.
 */
export const HISTORY_WINDOW = 100;

const USE_ACTIONS = new Set(['token.exchange', 'token.forward']);
const OUTCOME: Record<string, Record<AuditDecision, string>> = {
  'token.exchange': { allow: 'Token issued', deny: 'Refused', error: 'Failed' },
  'token.forward': { allow: 'Call made', deny: 'Refused', error: 'Failed' },
};

function parse(body: string): AuditRecord | undefined {
  try {
    const record = JSON.parse(body) as unknown;
    return typeof record === 'object' && record !== null ? (record as AuditRecord) : undefined;
  } catch {
    return undefined;
  }
}

const detail = (record: AuditRecord, name: string) => record.details?.[name];

function toUse(record: AuditRecord, catalog: ProviderCatalog): GrantUse | undefined {
  const outcomes = OUTCOME[record.action];
  if (!outcomes || typeof record.agent !== 'string' || typeof record.time !== 'string' || Number.isNaN(Date.parse(record.time))) return undefined;
  const outcome = outcomes[record.decision];
  if (outcome === undefined) return undefined;
  const agent = catalog.agent(record.agent);
  const operation = typeof record.operation === 'string' ? catalog.operation(record.operation) : undefined;
  const method = detail(record, 'method');
  const path = detail(record, 'path');
  const status = detail(record, 'upstreamStatus');
  return {
    time: new Date(Date.parse(record.time)).toISOString(),
    agent: { id: record.agent, ...(agent && { displayName: agent.displayName }) },
    ...(typeof record.operation === 'string' && { operation: { name: record.operation, ...(operation && { description: operation.description }) } }),
    ...(typeof method === 'string' && typeof path === 'string' && { request: `${method} ${path}` }),
    outcome: typeof status === 'number' && record.action === 'token.forward' ? `${outcome} (HTTP ${status})` : outcome,
  };
}

/** The newest uses of `grant`, newest first, at most `limit`. */
export async function recentUses(audit: AuditStore, catalog: ProviderCatalog, grant: Grant, limit = HISTORY_LIMIT): Promise<GrantUse[]> {
  const uses: GrantUse[] = [];
  for (const entry of await audit.latestForGrant(grant.id, HISTORY_WINDOW)) {
    const record = parse(entry.body);
    if (!record || !USE_ACTIONS.has(record.action) || record.grant !== grant.id) continue;
    // A forward's intent record is followed by its outcome (src/forward/routes.ts): one use, one row.
    if (record.details?.phase === 'intent') continue;
    if (record.user !== undefined && record.user !== grant.userId) continue;
    const use = toUse(record, catalog);
    if (use) uses.push(use);
    if (uses.length === limit) break;
  }
  return uses;
}

/** The agents holding consent on `grant`, in id order, described from the catalog where it knows them. */
export function consentedAgents(grant: Grant, catalog: ProviderCatalog): AgentAccess[] {
  return Object.entries(grant.consent)
    .filter(([, operations]) => operations.length > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, operations]) => {
      const agent = catalog.agent(id);
      return {
        id,
        ...(agent && { displayName: agent.displayName }),
        operations: operations.map((name) => {
          const op = catalog.operation(name);
          return { name, ...(op && { description: op.description }) };
        }),
      };
    });
}
