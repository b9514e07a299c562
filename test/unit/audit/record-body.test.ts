import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/audit/chain.js';
import type { AuditRecord } from '../../../src/audit/events.js';
import { recordBody } from '../../../src/audit/record-body.js';

const time = '2026-11-01T00:00:00.000Z';

/** Every field of a record set, in an order unlike the sorted one. */
const full: AuditRecord = {
  user: 'https://idp.test|alice',
  traceId: '0af7651916cd43dd8448eb211c80319c',
  tokenHmac: 'eiTwIRiyfnLPVn9D8aiPiTMvUFM-O9x_TWRCop6aPCI',
  time,
  seq: 7,
  requestId: 'req-1',
  reason: 'ok "quoted" \u2028 ünïcode',
  provider: 'crm',
  operation: 'crm:records.read',
  jti: 'rCAk_nJ_WaCetSpgtvgv9Q',
  grant: 'g-1',
  gateway: 'spiffe://dev.local/gateway',
  details: { status: 200, method: 'GET', cached: true, Zed: 'upper before lower', 'a-b': 1.5 },
  decision: 'allow',
  chain: 3,
  agent: 'spiffe://dev.local/agent/a',
  actor: 'admin',
  action: 'token.exchange',
};

describe('audit record body', () => {
  it('is byte-for-byte the canonical JSON of a record with every field set', () => {
    const body = recordBody(full);
    expect(body).toBe(canonicalJson(full));
    expect(Object.keys(JSON.parse(body ?? '{}') as object)).toStrictEqual(Object.keys(full).sort());
  });

  it('is the canonical JSON of the smallest record, and skips fields set to undefined as canonicalJson does', () => {
    const small = { action: 'grant.revoke', decision: 'deny', time, chain: 0, seq: 1, reason: undefined } as unknown as AuditRecord;
    expect(recordBody(small)).toBe(`{"action":"grant.revoke","chain":0,"decision":"deny","seq":1,"time":"${time}"}`);
    expect(recordBody(small)).toBe(canonicalJson(small));
  });

  it('leaves to canonicalJson what the fixed layout does not cover: unknown fields, index-like or nested details', () => {
    const base: AuditRecord = { action: 'admin.action', decision: 'allow', time, chain: 1, seq: 2 };
    expect([
      recordBody({ ...base, extra: 'x' } as AuditRecord),
      recordBody({ ...base, details: { '10': 'a', '9': 'b' } }),
      recordBody({ ...base, details: { nested: { a: 1 } } as unknown as Record<string, string> }),
      recordBody({ ...base, reason: ['a'] as unknown as string }),
    ]).toStrictEqual([undefined, undefined, undefined, undefined]);
  });
});
