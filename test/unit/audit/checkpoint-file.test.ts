import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileCheckpointSink, readCheckpointFile, signCheckpoint } from '../../../src/audit/index.js';

describe('checkpoint file sink', () => {
  it('survives concurrent writers on one path (replicas sharing a checkpoint file)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tv-cp-'));
    try {
      const key = randomBytes(32);
      const path = join(dir, 'audit-checkpoint.json');
      const [a, b] = [fileCheckpointSink(path), fileCheckpointSink(path)];
      const writes = Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b)(signCheckpoint(key, { seq: i + 1, hash: `h${i}` }, new Date(0).toISOString())));
      await expect(Promise.all(writes)).resolves.toHaveLength(40);
      const stored = await readCheckpointFile(path, key);
      expect(stored?.hash).toBe(`h${stored!.seq - 1}`);
      expect(await readdir(dir)).toStrictEqual(['audit-checkpoint.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
