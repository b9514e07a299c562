/**
 * The approval service on the memory store with a controlled clock: a decision after expiry,
 * a double submit, and the polls around them, each with the audit trail it leaves.
 */
import { describe, expect, it } from 'vitest';
import { Approvals } from '../../../src/approvals/approval-service.js';
import type { AuditEventInput, AuditRecord, AuditWriter } from '../../../src/audit/events.js';
import { MemoryApprovalStore } from '../../../src/store/memory/approval-store.js';
import { approvalIdOf } from '../../../src/approvals/approval-service.js';

const binding = { gateway: 'spiffe://gw', certThumbprint: 't'.repeat(43), agent: 'spiffe://agent', userId: 'idp#alice' };
const alice = { role: 'user', id: 'idp#alice' } as const;

function world() {
  let now = Date.now();
  const events: AuditEventInput[] = [];
  const audit: AuditWriter = {
    record: async (event) => {
      events.push(event);
      return { ...event, seq: events.length, time: '' } as AuditRecord;
    },
    tokenHmac: () => 'h'.repeat(43),
  };
  const approvals = new Approvals({ store: new MemoryApprovalStore(), audit, ttlSeconds: 60, pollIntervalSeconds: 1, now: () => now });
  const ask = async () => {
    const err = await approvals
      .ask({
        approver: 'user',
        binding,
        grantId: 'g-1',
        provider: 'crm',
        operation: 'crm:leads.write',
        detail: { type: 'crm', actions: ['leads.write'], method: 'POST', path: '/leads', body_sha256: 'b'.repeat(43) },
        action: { method: 'POST', path: '/leads', bodySha256: 'b'.repeat(43) },
        requestId: 'r-1',
      })
      .catch((e: { extra: { auth_req_id: string } }) => e);
    const authReqId = err.extra.auth_req_id;
    return { authReqId, id: approvalIdOf(authReqId) };
  };
  return { approvals, events, ask, advance: (ms: number) => (now += ms) };
}

describe('approval service', () => {
  it('refuses a decision after expiry, audits the attempt as an error, and answers expired_token to the poll', async () => {
    const w = world();
    const { authReqId, id } = await w.ask();
    w.advance(60_000);
    expect(await w.approvals.decide(id, 'approved', alice, 'r-2')).toBe('expired');
    expect(w.events.map((e) => [e.action, e.decision, e.reason])).toStrictEqual([
      ['approval.request', 'allow', undefined],
      ['approval.decide', 'error', 'expired'],
    ]);
    await expect(w.approvals.collect(authReqId, binding)).rejects.toMatchObject({ code: 'TV_EXPIRED_TOKEN' });
  });

  it('lets only the first of two submitted decisions land; the second is audited as an error', async () => {
    const w = world();
    const { authReqId, id } = await w.ask();
    const both = await Promise.all([w.approvals.decide(id, 'approved', alice, 'r-2'), w.approvals.decide(id, 'denied', alice, 'r-3')]);
    expect(both).toStrictEqual(['decided', 'already_decided']);
    expect(w.events.filter((e) => e.action === 'approval.decide').map((e) => [e.decision, e.actor, e.reason])).toStrictEqual([
      ['allow', 'user:idp#alice', undefined],
      ['deny', 'user:idp#alice', undefined],
      ['error', 'user:idp#alice', 'already_decided'],
    ]);
    await expect(w.approvals.collect(authReqId, binding)).resolves.toMatchObject({ id, method: 'POST', path: '/leads' });
    w.advance(1_000);
    await expect(w.approvals.collect(authReqId, binding)).rejects.toMatchObject({ code: 'TV_INVALID_GRANT' });
  });

  it('answers unknown to a decision by another user, with no audit record', async () => {
    const w = world();
    const { id } = await w.ask();
    expect(await w.approvals.decide(id, 'approved', { role: 'user', id: 'idp#bob' }, 'r-2')).toBe('unknown');
    expect(await w.approvals.decide(id, 'approved', { role: 'admin', id: 'ops' }, 'r-2')).toBe('unknown');
    expect(w.events.map((e) => e.action)).toStrictEqual(['approval.request']);
  });
});
