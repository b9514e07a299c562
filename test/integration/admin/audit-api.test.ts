import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpointFile, type AuditEventInput } from '../../../src/audit/index.js';
import { auditChainOfGrant, type AuditEntry } from '../../../src/store/audit-store.js';
import { adminCall } from '../../helpers/admin-client.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { createTestPki, startVault, type TestPki, type TestVault } from '../../helpers/vault.js';
import { withRequestId } from '../../helpers/request-id.js';

const ADMIN = 'spiffe://dev.local/admin';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const invalid = {
  error: 'invalid_request',
  error_description: 'The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.',
};

let redis: RedisHandle;
let raw: Redis;
let pki: TestPki;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  pki = await createTestPki();
});
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

/** The grant of every record seeded for the verification tests: they all go to its chain. */
const VERIFIED_GRANT = 'g-verified';
const C = auditChainOfGrant(VERIFIED_GRANT, 16);

/**
 * A vault on its own key prefix with `n` seeded records, numbered in `details.n` and written at
 * least 2 ms apart (so newest first is a strict order across chains): agent a on even numbers, b
 * on odd ones, spread over chains by user; or all of them naming VERIFIED_GRANT (chain C).
 */
async function seeded(prefix: string, n: number, oneChain = false): Promise<TestVault> {
  const vault = await startVault({
    pki,
    overrides: {
      store: { kind: 'redis', redis: { url: redis.url, keyPrefix: prefix } },
      // One trail per prefix, so one checkpoint file per prefix.
      audit: { checkpointFile: join(pki.dir, `checkpoint-${prefix.replace(':', '')}.json`) },
    },
  });
  // Dev mode connects in the background.
  await expect
    .poll(() =>
      vault.runtime.stores.ping().then(
        () => true,
        () => false,
      ),
    )
    .toBe(true);
  for (let i = 1; i <= n; i++) {
    const event: AuditEventInput = {
      action: i % 3 === 0 ? 'token.exchange' : 'token.forward',
      decision: i % 5 === 0 ? 'deny' : 'allow',
      agent: i % 2 === 0 ? 'agent-a' : 'agent-b',
      user: `user-${i % 4}`,
      provider: i <= n / 2 ? 'salesforce' : 'servicenow',
      ...(i === 7 && { traceId: TRACE }),
      ...(oneChain && { grant: VERIFIED_GRANT }),
      details: { n: i },
    };
    await vault.runtime.audit.record(event);
    await new Promise((r) => setTimeout(r, 2));
  }
  return vault;
}

type Page = { items: Array<{ chain: number; seq: number; time: string; details: { n: number } } & Record<string, unknown>>; next?: string };
const seqs = (page: Page) => page.items.map((r) => r.details.n);

/** Rewrites chain C's stored stream (as someone with Redis write access could) through a raw client. */
async function rewriteStream(prefix: string, change: (entries: AuditEntry[]) => AuditEntry[]): Promise<void> {
  const key = `${prefix}{audit:${C}}:log`;
  const rows = await raw.xrange(key, '-', '+');
  const entries = rows.map(([, f]) => ({ chain: C, seq: Number(f[1]), prev: f[3]!, hash: f[5]!, time: f[7]!, body: f[9]! }));
  await raw.del(key);
  for (const e of change(entries)) await raw.xadd(key, `${e.seq}-0`, 'seq', e.seq, 'prev', e.prev, 'hash', e.hash, 'time', e.time, 'body', e.body);
}

type Verified = { ok: boolean; records: number; chains: Array<Record<string, unknown>> };

/** The verification report of chain C, and whether every other chain is fine. */
async function verifiedC(vault: TestVault): Promise<{ ok: boolean; others: boolean; c: Record<string, unknown> }> {
  const res = await adminCall(vault, '/admin/audit/verify');
  expect(res.status).toBe(200);
  const body = res.json<Verified>();
  expect(body.chains.map((r) => r.chain)).toStrictEqual(Array.from({ length: 16 }, (_, i) => i));
  return { ok: body.ok, others: body.chains.every((r) => r.chain === C || r.ok === true), c: body.chains[C]! };
}

/** What verifiedC answers when chain C breaks at `seq` (for `reason`) after `head`, the other chains being fine. */
const brokenC = (head: AuditEntry, seq: number, reason: string, checkpoint: unknown) => ({
  ok: false,
  others: true,
  c: { chain: C, ok: false, records: head.seq, head: { seq: head.seq, hash: head.hash }, firstBroken: { seq, reason }, checkpoint, afterCheckpoint: 0 },
});

/** Cuts chain C after its entry `keep` and moves its head back: a valid, shorter chain. */
async function cutTail(vault: TestVault, prefix: string, keep: number): Promise<AuditEntry> {
  const [last] = await vault.runtime.stores.audit.range(C, keep, 1);
  await rewriteStream(prefix, (entries) => entries.filter((e) => e.seq <= keep));
  await raw.hset(`${prefix}{audit:${C}}:head`, 'seq', keep, 'hash', last!.hash);
  return last!;
}

const checkpointOfC = async (vault: TestVault) => (await vault.runtime.checkpointer.checkpointNow()).find((cp) => cp.chain === C) ?? null;

describe('audit API', () => {
  it('filters newest first and pages to an empty last page', async () => {
    const vault = await seeded('q:', 30);
    try {
      const get = async (qs: string) => {
        const res = await adminCall(vault, `/admin/audit?${qs}`);
        expect(res.status).toBe(200);
        return res.json<Page>();
      };
      const first = await get('agent=agent-a&limit=5');
      expect(seqs(first)).toStrictEqual([30, 28, 26, 24, 22]);
      expect(first.items[0]).toStrictEqual({
        chain: first.items[0]!.chain,
        seq: first.items[0]!.seq,
        time: first.items[0]!.time,
        details: { n: 30 },
        action: 'token.exchange',
        decision: 'deny',
        agent: 'agent-a',
        user: 'user-2',
        provider: 'servicenow',
      });
      const second = await get(`agent=agent-a&limit=5&cursor=${first.next}`);
      expect(seqs(second)).toStrictEqual([20, 18, 16, 14, 12]);
      const third = await get(`agent=agent-a&limit=5&cursor=${second.next}`);
      expect({ seqs: seqs(third), next: typeof third.next }).toStrictEqual({ seqs: [10, 8, 6, 4, 2], next: 'string' });
      expect(await get(`agent=agent-a&limit=5&cursor=${third.next}`)).toStrictEqual({ items: [] });

      expect(seqs(await get('decision=deny&provider=salesforce'))).toStrictEqual([15, 10, 5]);
      expect(seqs(await get('action=token.exchange&user=user-2'))).toStrictEqual([30, 18, 6]);
      expect(seqs(await get(`traceId=${TRACE}`))).toStrictEqual([7]);
      expect(seqs(await get('agent=nobody'))).toStrictEqual([]);
      const all = await get('limit=500');
      expect(seqs(all)).toStrictEqual(Array.from({ length: 30 }, (_, i) => 30 - i));
      const t = all.items.find((r) => r.details.n === 10)!.time;
      const inRange = seqs(await get(`from=${encodeURIComponent(t)}&to=${encodeURIComponent(t)}`));
      expect(inRange).toContain(10);
      expect(seqs(await get('from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z'))).toStrictEqual([]);
    } finally {
      await vault.close();
    }
  });

  it('answers malformed filters with invalid_request', async () => {
    const vault = await seeded('m:', 1);
    try {
      for (const qs of [
        'from=yesterday',
        'limit=0',
        'limit=501',
        'limit=ten',
        'decision=maybe',
        'action=token.steal',
        'traceId=xyz',
        'cursor=abc',
        'cursor=0',
        'cursor=1.2.3',
        `cursor=${'1.'.repeat(16)}1`,
        'colour=red',
        'from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
        'agent=has%20space',
      ]) {
        const res = await adminCall(vault, `/admin/audit?${qs}`);
        expect({ qs, status: res.status, body: res.json() }).toStrictEqual({ qs, status: 400, body: withRequestId(res, invalid) });
      }
    } finally {
      await vault.close();
    }
  });

  it('verifies the chain, reports a modified record, and reports a truncated tail against the checkpoint', async () => {
    const vault = await seeded('v:', 10, true);
    try {
      // Checkpoints taken here only: the background one would sign each verification's own record.
      await vault.runtime.checkpointer.stop();
      const checkpoint = await checkpointOfC(vault);
      const head = await vault.runtime.stores.audit.head(C);
      expect(await verifiedC(vault)).toStrictEqual({ ok: true, others: true, c: { chain: C, ok: true, records: 10, head, checkpoint, afterCheckpoint: 0 } });

      const [e4] = await vault.runtime.stores.audit.range(C, 4, 1);
      await rewriteStream('v:', (entries) => entries.map((e) => (e.seq === 5 ? { ...e, body: e.body.replace('agent-b', 'agent-x') } : e)));
      expect(await verifiedC(vault)).toStrictEqual(brokenC(e4!, 5, 'hash_mismatch', checkpoint));
    } finally {
      await vault.close();
    }

    const truncated = await seeded('t:', 10, true);
    try {
      await truncated.runtime.checkpointer.stop();
      const checkpoint = await checkpointOfC(truncated);
      // Drop the two newest records and move the head back.
      const e8 = await cutTail(truncated, 't:', 8);
      expect(await verifiedC(truncated)).toStrictEqual(brokenC(e8, 9, 'truncated', checkpoint));
    } finally {
      await truncated.close();
    }
  });

  it('signs the head outside Redis within a second of a write, so a tail cut after it is reported as truncated', async () => {
    const path = join(pki.dir, 'checkpoint-a.json');
    const vault = await seeded('a:', 10, true);
    try {
      const stored = () => readCheckpointFile(path, vault.runtime.keys.auditHmacKey);
      // Nobody asks for it: the checkpointer follows the writes on its own.
      await expect.poll(() => stored().then((cps) => cps?.find((cp) => cp.chain === C)?.seq), { timeout: 2_500, interval: 50 }).toBe(10);
      const checkpoint = vault.runtime.checkpointer.latest()[C];
      expect(checkpoint).toStrictEqual((await stored())?.find((cp) => cp.chain === C));
      // Records written before the checkpoint are deleted and the head moved back.
      const e7 = await cutTail(vault, 'a:', 7);
      expect(await verifiedC(vault)).toStrictEqual(brokenC(e7, 8, 'truncated', checkpoint));
    } finally {
      await vault.close();
    }
  });

  it('reports the newest checkpoint and how many records follow it', async () => {
    const vault = await seeded('n:', 10, true);
    try {
      const checkpoint = await checkpointOfC(vault);
      await vault.runtime.checkpointer.stop();
      for (let i = 0; i < 3; i++) await vault.runtime.audit.record({ action: 'token.exchange', decision: 'allow', agent: 'agent-a', grant: VERIFIED_GRANT });
      const head = await vault.runtime.stores.audit.head(C);
      expect(checkpoint).toMatchObject({ seq: 10 });
      expect(await verifiedC(vault)).toStrictEqual({ ok: true, others: true, c: { chain: C, ok: true, records: 13, head, checkpoint, afterCheckpoint: 3 } });
    } finally {
      await vault.close();
    }
  });

  it.each([
    ['deleted', (es: AuditEntry[]) => es.filter((e) => e.seq !== 5), { seq: 5, reason: 'seq_gap' }],
    [
      'reordered',
      (es: AuditEntry[]) => es.map((e) => (e.seq === 5 ? { ...es[5]!, seq: 5 } : e.seq === 6 ? { ...es[4]!, seq: 6 } : e)),
      { seq: 5, reason: 'prev_mismatch' },
    ],
    [
      'inserted',
      (es: AuditEntry[]) => [
        ...es.slice(0, 5),
        { ...es[4]!, seq: 6, body: es[4]!.body.replace('"seq":5', '"seq":6') },
        ...es.slice(5).map((e) => ({ ...e, seq: e.seq + 1 })),
      ],
      { seq: 6, reason: 'prev_mismatch' },
    ],
  ] as const)('reports a %s record at the first broken link', async (name, change, firstBroken) => {
    const vault = await seeded(`${name}:`, 10, true);
    try {
      await rewriteStream(`${name}:`, (entries) => change(entries));
      expect(await verifiedC(vault)).toMatchObject({ ok: false, others: true, c: { chain: C, ok: false, firstBroken } });
    } finally {
      await vault.close();
    }
  });

  it('exports the stored chains as JSON lines, chain by chain, its own export record included; or one chain from a seq', async () => {
    const vault = await seeded('e:', 5);
    try {
      const lines = async (qs: string) => {
        const res = await adminCall(vault, `/admin/audit/export${qs}`);
        expect([res.status, res.headers['content-type']]).toStrictEqual([200, 'application/x-ndjson']);
        return res.text
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l) as AuditEntry);
      };
      const all = await lines('');
      const stored = await Promise.all(Array.from({ length: 16 }, (_, c) => vault.runtime.stores.audit.range(c, 1, 100)));
      expect(all).toStrictEqual(stored.flat());
      expect(all).toHaveLength(6);
      const exported = all.map((e) => JSON.parse(e.body) as Record<string, unknown>).find((r) => r.reason === 'audit.export');
      expect(exported).toMatchObject({ action: 'admin.action', actor: ADMIN, details: { fromSeq: 1 } });
      const c = (exported as { chain: number }).chain;
      // Its own record goes to the same chain (same actor), before the first line leaves.
      const one = await lines(`?chain=${c}&fromSeq=2`);
      expect(one).toStrictEqual(await vault.runtime.stores.audit.range(c, 2, 100));
      expect(JSON.parse(one.at(-1)!.body)).toMatchObject({ reason: 'audit.export', details: { chain: c, fromSeq: 2 } });
      for (const qs of ['?fromSeq=2', '?chain=16', '?chain=x']) {
        const res = await adminCall(vault, `/admin/audit/export${qs}`);
        expect({ qs, status: res.status, body: res.json() }).toStrictEqual({ qs, status: 400, body: withRequestId(res, invalid) });
      }
    } finally {
      await vault.close();
    }
  });
});
