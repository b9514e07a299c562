import { describe, expect, it } from 'vitest';
import { AUDIT_GRANT_INDEX_CAP, type AuditEntry, type AuditHead } from '../../src/store/audit-store.js';
import { type Stores } from '../../src/store/stores.js';
import { auditEntry } from './fixtures.js';

/** Appends `bodies` as one batch on the current head; returns the entries. */
async function appendBatch(stores: () => Stores, bodies: string[]): Promise<AuditEntry[]> {
  let head = await stores().audit.head();
  const entries = bodies.map((body) => {
    const e = auditEntry(head, body);
    head = { seq: e.seq, hash: e.hash };
    return e;
  });
  expect(await stores().audit.append(await stores().audit.head(), entries)).toStrictEqual({ ok: true });
  return entries;
}

/** AuditStore behaviour: compare-and-append head, paging by seq, concurrent writers, the grant index. */
export function describeAuditStoreContract(stores: () => Stores): void {
  describe('audit', () => {
    it('has no head while empty', async () => {
      expect(await stores().audit.head()).toBeNull();
      expect(await stores().audit.range(1, 10)).toStrictEqual([]);
    });

    it('gives the append turn to one writer at a time; only the holder appends, and its success frees the turn', async () => {
      const audit = stores().audit;
      const e1 = auditEntry(null, '{"n":1}');
      expect(await audit.append(null, [e1])).toStrictEqual({ ok: true });
      const h1 = { seq: 1, hash: e1.hash };
      const turn = await audit.takeTurn!(5_000);
      expect(turn).toEqual(expect.any(String));
      expect(await audit.takeTurn!(5_000)).toBeNull();

      // Anyone else, even on the right head, is refused while the turn is held; nothing is written.
      const e2 = auditEntry(h1, '{"n":2}');
      expect(await audit.append(h1, [e2])).toStrictEqual({ ok: false, head: h1, turnHeld: true });
      expect(await audit.append(h1, [e2], 'not-the-turn')).toStrictEqual({ ok: false, head: h1, turnHeld: true });
      expect(await audit.head()).toStrictEqual(h1);

      // The holder still needs the right head; its success releases the turn.
      expect(await audit.append(null, [auditEntry(null, '{}')], turn!)).toStrictEqual({ ok: false, head: h1 });
      expect(await audit.append(h1, [e2], turn!)).toStrictEqual({ ok: true });
      const h2 = { seq: 2, hash: e2.hash };
      const e3 = auditEntry(h2, '{"n":3}');
      expect(await audit.append(h2, [e3])).toStrictEqual({ ok: true });
      expect(await audit.range(1, 10)).toStrictEqual([e1, e2, e3]);
    });

    it('forgets a turn whose holder never appended once its time is up', async () => {
      const audit = stores().audit;
      expect(await audit.takeTurn!(100)).toEqual(expect.any(String));
      const e1 = auditEntry(null, '{"n":1}');
      expect(await audit.append(null, [e1])).toStrictEqual({ ok: false, head: null, turnHeld: true });
      await new Promise((r) => setTimeout(r, 250));
      expect(await audit.append(null, [e1])).toStrictEqual({ ok: true });
      expect(await audit.takeTurn!(100)).toEqual(expect.any(String));
    });

    it('appends on the expected head and reports the current head when stale', async () => {
      const e1 = auditEntry(null, '{"n":1}');
      expect(await stores().audit.append(null, [e1])).toStrictEqual({ ok: true });
      const h1 = { seq: 1, hash: e1.hash };
      expect(await stores().audit.head()).toStrictEqual(h1);

      const e2 = auditEntry(h1, '{"n":2}');
      const e3 = auditEntry({ seq: 2, hash: e2.hash }, '{"n":3}');
      expect(await stores().audit.append(h1, [e2, e3])).toStrictEqual({ ok: true });
      const h3 = { seq: 3, hash: e3.hash };
      expect(await stores().audit.head()).toStrictEqual(h3);

      expect(await stores().audit.append(h1, [auditEntry(h1, '{"late":true}')])).toStrictEqual({ ok: false, head: h3 });
      expect(await stores().audit.append(null, [auditEntry(null, '{"late":true}')])).toStrictEqual({ ok: false, head: h3 });
      expect(await stores().audit.append({ seq: 3, hash: 'forged' }, [auditEntry({ seq: 3, hash: 'forged' }, '{}')])).toStrictEqual({ ok: false, head: h3 });
      expect(await stores().audit.range(1, 10)).toStrictEqual([e1, e2, e3]);
    });

    it('reports an empty head to a writer that expected entries', async () => {
      const ghost = { seq: 5, hash: 'h' };
      expect(await stores().audit.append(ghost, [auditEntry(ghost, '{}')])).toStrictEqual({ ok: false, head: null });
    });

    it('refuses a batch that does not continue its own head', async () => {
      const e1 = auditEntry(null, '{}');
      await expect(stores().audit.append(null, [{ ...e1, seq: 2 }])).rejects.toBeInstanceOf(RangeError);
      await expect(stores().audit.append(null, [e1, { ...auditEntry({ seq: 1, hash: 'other' }, '{}') }])).rejects.toBeInstanceOf(RangeError);
      expect(await stores().audit.head()).toBeNull();
    });

    it('pages through a range by seq', async () => {
      let head: AuditHead | null = null;
      const all: AuditEntry[] = [];
      for (let i = 0; i < 12; i++) {
        const e = auditEntry(head, JSON.stringify({ i }));
        expect(await stores().audit.append(head, [e])).toStrictEqual({ ok: true });
        all.push(e);
        head = { seq: e.seq, hash: e.hash };
      }
      expect(await stores().audit.range(1, 5)).toStrictEqual(all.slice(0, 5));
      expect(await stores().audit.range(6, 5)).toStrictEqual(all.slice(5, 10));
      expect(await stores().audit.range(11, 5)).toStrictEqual(all.slice(10));
      expect(await stores().audit.range(13, 5)).toStrictEqual([]);
      expect(await stores().audit.range(0, 1)).toStrictEqual(all.slice(0, 1));
      expect(await stores().audit.range(4, 0)).toStrictEqual([]);

      const newestFirst = [...all].reverse();
      expect(await stores().audit.reverseRange(12, 5)).toStrictEqual(newestFirst.slice(0, 5));
      expect(await stores().audit.reverseRange(7, 5)).toStrictEqual(newestFirst.slice(5, 10));
      expect(await stores().audit.reverseRange(2, 5)).toStrictEqual(newestFirst.slice(10));
      expect(await stores().audit.reverseRange(99, 2)).toStrictEqual(newestFirst.slice(0, 2));
      expect(await stores().audit.reverseRange(0, 5)).toStrictEqual([]);
      expect(await stores().audit.reverseRange(5, 0)).toStrictEqual([]);
    });

    it('keeps the chain gap-free under 20 concurrent writers that retry on conflict', async () => {
      const writer = async (n: number): Promise<void> => {
        let head = await stores().audit.head();
        for (;;) {
          const result = await stores().audit.append(head, [auditEntry(head, JSON.stringify({ writer: n }))]);
          if (result.ok) return;
          head = result.head;
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, n) => writer(n)));
      const entries = await stores().audit.range(1, 100);
      expect(entries.map((e) => e.seq)).toStrictEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      entries.forEach((e, i) => expect(e.prev).toBe(i === 0 ? '' : entries[i - 1]?.hash));
      expect(new Set(entries.map((e) => e.body)).size).toBe(20);
      expect(await stores().audit.head()).toStrictEqual({ seq: 20, hash: entries[19]?.hash });
    });

    it('finds the newest entries naming a grant, newest first, across and within batches', async () => {
      const [a1, b1] = await appendBatch(stores, [
        JSON.stringify({ action: 'token.exchange', grant: 'g-a' }),
        JSON.stringify({ action: 'token.exchange', grant: 'g-b' }),
        JSON.stringify({ action: 'killswitch.engage' }),
        '{not json',
      ]);
      const [a2] = await appendBatch(stores, [JSON.stringify({ grant: 'g-a', details: { grant: 'g-b' } })]);
      const [, a3] = await appendBatch(stores, [JSON.stringify({ grant: 7 }), JSON.stringify({ grant: 'g-a', user: 'u' })]);

      expect(await stores().audit.latestForGrant('g-a', 10)).toStrictEqual([a3, a2, a1]);
      expect(await stores().audit.latestForGrant('g-a', 2)).toStrictEqual([a3, a2]);
      // Only the top-level field counts: a nested `grant` in details is not the record's grant.
      expect(await stores().audit.latestForGrant('g-b', 10)).toStrictEqual([b1]);
      expect(await stores().audit.latestForGrant('g-none', 10)).toStrictEqual([]);
      expect(await stores().audit.latestForGrant('g-a', 0)).toStrictEqual([]);
    });

    it('indexes nothing from an append refused for a stale head', async () => {
      const [first] = await appendBatch(stores, [JSON.stringify({ grant: 'g-a' })]);
      const stale = auditEntry(null, JSON.stringify({ grant: 'g-a', late: true }));
      expect(await stores().audit.append(null, [stale])).toMatchObject({ ok: false });
      expect(await stores().audit.latestForGrant('g-a', 10)).toStrictEqual([first]);
    });

    it(`keeps the newest ${AUDIT_GRANT_INDEX_CAP} entries per grant, whatever the length of the trail`, async () => {
      const entries: AuditEntry[] = [];
      for (let batch = 0; batch < 5; batch++) {
        const bodies = Array.from({ length: 50 }, (_, i) => JSON.stringify({ grant: i % 5 === 0 ? 'g-other' : 'g-busy', n: batch * 50 + i }));
        entries.push(...(await appendBatch(stores, bodies)));
      }
      const busy = entries.filter((e) => (JSON.parse(e.body) as { grant: string }).grant === 'g-busy').reverse();
      expect(busy).toHaveLength(AUDIT_GRANT_INDEX_CAP);
      expect(await stores().audit.latestForGrant('g-busy', 1_000)).toStrictEqual(busy);
      await appendBatch(stores, [JSON.stringify({ grant: 'g-busy', n: 'newest' })]);
      const after = await stores().audit.latestForGrant('g-busy', 1_000);
      expect(after).toHaveLength(AUDIT_GRANT_INDEX_CAP);
      expect(after[0]?.body).toBe(JSON.stringify({ grant: 'g-busy', n: 'newest' }));
      expect(after.slice(1)).toStrictEqual(busy.slice(0, -1));
      expect(await stores().audit.latestForGrant('g-other', 1_000)).toHaveLength(50);
    });
  });
}
