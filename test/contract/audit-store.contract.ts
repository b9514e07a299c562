import { describe, expect, it } from 'vitest';
import { AUDIT_GRANT_INDEX_CAP, auditChainOf, auditChainOfGrant, type AuditEntry, type AuditHead } from '../../src/store/audit-store.js';
import { type Stores } from '../../src/store/stores.js';
import { auditEntry } from './fixtures.js';

/** Grant ids whose records go to chain 0 (where these tests append), found by trying names. */
function grantsOnChainZero(chains: number): { a: string; b: string; busy: string; other: string } {
  const ids: string[] = [];
  for (let i = 0; ids.length < 4; i++) if (auditChainOfGrant(`g-${i}`, chains) === 0) ids.push(`g-${i}`);
  const [a, b, busy, other] = ids as [string, string, string, string];
  return { a, b, busy, other };
}

/** Appends `bodies` as one batch on the current head of chain 0; returns the entries. */
async function appendBatch(stores: () => Stores, bodies: string[]): Promise<AuditEntry[]> {
  let head = await stores().audit.head(0);
  const entries = bodies.map((body) => {
    const e = auditEntry(head, body);
    head = { seq: e.seq, hash: e.hash };
    return e;
  });
  expect(await stores().audit.append(0, await stores().audit.head(0), entries)).toStrictEqual({ ok: true });
  return entries;
}

/** AuditStore behaviour: compare-and-append head, paging by seq, concurrent writers, the grant index. */
export function describeAuditStoreContract(stores: () => Stores): void {
  describe('audit', () => {
    it('has no head while empty', async () => {
      expect(await stores().audit.head(0)).toBeNull();
      expect(await stores().audit.range(0, 1, 10)).toStrictEqual([]);
    });

    it('gives the append turn to one writer at a time; only the holder appends, and its success frees the turn', async () => {
      const audit = stores().audit;
      const e1 = auditEntry(null, '{"n":1}');
      expect(await audit.append(0, null, [e1])).toStrictEqual({ ok: true });
      const h1 = { seq: 1, hash: e1.hash };
      const turn = await audit.takeTurn!(0, 5_000);
      expect(turn).toEqual(expect.any(String));
      expect(await audit.takeTurn!(0, 5_000)).toBeNull();

      // Anyone else, even on the right head, is refused while the turn is held; nothing is written.
      const e2 = auditEntry(h1, '{"n":2}');
      expect(await audit.append(0, h1, [e2])).toStrictEqual({ ok: false, head: h1, turnHeld: true });
      expect(await audit.append(0, h1, [e2], 'not-the-turn')).toStrictEqual({ ok: false, head: h1, turnHeld: true });
      expect(await audit.head(0)).toStrictEqual(h1);

      // The holder still needs the right head; its success releases the turn.
      expect(await audit.append(0, null, [auditEntry(null, '{}')], turn!)).toStrictEqual({ ok: false, head: h1 });
      expect(await audit.append(0, h1, [e2], turn!)).toStrictEqual({ ok: true });
      const h2 = { seq: 2, hash: e2.hash };
      const e3 = auditEntry(h2, '{"n":3}');
      expect(await audit.append(0, h2, [e3])).toStrictEqual({ ok: true });
      expect(await audit.range(0, 1, 10)).toStrictEqual([e1, e2, e3]);
    });

    it('gives the turn to a writer whose stale append asked for it, in the same step; its next append on the head it got lands and frees the turn', async () => {
      const audit = stores().audit;
      const e1 = auditEntry(null, '{"n":1}');
      expect(await audit.append(0, null, [e1])).toStrictEqual({ ok: true });
      const h1 = { seq: 1, hash: e1.hash };

      // Stale (expects an empty chain): refused with the head, and the turn is now 'writer-b'.
      expect(await audit.append(0, null, [auditEntry(null, '{"b":1}')], 'writer-b', 5_000)).toStrictEqual({ ok: false, head: h1, turnTaken: true });
      // Everyone else is refused, even on the right head and asking for the turn; nothing is written.
      const e2 = auditEntry(h1, '{"b":1}');
      expect(await audit.append(0, h1, [auditEntry(h1, '{"c":1}')], 'writer-c', 5_000)).toStrictEqual({ ok: false, head: h1, turnHeld: true });
      expect(await audit.append(0, h1, [auditEntry(h1, '{"c":1}')])).toStrictEqual({ ok: false, head: h1, turnHeld: true });
      expect(await audit.takeTurn!(0, 5_000)).toBeNull();

      // The holder, stale again (asking again keeps the turn), then on the head it got: lands, turn freed.
      expect(await audit.append(0, null, [auditEntry(null, '{}')], 'writer-b', 5_000)).toStrictEqual({ ok: false, head: h1, turnTaken: true });
      expect(await audit.append(0, h1, [e2], 'writer-b', 5_000)).toStrictEqual({ ok: true });
      const h2 = { seq: 2, hash: e2.hash };
      const e3 = auditEntry(h2, '{"c":1}');
      expect(await audit.append(0, h2, [e3], 'writer-c', 5_000)).toStrictEqual({ ok: true });
      // Without a token or a time to live, a stale append takes nothing.
      expect(await audit.append(0, h1, [auditEntry(h1, '{}')], undefined, 5_000)).toStrictEqual({ ok: false, head: { seq: 3, hash: e3.hash } });
      expect(await audit.append(0, h1, [auditEntry(h1, '{}')], 'writer-d')).toStrictEqual({ ok: false, head: { seq: 3, hash: e3.hash } });
      expect(await audit.takeTurn!(0, 5_000)).toEqual(expect.any(String));
      expect(await audit.range(0, 1, 10)).toStrictEqual([e1, e2, e3]);
    });

    it('forgets a turn whose holder never appended once its time is up', async () => {
      const audit = stores().audit;
      expect(await audit.takeTurn!(0, 100)).toEqual(expect.any(String));
      const e1 = auditEntry(null, '{"n":1}');
      expect(await audit.append(0, null, [e1])).toStrictEqual({ ok: false, head: null, turnHeld: true });
      await new Promise((r) => setTimeout(r, 250));
      expect(await audit.append(0, null, [e1])).toStrictEqual({ ok: true });
      expect(await audit.takeTurn!(0, 100)).toEqual(expect.any(String));
    });

    it('appends on the expected head and reports the current head when stale', async () => {
      const e1 = auditEntry(null, '{"n":1}');
      expect(await stores().audit.append(0, null, [e1])).toStrictEqual({ ok: true });
      const h1 = { seq: 1, hash: e1.hash };
      expect(await stores().audit.head(0)).toStrictEqual(h1);

      const e2 = auditEntry(h1, '{"n":2}');
      const e3 = auditEntry({ seq: 2, hash: e2.hash }, '{"n":3}');
      expect(await stores().audit.append(0, h1, [e2, e3])).toStrictEqual({ ok: true });
      const h3 = { seq: 3, hash: e3.hash };
      expect(await stores().audit.head(0)).toStrictEqual(h3);

      expect(await stores().audit.append(0, h1, [auditEntry(h1, '{"late":true}')])).toStrictEqual({ ok: false, head: h3 });
      expect(await stores().audit.append(0, null, [auditEntry(null, '{"late":true}')])).toStrictEqual({ ok: false, head: h3 });
      expect(await stores().audit.append(0, { seq: 3, hash: 'forged' }, [auditEntry({ seq: 3, hash: 'forged' }, '{}')])).toStrictEqual({ ok: false, head: h3 });
      expect(await stores().audit.range(0, 1, 10)).toStrictEqual([e1, e2, e3]);
    });

    it('reports an empty head to a writer that expected entries', async () => {
      const ghost = { seq: 5, hash: 'h' };
      expect(await stores().audit.append(0, ghost, [auditEntry(ghost, '{}')])).toStrictEqual({ ok: false, head: null });
    });

    it('refuses a batch that does not continue its own head', async () => {
      const e1 = auditEntry(null, '{}');
      await expect(stores().audit.append(0, null, [{ ...e1, seq: 2 }])).rejects.toBeInstanceOf(RangeError);
      await expect(stores().audit.append(0, null, [e1, { ...auditEntry({ seq: 1, hash: 'other' }, '{}') }])).rejects.toBeInstanceOf(RangeError);
      expect(await stores().audit.head(0)).toBeNull();
    });

    it('pages through a range by seq', async () => {
      let head: AuditHead | null = null;
      const all: AuditEntry[] = [];
      for (let i = 0; i < 12; i++) {
        const e = auditEntry(head, JSON.stringify({ i }));
        expect(await stores().audit.append(0, head, [e])).toStrictEqual({ ok: true });
        all.push(e);
        head = { seq: e.seq, hash: e.hash };
      }
      expect(await stores().audit.range(0, 1, 5)).toStrictEqual(all.slice(0, 5));
      expect(await stores().audit.range(0, 6, 5)).toStrictEqual(all.slice(5, 10));
      expect(await stores().audit.range(0, 11, 5)).toStrictEqual(all.slice(10));
      expect(await stores().audit.range(0, 13, 5)).toStrictEqual([]);
      expect(await stores().audit.range(0, 0, 1)).toStrictEqual(all.slice(0, 1));
      expect(await stores().audit.range(0, 4, 0)).toStrictEqual([]);

      const newestFirst = [...all].reverse();
      expect(await stores().audit.reverseRange(0, 12, 5)).toStrictEqual(newestFirst.slice(0, 5));
      expect(await stores().audit.reverseRange(0, 7, 5)).toStrictEqual(newestFirst.slice(5, 10));
      expect(await stores().audit.reverseRange(0, 2, 5)).toStrictEqual(newestFirst.slice(10));
      expect(await stores().audit.reverseRange(0, 99, 2)).toStrictEqual(newestFirst.slice(0, 2));
      expect(await stores().audit.reverseRange(0, 0, 5)).toStrictEqual([]);
      expect(await stores().audit.reverseRange(0, 5, 0)).toStrictEqual([]);
    });

    it('keeps the chain gap-free under 20 concurrent writers that retry on conflict', async () => {
      const writer = async (n: number): Promise<void> => {
        let head = await stores().audit.head(0);
        for (;;) {
          const result = await stores().audit.append(0, head, [auditEntry(head, JSON.stringify({ writer: n }))]);
          if (result.ok) return;
          head = result.head;
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, n) => writer(n)));
      const entries = await stores().audit.range(0, 1, 100);
      expect(entries.map((e) => e.seq)).toStrictEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      entries.forEach((e, i) => expect(e.prev).toBe(i === 0 ? '' : entries[i - 1]?.hash));
      expect(new Set(entries.map((e) => e.body)).size).toBe(20);
      expect(await stores().audit.head(0)).toStrictEqual({ seq: 20, hash: entries[19]?.hash });
    });

    it('finds the newest entries naming a grant, newest first, across and within batches', async () => {
      const g = grantsOnChainZero(stores().audit.chains);
      const [a1, b1] = await appendBatch(stores, [
        JSON.stringify({ action: 'token.exchange', grant: g.a }),
        JSON.stringify({ action: 'token.exchange', grant: g.b }),
        JSON.stringify({ action: 'killswitch.engage' }),
        '{not json',
      ]);
      const [a2] = await appendBatch(stores, [JSON.stringify({ grant: g.a, details: { grant: g.b } })]);
      const [, a3] = await appendBatch(stores, [JSON.stringify({ grant: 7 }), JSON.stringify({ grant: g.a, user: 'u' })]);

      expect(await stores().audit.latestForGrant(g.a, 10)).toStrictEqual([a3, a2, a1]);
      expect(await stores().audit.latestForGrant(g.a, 2)).toStrictEqual([a3, a2]);
      // Only the top-level field counts: a nested `grant` in details is not the record's grant.
      expect(await stores().audit.latestForGrant(g.b, 10)).toStrictEqual([b1]);
      expect(await stores().audit.latestForGrant('g-none', 10)).toStrictEqual([]);
      expect(await stores().audit.latestForGrant(g.a, 0)).toStrictEqual([]);
    });

    it('indexes an entry under the grant its writer names (no grant: empty), and never stores or returns that field', async () => {
      const g = grantsOnChainZero(stores().audit.chains);
      const head = await stores().audit.head(0);
      const named = auditEntry(head, JSON.stringify({ action: 'token.exchange', grant: g.a }));
      const none = auditEntry({ seq: named.seq, hash: named.hash }, JSON.stringify({ action: 'killswitch.engage' }));
      expect(
        await stores().audit.append(0, head, [
          { ...named, grant: g.a },
          { ...none, grant: '' },
        ]),
      ).toStrictEqual({ ok: true });
      expect(await stores().audit.latestForGrant(g.a, 10)).toStrictEqual([named]);
      expect(await stores().audit.range(0, named.seq, 10)).toStrictEqual([named, none]);
    });

    it('indexes nothing from an append refused for a stale head', async () => {
      const g = grantsOnChainZero(stores().audit.chains);
      const [first] = await appendBatch(stores, [JSON.stringify({ grant: g.a })]);
      const stale = auditEntry(null, JSON.stringify({ grant: g.a, late: true }));
      expect(await stores().audit.append(0, null, [stale])).toMatchObject({ ok: false });
      expect(await stores().audit.latestForGrant(g.a, 10)).toStrictEqual([first]);
    });

    it(`keeps the newest ${AUDIT_GRANT_INDEX_CAP} entries per grant, whatever the length of the trail`, async () => {
      const g = grantsOnChainZero(stores().audit.chains);
      const entries: AuditEntry[] = [];
      for (let batch = 0; batch < 5; batch++) {
        const bodies = Array.from({ length: 50 }, (_, i) => JSON.stringify({ grant: i % 5 === 0 ? g.other : g.busy, n: batch * 50 + i }));
        entries.push(...(await appendBatch(stores, bodies)));
      }
      const busy = entries.filter((e) => (JSON.parse(e.body) as { grant: string }).grant === g.busy).reverse();
      expect(busy).toHaveLength(AUDIT_GRANT_INDEX_CAP);
      expect(await stores().audit.latestForGrant(g.busy, 1_000)).toStrictEqual(busy);
      await appendBatch(stores, [JSON.stringify({ grant: g.busy, n: 'newest' })]);
      const after = await stores().audit.latestForGrant(g.busy, 1_000);
      expect(after).toHaveLength(AUDIT_GRANT_INDEX_CAP);
      expect(after[0]?.body).toBe(JSON.stringify({ grant: g.busy, n: 'newest' }));
      expect(after.slice(1)).toStrictEqual(busy.slice(0, -1));
      expect(await stores().audit.latestForGrant(g.other, 1_000)).toHaveLength(50);
    });

    it('keeps the chains independent: own heads, seqs, ranges and append turns', async () => {
      const audit = stores().audit;
      expect(audit.chains).toBe(16);
      expect(await audit.claimChainCount()).toBe(16);
      const a1 = auditEntry(null, '{"on":0}', 0);
      const b1 = auditEntry(null, '{"on":5}', 5);
      expect(await audit.append(0, null, [a1])).toStrictEqual({ ok: true });
      expect(await audit.append(5, null, [b1])).toStrictEqual({ ok: true });
      const b2 = auditEntry({ seq: 1, hash: b1.hash }, '{"on":5,"n":2}', 5);
      expect(await audit.append(5, { seq: 1, hash: b1.hash }, [b2])).toStrictEqual({ ok: true });
      const heads = await audit.heads();
      expect(heads).toHaveLength(16);
      expect(heads.map((h, chain) => [chain, h]).filter(([, h]) => h !== null)).toStrictEqual([
        [0, { seq: 1, hash: a1.hash }],
        [5, { seq: 2, hash: b2.hash }],
      ]);
      expect(await audit.range(5, 1, 10)).toStrictEqual([b1, b2]);
      expect(await audit.reverseRange(0, 10, 10)).toStrictEqual([a1]);
      expect(await audit.range(3, 1, 10)).toStrictEqual([]);

      // A turn on chain 5 does not hold chain 0 back.
      expect(await audit.takeTurn!(5, 5_000)).toEqual(expect.any(String));
      const a2 = auditEntry({ seq: 1, hash: a1.hash }, '{"on":0,"n":2}', 0);
      expect(await audit.append(0, { seq: 1, hash: a1.hash }, [a2])).toStrictEqual({ ok: true });
      const b3 = auditEntry({ seq: 2, hash: b2.hash }, '{}', 5);
      expect(await audit.append(5, { seq: 2, hash: b2.hash }, [b3])).toStrictEqual({ ok: false, head: { seq: 2, hash: b2.hash }, turnHeld: true });
    });

    it('refuses entries of another chain, and chains it does not have', async () => {
      const audit = stores().audit;
      await expect(audit.append(1, null, [auditEntry(null, '{}', 0)])).rejects.toBeInstanceOf(RangeError);
      await expect(audit.append(16, null, [auditEntry(null, '{}', 16)])).rejects.toBeInstanceOf(RangeError);
      await expect(audit.append(-1, null, [auditEntry(null, '{}', -1)])).rejects.toBeInstanceOf(RangeError);
      expect(await audit.heads()).toStrictEqual(new Array(16).fill(null));
    });

    it('routes a grant, user, actor or action to a stable chain (where a writer without chains of its own sends it)', () => {
      expect(auditChainOf({ action: 'token.exchange', grant: 'g-1', user: 'u' }, 16)).toBe(auditChainOfGrant('g-1', 16));
      expect(auditChainOf({ action: 'x', user: 'u-1' }, 16)).toBe(auditChainOf({ action: 'y', user: 'u-1', actor: 'a' }, 16));
      expect(auditChainOf({ action: 'killswitch.engage' }, 1)).toBe(0);
      const spread = new Set(Array.from({ length: 200 }, (_, i) => auditChainOfGrant(`g-${i}`, 16)));
      expect(spread.size).toBe(16);
    });

    it("finds a grant's entries in every chain, newest first by time, and within one chain on request", async () => {
      const audit = stores().audit;
      const at = (s: number) => `2026-12-01T00:00:0${s}.000Z`;
      const on2: AuditEntry[] = [];
      const on9: AuditEntry[] = [];
      let h2: AuditHead | null = null;
      let h9: AuditHead | null = null;
      for (const [chain, second] of [
        [2, 1],
        [9, 2],
        [2, 3],
        [9, 4],
        [9, 5],
        [2, 6],
      ] as const) {
        const head = chain === 2 ? h2 : h9;
        const e = auditEntry(head, JSON.stringify({ grant: 'g-split', second }), chain, at(second));
        expect(await audit.append(chain, head, [{ ...e, grant: 'g-split' }])).toStrictEqual({ ok: true });
        (chain === 2 ? on2 : on9).push(e);
        if (chain === 2) h2 = { seq: e.seq, hash: e.hash };
        else h9 = { seq: e.seq, hash: e.hash };
      }
      const bySecond = (entries: AuditEntry[]) => entries.map((e) => (JSON.parse(e.body) as { second: number }).second);
      expect(bySecond(await audit.latestForGrant('g-split', 10))).toStrictEqual([6, 5, 4, 3, 2, 1]);
      expect(bySecond(await audit.latestForGrant('g-split', 3))).toStrictEqual([6, 5, 4]);
      expect(await audit.latestForGrantIn(2, 'g-split', 10)).toStrictEqual([...on2].reverse());
      expect(await audit.latestForGrantIn(9, 'g-split', 2)).toStrictEqual([on9[2], on9[1]]);
      expect(await audit.latestForGrantIn(4, 'g-split', 10)).toStrictEqual([]);
    });

    it('tells the live writers by its own clock: joining, renewing, leaving, and running out', async () => {
      const audit = stores().audit;
      expect(await audit.writers!('w-b', 60_000)).toStrictEqual(['w-b']);
      expect(await audit.writers!('w-a', 60_000)).toStrictEqual(['w-a', 'w-b']);
      expect(await audit.writers!('w-c', 200)).toStrictEqual(['w-a', 'w-b', 'w-c']);
      expect(await audit.writers!('w-b', 60_000)).toStrictEqual(['w-a', 'w-b', 'w-c']);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await audit.writers!('w-a', 60_000)).toStrictEqual(['w-a', 'w-b']);
      expect(await audit.writers!('w-b', 60_000, true)).toStrictEqual(['w-a']);
    });

    it('trims archived entries: oldest first, up to the seq and only while older than the bound; the rest still pages and appends', async () => {
      const audit = stores().audit;
      let head: AuditHead | null = null;
      const all: AuditEntry[] = [];
      for (let i = 1; i <= 10; i++) {
        const e = auditEntry(head, JSON.stringify({ i }), 3, `2026-12-01T00:00:0${i - 1}.000Z`);
        expect(await audit.append(3, head, [e])).toStrictEqual({ ok: true });
        all.push(e);
        head = { seq: e.seq, hash: e.hash };
      }
      expect(await audit.floor(3)).toBeNull();
      expect(await audit.trimArchived(3, 0, Date.parse('2027-01-01T00:00:00Z'))).toBe(0);
      // Seq 6 is within the bound but not older than 00:00:05: stops after 5.
      expect(await audit.trimArchived(3, 6, Date.parse('2026-12-01T00:00:05.000Z'))).toBe(5);
      expect(await audit.floor(3)).toStrictEqual({ seq: 5, hash: all[4]!.hash });
      expect(await audit.range(3, 1, 3)).toStrictEqual(all.slice(5, 8));
      expect(await audit.reverseRange(3, 99, 10)).toStrictEqual([...all.slice(5)].reverse());
      expect(await audit.reverseRange(3, 5, 10)).toStrictEqual([]);
      expect(await audit.head(3)).toStrictEqual(head);
      expect(await audit.trimArchived(3, 7, Date.parse('2027-01-01T00:00:00Z'))).toBe(2);
      expect(await audit.floor(3)).toStrictEqual({ seq: 7, hash: all[6]!.hash });
      const e11 = auditEntry(head, '{"i":11}', 3);
      expect(await audit.append(3, head, [e11])).toStrictEqual({ ok: true });
      expect(await audit.range(3, 0, 100)).toStrictEqual([...all.slice(7), e11]);
      // Every entry trimmed: the head (and the floor) remain, so the chain goes on where it was.
      expect(await audit.trimArchived(3, 11, Date.parse('2030-01-01T00:00:00Z'))).toBe(4);
      expect(await audit.range(3, 0, 100)).toStrictEqual([]);
      expect(await audit.head(3)).toStrictEqual({ seq: 11, hash: e11.hash });
      expect(await audit.floor(3)).toStrictEqual({ seq: 11, hash: e11.hash });
      expect(await audit.floor(4)).toBeNull();
    });

    it('leaves trimmed entries out of a grant history', async () => {
      const g = grantsOnChainZero(stores().audit.chains);
      const [old] = await appendBatch(stores, [JSON.stringify({ grant: g.a, n: 1 })]);
      const [young] = await appendBatch(stores, [JSON.stringify({ grant: g.a, n: 2 })]);
      expect(await stores().audit.latestForGrant(g.a, 10)).toStrictEqual([young, old]);
      expect(await stores().audit.trimArchived(0, 1, Date.parse('2030-01-01T00:00:00Z'))).toBe(1);
      expect(await stores().audit.latestForGrant(g.a, 10)).toStrictEqual([young]);
    });
  });
}
