/**
 * The security team's grant listing: live grants and the tombstones of retired ones (no secret
 * either way) in one grant id order behind one opaque cursor, so `status=revoked` still finds
 * what was unlinked, re-linked or revoked during the retention window.
 */
import { encodeCursor } from '../store/grant-filter.js';
import type { Grant, GrantFilter, GrantStore, GrantTombstone } from '../store/grant-store.js';
import type { Page } from '../store/page.js';

export type ListedGrant = { grant: Grant; tombstone?: undefined } | { tombstone: GrantTombstone; grant?: undefined };

const idOf = (entry: ListedGrant) => entry.grant?.id ?? entry.tombstone!.grantId;

export async function listGrantsAndTombstones(grants: GrantStore, filter: GrantFilter, limit: number, cursor?: string): Promise<Page<ListedGrant>> {
  // A tombstone has status revoked and no consent: an agent filter never matches one.
  const withTombstones = (filter.status === undefined || filter.status === 'revoked') && filter.agent === undefined;
  const tombFilter = { ...(filter.userId !== undefined && { userId: filter.userId }), ...(filter.provider !== undefined && { provider: filter.provider }) };
  const [live, retired] = await Promise.all([
    grants.list(filter, limit, cursor),
    withTombstones ? grants.listTombstones(tombFilter, limit, cursor) : Promise.resolve<Page<GrantTombstone>>({ items: [] }),
  ]);
  // The tombstone is the record of a revocation still confirming upstream: it wins over that grant.
  const byId = new Map<string, ListedGrant>();
  for (const grant of live.items) byId.set(grant.id, { grant });
  for (const tombstone of retired.items) byId.set(tombstone.grantId, { tombstone });
  const merged = [...byId.values()].sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
  const items = merged.slice(0, limit);
  const more = merged.length > limit || live.next !== undefined || retired.next !== undefined;
  const last = items[items.length - 1];
  return more && last !== undefined ? { items, next: encodeCursor(idOf(last)) } : { items };
}
