import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditContentionError, AuditEventError, AuditOverloadError } from '../../../src/audit/errors.js';
import type { AuditEventInput, AuditRecord } from '../../../src/audit/events.js';
import { verifyChain, verifyTrail } from '../../../src/audit/verify.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';
import { passThrough } from '../../helpers/audit-writers.js';
import { StoreUnavailableError } from '../../../src/store/errors.js';
import { auditChainOf, auditChainOfGrant, type AuditStore } from '../../../src/store/audit-store.js';

const hmacKey = randomBytes(32);
const NOW = Date.parse('2026-11-02T10:00:00.000Z');

/** The memory store (one chain unless given), counting appends and failing on demand like an unreachable Redis. */
function instrumented(inner: AuditStore = createMemoryStores(1).audit) {
  const stats = { appends: 0, heads: 0, batchSizes: [] as number[], chains: [] as number[], down: false };
  const store: AuditStore = {
    ...passThrough(inner),
    async head(chain) {
      stats.heads += 1;
      if (stats.down) throw new StoreUnavailableError('store unreachable');
      return inner.head(chain);
    },
    heads: () => inner.heads(),
    async append(chain, head, entries) {
      stats.appends += 1;
      if (stats.down) throw new StoreUnavailableError('store unreachable');
      stats.batchSizes.push(entries.length);
      stats.chains.push(chain);
      return inner.append(chain, head, entries);
    },
  };
  return { store, stats, inner };
}

const event = (n: number): AuditEventInput => ({
  action: 'token.exchange',
  decision: 'allow',
  requestId: `req-${n}`,
  agent: 'spiffe://corp.example/agent/a',
});

describe('audit writer', () => {
  it('group-commits 500 concurrent records into a few appends, gap-free, each caller getting its own record', async () => {
    const { store, stats } = instrumented();
    const logged: AuditRecord[] = [];
    const writer = createAuditWriter({ store, hmacKey, now: () => NOW, log: (r) => logged.push(r) });
    const records = await Promise.all(Array.from({ length: 500 }, (_, n) => writer.record(event(n))));

    records.forEach((r, n) => expect(r).toStrictEqual({ ...event(n), chain: 0, seq: r.seq, time: '2026-11-02T10:00:00.000Z' }));
    expect(records.map((r) => r.seq).sort((a, b) => a - b)).toStrictEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(stats.appends).toBeLessThanOrEqual(4);
    expect(Math.max(...stats.batchSizes)).toBeLessThanOrEqual(256);
    expect(logged.map((r) => r.seq)).toStrictEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(await verifyChain(store, hmacKey)).toStrictEqual({ chain: 0, ok: true, records: 500, head: expect.objectContaining({ seq: 500 }) });
    console.info(`group commit: 500 records in ${stats.appends} appends (batches ${stats.batchSizes.join(', ')})`);
  });

  it('reads the head once and then chains on the head it wrote', async () => {
    const { store, stats } = instrumented();
    const writer = createAuditWriter({ store, hmacKey });
    for (let n = 0; n < 5; n++) await writer.record(event(n));
    expect(stats).toMatchObject({ heads: 1, appends: 5 });
  });

  it('rejects every caller of a batch when the store fails, then recovers with a fresh head', async () => {
    const { store, stats } = instrumented();
    const writer = createAuditWriter({ store, hmacKey });
    await writer.record(event(0));
    stats.down = true;
    const failed = await Promise.allSettled(Array.from({ length: 10 }, (_, n) => writer.record(event(n + 1))));
    expect(failed.every((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError)).toBe(true);
    stats.down = false;
    const headsBefore = stats.heads;
    expect((await writer.record(event(11))).seq).toBe(2);
    expect(stats.heads).toBe(headsBefore + 1);
    expect(await verifyChain(store, hmacKey)).toMatchObject({ ok: true, records: 2 });
  });

  it('re-chains on the head another replica wrote, never duplicating or dropping an event', async () => {
    const shared = createMemoryStores(1).audit;
    const a = instrumented(shared);
    const b = instrumented(shared);
    const wa = createAuditWriter({ store: a.store, hmacKey });
    const wb = createAuditWriter({ store: b.store, hmacKey });
    const all = await Promise.all(Array.from({ length: 200 }, (_, n) => (n % 2 === 0 ? wa : wb).record(event(n))));
    const entries = await shared.range(0, 1, 1000);
    expect(entries.map((e) => e.seq)).toStrictEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const ids = entries.map((e) => (JSON.parse(e.body) as AuditRecord).requestId).sort();
    expect(ids).toStrictEqual(Array.from({ length: 200 }, (_, n) => `req-${n}`).sort());
    expect(new Set(all.map((r) => r.seq)).size).toBe(200);
    expect(await verifyChain(shared, hmacKey)).toMatchObject({ ok: true, records: 200 });
  });

  it('retries a lost race once at once without the turn, then asks for the turn in the append that refuses it', async () => {
    const inner = createMemoryStores(1).audit;
    const rival = createAuditWriter({ store: inner, hmacKey, now: () => NOW });
    const claims: Array<number | undefined> = [];
    let races = 2;
    const { store } = instrumented(inner);
    store.append = async (chain, head, entries, turn, claimMs) => {
      claims.push(claimMs);
      // Another replica appends just before each of this writer's first two attempts.
      if (races-- > 0) await rival.record(event(100 + races));
      return inner.append(chain, head, entries, turn, claimMs);
    };
    const writer = createAuditWriter({ store, hmacKey, now: () => NOW });

    expect(await writer.record(event(0))).toStrictEqual({ ...event(0), chain: 0, seq: 3, time: '2026-11-02T10:00:00.000Z' });
    expect(claims).toStrictEqual([undefined, 250, 250]);
    expect(await verifyChain(inner, hmacKey)).toStrictEqual({ chain: 0, ok: true, records: 3, head: expect.objectContaining({ seq: 3 }) });
  });

  it('gives up after bounded retries when the head never settles', async () => {
    const { store: inner } = instrumented();
    const store: AuditStore = { ...inner, append: async () => ({ ok: false, head: { seq: 99, hash: 'always-moving' } }) };
    const writer = createAuditWriter({ store, hmacKey, maxRetries: 3 });
    await expect(writer.record(event(0))).rejects.toBeInstanceOf(AuditContentionError);
  });

  it('rejects at once beyond the queue limit (backpressure, fail closed)', async () => {
    const { store } = instrumented();
    const writer = createAuditWriter({ store, hmacKey, maxQueue: 10 });
    const results = await Promise.allSettled(Array.from({ length: 15 }, (_, n) => writer.record(event(n))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    expect(results.slice(10).every((r) => r.status === 'rejected' && r.reason instanceof AuditOverloadError)).toBe(true);
    expect(new AuditOverloadError('x')).toBeInstanceOf(StoreUnavailableError);
  });

  it('refuses events carrying something that looks like a secret, naming only the field', async () => {
    const { store, stats } = instrumented();
    const writer = createAuditWriter({ store, hmacKey });
    const jwt = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl';
    const bad: unknown[] = [
      { ...event(0), reason: jwt },
      { ...event(0), reason: `upstream said ${jwt}` },
      { ...event(0), user: 'x'.repeat(513) },
      { ...event(0), tokenHmac: '00Dxx0000001gPL!AQ4AQFm1lHXuYFwBNY0ADzHbzHnRJWsDg' },
      { ...event(0), details: { header: jwt } },
      { ...event(0), details: { n: Number.NaN } },
      { ...event(0), accessToken: 'opaque' },
      { ...event(0), action: 'token.steal' },
    ];
    for (const e of bad) {
      const err = await writer.record(e as AuditEventInput).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(AuditEventError);
      expect(String((err as Error).message)).not.toContain('eyJ');
    }
    expect(stats.appends).toBe(0);
    const ok = await writer.record({ ...event(1), tokenHmac: writer.tokenHmac(jwt), details: { status: 200, cached: true } });
    expect(ok.seq).toBe(1);
  });

  it('HMACs tokens under a key derived from, not equal to, the audit key', () => {
    const writer = createAuditWriter({ store: createMemoryStores(1).audit, hmacKey });
    const mac = writer.tokenHmac('refresh-token-value');
    expect(mac).toMatch(/^[\w-]{43}$/);
    expect(mac).toBe(writer.tokenHmac('refresh-token-value'));
    expect(mac).not.toBe(createHmac('sha256', hmacKey).update('refresh-token-value').digest('base64url'));
  });

  it('keeps records durable when the log mirror throws', async () => {
    const writer = createAuditWriter({
      store: createMemoryStores(1).audit,
      hmacKey,
      log: () => {
        throw new Error('disk full');
      },
    });
    await expect(writer.record(event(0))).resolves.toMatchObject({ seq: 1 });
  });

  it('sends each record to the chain of its grant (else user, actor, action), group-committing per chain', async () => {
    const { store, stats, inner } = instrumented(createMemoryStores(16).audit);
    const writer = createAuditWriter({ store, hmacKey });
    const grants = Array.from({ length: 8 }, (_, i) => `g-${i}`);
    const records = await Promise.all(Array.from({ length: 400 }, (_, n) => writer.record({ ...event(n), grant: grants[n % 8]! })));
    for (const r of records) expect(r.chain).toBe(auditChainOfGrant(r.grant!, 16));
    // One grant's records keep their order in its chain.
    const g0 = records.filter((r) => r.grant === 'g-0').map((r) => r.seq);
    expect(g0).toStrictEqual([...g0].sort((a, b) => a - b));
    const used = new Set(records.map((r) => r.chain));
    expect(used.size).toBeGreaterThan(1);
    // Each chain got its records in one append (they were all recorded in one tick).
    expect(stats.chains.sort((a, b) => a - b)).toStrictEqual([...used].sort((a, b) => a - b));
    const report = await verifyTrail(inner, hmacKey);
    expect(report).toMatchObject({ ok: true, records: 400 });
    expect(report.chains.filter((c) => c.records > 0).map((c) => c.chain)).toStrictEqual([...used].sort((a, b) => a - b));
    const kill = await writer.record({ action: 'killswitch.engage', decision: 'allow', actor: 'spiffe://corp.example/admin' });
    expect(kill.chain).toBe(auditChainOf({ action: 'killswitch.engage', actor: 'spiffe://corp.example/admin' }, 16));
  });
});
