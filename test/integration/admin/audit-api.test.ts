import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpointFile, type AuditEventInput } from '../../../src/audit/index.js';
import type { AuditEntry } from '../../../src/store/audit-store.js';
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

/** A vault on its own key prefix with `n` seeded records: agent a on even seqs, b on odd ones. */
async function seeded(prefix: string, n: number): Promise<TestVault> {
  const vault = await startVault({
    pki,
    overrides: {
      store: { kind: 'redis', redis: { url: redis.url, keyPrefix: prefix } },
      // One chain per prefix, so one checkpoint file per prefix.
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
    };
    await vault.runtime.audit.record(event);
  }
  return vault;
}

type Page = { items: Array<{ seq: number; time: string } & Record<string, unknown>>; next?: string };
const seqs = (page: Page) => page.items.map((r) => r.seq);

/** Rewrites the stored stream (as someone with Redis write access could) through a raw client. */
async function rewriteStream(prefix: string, change: (entries: AuditEntry[]) => AuditEntry[]): Promise<void> {
  const key = `${prefix}{audit}:log`;
  const rows = await raw.xrange(key, '-', '+');
  const entries = rows.map(([, f]) => ({ seq: Number(f[1]), prev: f[3]!, hash: f[5]!, body: f[7]! }));
  await raw.del(key);
  for (const e of change(entries)) await raw.xadd(key, `${e.seq}-0`, 'seq', e.seq, 'prev', e.prev, 'hash', e.hash, 'body', e.body);
}

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
        seq: 30,
        time: first.items[0]!.time,
        action: 'token.exchange',
        decision: 'deny',
        agent: 'agent-a',
        user: 'user-2',
        provider: 'servicenow',
      });
      const second = await get(`agent=agent-a&limit=5&cursor=${first.next}`);
      expect(seqs(second)).toStrictEqual([20, 18, 16, 14, 12]);
      const third = await get(`agent=agent-a&limit=5&cursor=${second.next}`);
      expect({ seqs: seqs(third), next: third.next }).toStrictEqual({ seqs: [10, 8, 6, 4, 2], next: '1' });
      expect(await get(`agent=agent-a&limit=5&cursor=${third.next}`)).toStrictEqual({ items: [] });

      expect(seqs(await get('decision=deny&provider=salesforce'))).toStrictEqual([15, 10, 5]);
      expect(seqs(await get('action=token.exchange&user=user-2'))).toStrictEqual([30, 18, 6]);
      expect(seqs(await get(`traceId=${TRACE}`))).toStrictEqual([7]);
      expect(seqs(await get('agent=nobody'))).toStrictEqual([]);
      const all = await get('limit=500');
      expect(seqs(all)).toStrictEqual(Array.from({ length: 30 }, (_, i) => 30 - i));
      const t = all.items.find((r) => r.seq === 10)!.time;
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
    const vault = await seeded('v:', 10);
    try {
      // Checkpoints taken here only: the background one would sign each verification's own record.
      vault.runtime.checkpointer.stop();
      const checkpoint = await vault.runtime.checkpointer.checkpointNow();
      const head = await vault.runtime.stores.audit.head();
      const clean = await adminCall(vault, '/admin/audit/verify');
      expect(clean.json()).toStrictEqual({ ok: true, records: 10, head, checkpoint, afterCheckpoint: 0 });

      const [e4] = await vault.runtime.stores.audit.range(4, 1);
      await rewriteStream('v:', (entries) => entries.map((e) => (e.seq === 5 ? { ...e, body: e.body.replace('agent-b', 'agent-x') } : e)));
      const modified = await adminCall(vault, '/admin/audit/verify');
      expect(modified.json()).toStrictEqual({
        ok: false,
        records: 4,
        head: { seq: 4, hash: e4!.hash },
        firstBroken: { seq: 5, reason: 'hash_mismatch' },
        checkpoint,
        afterCheckpoint: 0,
      });
    } finally {
      await vault.close();
    }

    const truncated = await seeded('t:', 10);
    try {
      truncated.runtime.checkpointer.stop();
      const checkpoint = await truncated.runtime.checkpointer.checkpointNow();
      const [e8] = await truncated.runtime.stores.audit.range(8, 1);
      // Drop the two newest records and move the head back: a valid, shorter chain.
      await rewriteStream('t:', (entries) => entries.filter((e) => e.seq <= 8));
      await raw.hset('t:{audit}:head', 'seq', 8, 'hash', e8!.hash);
      const res = await adminCall(truncated, '/admin/audit/verify');
      expect(res.json()).toStrictEqual({
        ok: false,
        records: 8,
        head: { seq: 8, hash: e8!.hash },
        firstBroken: { seq: 9, reason: 'truncated' },
        checkpoint,
        afterCheckpoint: 0,
      });
    } finally {
      await truncated.close();
    }
  });

  it('signs the head outside Redis within a second of a write, so a tail cut after it is reported as truncated', async () => {
    const path = join(pki.dir, 'checkpoint-a.json');
    const vault = await seeded('a:', 10);
    try {
      // Nobody asks for it: the checkpointer follows the writes on its own.
      await expect.poll(() => readCheckpointFile(path, vault.runtime.keys.auditHmacKey).then((cp) => cp?.seq), { timeout: 2_500, interval: 50 }).toBe(10);
      const checkpoint = vault.runtime.checkpointer.latest();
      expect(checkpoint).toStrictEqual(await readCheckpointFile(path, vault.runtime.keys.auditHmacKey));
      const [e7] = await vault.runtime.stores.audit.range(7, 1);
      // Records written before the checkpoint are deleted and the head moved back: a valid, shorter chain.
      await rewriteStream('a:', (entries) => entries.filter((e) => e.seq <= 7));
      await raw.hset('a:{audit}:head', 'seq', 7, 'hash', e7!.hash);
      const res = await adminCall(vault, '/admin/audit/verify');
      expect(res.json()).toStrictEqual({
        ok: false,
        records: 7,
        head: { seq: 7, hash: e7!.hash },
        firstBroken: { seq: 8, reason: 'truncated' },
        checkpoint,
        afterCheckpoint: 0,
      });
    } finally {
      await vault.close();
    }
  });

  it('reports the newest checkpoint and how many records follow it', async () => {
    const vault = await seeded('n:', 10);
    try {
      const checkpoint = await vault.runtime.checkpointer.checkpointNow();
      vault.runtime.checkpointer.stop();
      for (let i = 0; i < 3; i++) await vault.runtime.audit.record({ action: 'token.exchange', decision: 'allow', agent: 'agent-a' });
      const head = await vault.runtime.stores.audit.head();
      const res = await adminCall(vault, '/admin/audit/verify');
      expect(checkpoint).toMatchObject({ seq: 10 });
      expect(res.json()).toStrictEqual({ ok: true, records: 13, head, checkpoint, afterCheckpoint: 3 });
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
    const vault = await seeded(`${name}:`, 10);
    try {
      await rewriteStream(`${name}:`, (entries) => change(entries));
      const res = await adminCall(vault, '/admin/audit/verify');
      expect(res.json<{ ok: boolean; firstBroken: unknown }>()).toMatchObject({ ok: false, firstBroken });
    } finally {
      await vault.close();
    }
  });

  it('exports the stored chain as JSON lines, its own export record included', async () => {
    const vault = await seeded('e:', 5);
    try {
      const res = await adminCall(vault, '/admin/audit/export');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/x-ndjson');
      const lines = res.text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditEntry);
      expect(lines).toStrictEqual(await vault.runtime.stores.audit.range(1, 100));
      expect(lines).toHaveLength(6);
      expect(JSON.parse(lines[5]!.body)).toMatchObject({ action: 'admin.action', reason: 'audit.export', actor: ADMIN, details: { fromSeq: 1 } });
    } finally {
      await vault.close();
    }
  });
});
