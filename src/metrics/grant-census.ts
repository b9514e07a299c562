/**
 * Grants by status for the `tv_grants` gauge: counted from the grant store's own listing at
 * scrape time, at most once per interval (a scrape in between gets the last count), and over at
 * most `maxGrants` grants, so a scrape never walks an unbounded keyspace. Past the bound the
 * counts are of the first `maxGrants` grants and `truncated` is true.
 */
import type { GrantStore } from '../store/grant-store.js';

const STATUSES = ['active', 'consent_required', 'revoked'] as const;
const PAGE = 500;

export interface GrantCensusOptions {
  intervalMs?: number;
  maxGrants?: number;
  now?: () => number;
}

export interface GrantCounts {
  byStatus: Record<string, number>;
  truncated: boolean;
}

export function grantCensus(grants: Pick<GrantStore, 'list'>, options: GrantCensusOptions = {}): () => Promise<GrantCounts | null> {
  const intervalMs = options.intervalMs ?? 60_000;
  const maxGrants = options.maxGrants ?? 10_000;
  const now = options.now ?? Date.now;
  let last: { at: number; counts: GrantCounts } | undefined;
  let running: Promise<GrantCounts | null> | undefined;

  async function count(): Promise<GrantCounts> {
    const counts: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    let seen = 0;
    let cursor: string | undefined;
    do {
      const page = await grants.list({}, Math.min(PAGE, maxGrants - seen), cursor);
      for (const grant of page.items) counts[grant.status] = (counts[grant.status] ?? 0) + 1;
      seen += page.items.length;
      cursor = page.next;
    } while (cursor !== undefined && seen < maxGrants);
    return { byStatus: counts, truncated: cursor !== undefined };
  }

  return async () => {
    if (last !== undefined && now() - last.at < intervalMs) return last.counts;
    running ??= count()
      .then((counts) => (last = { at: now(), counts }).counts)
      // An unreachable store keeps the last count (or none) rather than failing the whole scrape.
      .catch(() => last?.counts ?? null)
      .finally(() => (running = undefined));
    return running;
  };
}
