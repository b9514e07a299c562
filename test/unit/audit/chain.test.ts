import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, chainHash, chainRecords, entryVerifies } from '../../../src/audit/chain.js';
import { deriveAuditKeys } from '../../../src/audit/keys.js';

const key = randomBytes(32);
const keys = deriveAuditKeys(key);

describe('audit hash chain', () => {
  it('serialises records with sorted keys at every level, so equal records give equal bodies', () => {
    expect(canonicalJson({ b: 1, a: { d: true, c: 'x' }, e: undefined })).toBe('{"a":{"c":"x","d":true},"b":1}');
    expect(canonicalJson({ a: { c: 'x', d: true }, b: 1 })).toBe(canonicalJson({ b: 1, a: { d: true, c: 'x' } }));
  });

  it('MACs prev, seq and body with newline separators under the raw audit key', () => {
    const expected = createHmac('sha256', key).update('prevhash\n7\n{"a":1}').digest('base64url');
    expect(chainHash(keys.chain, 'prevhash', 7, '{"a":1}')).toBe(expected);
  });

  it('links each record to the previous hash, numbers them after the head and names their chain in the body (under the MAC)', () => {
    const time = '2026-11-01T00:00:00.000Z';
    const { entries, stored } = chainRecords(keys.chain, 2, { seq: 4, hash: 'h4' }, [
      { action: 'token.exchange', decision: 'allow', time },
      { action: 'token.forward', decision: 'deny', reason: 'uses_exhausted', time },
    ]);
    expect(stored).toStrictEqual([
      { action: 'token.exchange', decision: 'allow', time, chain: 2, seq: 5 },
      { action: 'token.forward', decision: 'deny', reason: 'uses_exhausted', time, chain: 2, seq: 6 },
    ]);
    expect(entries.map((e) => [e.chain, e.seq, e.prev, e.time])).toStrictEqual([
      [2, 5, 'h4', time],
      [2, 6, entries[0]?.hash, time],
    ]);
    expect(entries[0]?.body).toBe(`{"action":"token.exchange","chain":2,"decision":"allow","seq":5,"time":"${time}"}`);
    for (const e of entries) expect(entryVerifies(keys.chain, e)).toBe(true);
    expect(entryVerifies(deriveAuditKeys(randomBytes(32)).chain, entries[0]!)).toBe(false);
  });

  it('refuses an audit key shorter than 32 bytes', () => {
    expect(() => deriveAuditKeys(randomBytes(16))).toThrow(RangeError);
  });
});
