/**
 * The whole audit trail as tests read it: every chain's entries merged oldest first by
 * (time, chain, seq), the order the admin query shows newest first (src/admin/audit-query.ts).
 */
import type { AuditEntry, AuditStore } from '../../src/store/audit-store.js';

export async function trailEntries(store: AuditStore): Promise<AuditEntry[]> {
  const all: AuditEntry[] = [];
  for (let chain = 0; chain < store.chains; chain++) {
    for (let seq = 1; ;) {
      const page = await store.range(chain, seq, 1000);
      all.push(...page);
      if (page.length < 1000) break;
      seq = page.at(-1)!.seq + 1;
    }
  }
  return all.sort((a, b) => (a.time !== b.time ? (a.time < b.time ? -1 : 1) : a.chain !== b.chain ? a.chain - b.chain : a.seq - b.seq));
}

/** The records of the trail, oldest first. */
export async function trailRecords(store: AuditStore): Promise<Array<Record<string, unknown>>> {
  return (await trailEntries(store)).map((e) => JSON.parse(e.body) as Record<string, unknown>);
}
