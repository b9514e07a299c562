import { describe, expect, it } from 'vitest';
import type { AuditEntry, AuditHead, Stores } from '../../src/store/types.js';
import { auditEntry } from './fixtures.js';

/** AuditStore behaviour: compare-and-append head, paging by seq, concurrent writers. */
export function describeAuditStoreContract(stores: () => Stores): void {
  describe('audit', () => {
    it('has no head while empty', async () => {
      expect(await stores().audit.head()).toBeNull();
      expect(await stores().audit.range(1, 10)).toStrictEqual([]);
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
  });
}
