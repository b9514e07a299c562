import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileCheckpointSink, readCheckpointFile, signCheckpoint } from '../../../src/audit/index.js';

describe('checkpoint file sink', () => {
  it('survives concurrent writers on one path (replicas sharing a checkpoint file), keeping the newest checkpoint of each chain', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tv-cp-'));
    try {
      const key = randomBytes(32);
      const path = join(dir, 'audit-checkpoint.json');
      const [a, b] = [fileCheckpointSink(path, key), fileCheckpointSink(path, key)];
      const writes = Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b)([signCheckpoint(key, i % 4, { seq: i + 1, hash: `h${i}` }, new Date(0).toISOString())]),
      );
      await expect(Promise.all(writes)).resolves.toHaveLength(40);
      const stored = (await readCheckpointFile(path, key)) ?? [];
      expect(stored.length).toBeGreaterThan(0);
      for (const cp of stored) expect([cp.chain, cp.hash]).toStrictEqual([cp.chain, `h${cp.seq - 1}`]);
      expect(stored.every((cp) => (cp.seq - 1) % 4 === cp.chain)).toBe(true);
      expect(await readdir(dir)).toStrictEqual(['audit-checkpoint.json']);

      // Written one after the other, each chain's newest checkpoint stays, whoever wrote it.
      await a([signCheckpoint(key, 0, { seq: 100, hash: 'h0' }, new Date(0).toISOString())]);
      await b([
        signCheckpoint(key, 1, { seq: 101, hash: 'h1' }, new Date(0).toISOString()),
        signCheckpoint(key, 0, { seq: 50, hash: 'old' }, new Date(0).toISOString()),
      ]);
      const merged = (await readCheckpointFile(path, key)) ?? [];
      expect(merged.filter((cp) => cp.chain < 2).map((cp) => [cp.chain, cp.seq])).toStrictEqual([
        [0, 100],
        [1, 101],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
