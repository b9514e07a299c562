import { describe, expect, it } from 'vitest';
import { pooledRandomId } from '../../../src/crypto/random-ids.js';

describe('pooledRandomId', () => {
  it('gives distinct base64url ids of the requested size across many pool refills', () => {
    const ids = Array.from({ length: 5_000 }, () => pooledRandomId(16));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[\w-]{22}$/);
    expect(Buffer.from(pooledRandomId(32), 'base64url')).toHaveLength(32);
  });

  it('is not a constant or zero-filled stream', () => {
    const bytes = Buffer.concat(Array.from({ length: 512 }, () => Buffer.from(pooledRandomId(16), 'base64url')));
    const counts = new Array<number>(256).fill(0);
    for (const b of bytes) counts[b]! += 1;
    // 8,192 bytes over 256 values: every value appears, none dominates.
    expect(Math.min(...counts)).toBeGreaterThan(0);
    expect(Math.max(...counts)).toBeLessThan(100);
  });

  it('refuses sizes it cannot serve', () => {
    for (const bad of [0, -1, 257, 1.5]) expect(() => pooledRandomId(bad)).toThrow(RangeError);
  });
});
