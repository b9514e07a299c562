import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { REFRESH_MS, homeChain } from '../../../src/audit/chain-owners.js';
import { verifyTrail } from '../../../src/audit/verify.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';
import { passThrough } from '../../helpers/audit-writers.js';
import type { AuditEventInput } from '../../../src/audit/events.js';
import { auditChainOfGrant, type AuditStore } from '../../../src/store/audit-store.js';

const hmacKey = randomBytes(32);

/** One writer's view of a shared store: records which chains it appended to and how often it was refused. */
function tracked(inner: AuditStore) {
  const seen = { chains: new Set<number>(), refused: 0 };
  const store: AuditStore = {
    ...passThrough(inner),
    async append(chain, head, entries, turn, claimMs) {
      const result = await inner.append(chain, head, entries, turn, claimMs);
      if (result.ok) seen.chains.add(chain);
      else seen.refused += 1;
      return result;
    },
  };
  return { store, seen };
}

describe('audit chain ownership', () => {
  it('gives each live writer the chain of its rank among the sorted ids; writers past the last chain get none', () => {
    const writers = ['w-a', 'w-b', 'w-c'];
    expect(writers.map((w) => homeChain(writers, w, 16))).toStrictEqual([0, 1, 2]);
    const many = Array.from({ length: 6 }, (_, i) => `w-${i}`);
    expect(many.map((w) => homeChain(many, w, 4))).toStrictEqual([0, 1, 2, 3, undefined, undefined]);
    expect(homeChain(writers, 'w-unknown', 16)).toBeUndefined();
    // Alone, a writer meets nobody: it keeps spreading its records over every chain by their key.
    expect(homeChain(['w-a'], 'w-a', 16)).toBeUndefined();
  });

  it('a lone writer spreads records over the chains by their key, before and after it has looked for others', async () => {
    const store = createMemoryStores(16).audit;
    const writer = createAuditWriter({ store, hmacKey });
    const grants = Array.from({ length: 40 }, (_, n) => `g-${n}`);
    const first = await Promise.all(grants.map((grant, n) => writer.record({ action: 'token.exchange', decision: 'allow', requestId: `a-${n}`, grant })));
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS + 50));
    const second = await Promise.all(grants.map((grant, n) => writer.record({ action: 'token.exchange', decision: 'allow', requestId: `b-${n}`, grant })));
    const expected = grants.map((grant) => auditChainOfGrant(grant, 16));
    expect(first.map((r) => r.chain)).toStrictEqual(expected);
    expect(second.map((r) => r.chain)).toStrictEqual(expected);
    expect(await store.writers!('probe', 1, true)).toHaveLength(1);
  });

  it('three writers on one store each append to a chain of its own once they see each other: no refusals, whole batches, a clean trail, every record of a grant found', async () => {
    const shared = createMemoryStores(16).audit;
    const views = [tracked(shared), tracked(shared), tracked(shared)];
    const writers = views.map((v) => createAuditWriter({ store: v.store, hmacKey }));
    const event = (w: number, n: number): AuditEventInput => ({ action: 'token.exchange', decision: 'allow', requestId: `w${w}-${n}`, grant: `g-${n % 40}` });

    // Each writer announces itself with its first record; after a refresh every one has seen all
    // three. A chain that changed hands costs its new owner one refusal (its cached head is stale):
    // the second round pays those.
    await Promise.all(writers.map((w, i) => w.record(event(i, 0))));
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS + 50));
    await Promise.all(writers.map((w, i) => w.record(event(i, 1))));
    await Promise.all(writers.flatMap((w, i) => Array.from({ length: 100 }, (_, n) => w.record(event(i, 602 + n)))));
    for (const v of views) {
      v.seen.chains.clear();
      v.seen.refused = 0;
    }

    for (let round = 0; round < 3; round++) {
      await Promise.all(writers.flatMap((w, i) => Array.from({ length: 200 }, (_, n) => w.record(event(i, 2 + round * 200 + n)))));
    }

    expect(views.map((v) => v.seen.refused)).toStrictEqual([0, 0, 0]);
    // Each writer wrote one chain, its home, and the homes are chains 0, 1 and 2 (ranks by sorted id).
    const used = views.map((v) => [...v.seen.chains]);
    expect(used.map((chains) => chains.length)).toStrictEqual([1, 1, 1]);
    expect(used.flat().sort()).toStrictEqual([0, 1, 2]);
    const ids = await shared.writers!('probe', 1, true);
    expect(ids).toHaveLength(3);

    const report = await verifyTrail(shared, hmacKey);
    expect({ ok: report.ok, records: report.records }).toStrictEqual({ ok: true, records: 3 * 702 });
    // g-7: from every writer, 2 + 3 × 200 + 100 events each, one in 40 names it (n ≡ 7 mod 40).
    const expected = views.length * Array.from({ length: 702 }, (_, n) => n).filter((n) => n % 40 === 7).length;
    const found = await shared.latestForGrant('g-7', 1_000);
    expect(found).toHaveLength(expected);
    expect(found.map((e) => e.time)).toStrictEqual([...found.map((e) => e.time)].sort().reverse());
  });
});
