import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ApprovalBinding, ApprovalRecord } from '../../src/store/approval-store.js';
import type { Stores } from '../../src/store/stores.js';

const NOW = Date.now();

/** A pending user-approved request made now, expiring in a minute, polled at most every second. */
export function approvalFixture(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id: randomUUID().replace(/-/g, ''),
    approver: 'user',
    gateway: 'spiffe://corp.example/gateway',
    certThumbprint: 'x'.repeat(43),
    agent: 'spiffe://corp.example/agent/a',
    userId: 'https://idp.example|alice',
    grantId: 'g-1',
    provider: 'crm',
    operation: 'crm:leads.write',
    method: 'POST',
    path: '/leads',
    bodySha256: 'y'.repeat(43),
    summary: 'Create the lead <b>Ada</b>',
    detail: '{"type":"crm"}',
    createdAt: NOW,
    expiresAt: NOW + 60_000,
    intervalMs: 1_000,
    ...overrides,
  };
}

const bindingOf = (r: ApprovalRecord): ApprovalBinding => ({ gateway: r.gateway, certThumbprint: r.certThumbprint, agent: r.agent, userId: r.userId });
const alice = { role: 'user', id: 'https://idp.example|alice' } as const;
const admin = { role: 'admin', id: 'security-team' } as const;

/** ApprovalStore behaviour: one state machine, every transition atomic, polls bound to their caller. */
export function describeApprovalStoreContract(stores: () => Stores): void {
  describe('approvals', () => {
    it('stores a pending request and lists it for its user only', async () => {
      const record = approvalFixture();
      await stores().approvals.create(record, record.expiresAt + 60_000);
      expect(await stores().approvals.get(record.id, NOW)).toStrictEqual({ record, status: 'pending' });
      expect(await stores().approvals.pendingForUser(record.userId, NOW)).toStrictEqual([{ record, status: 'pending' }]);
      expect(await stores().approvals.pendingForUser('https://idp.example|bob', NOW)).toStrictEqual([]);
      expect(await stores().approvals.pendingForAdmins(NOW)).toStrictEqual([]);
      expect(await stores().approvals.get('unknown', NOW)).toBeNull();
    });

    it('lists admin requests oldest first and drops them from the list once decided or expired', async () => {
      const older = approvalFixture({ approver: 'admin', createdAt: NOW - 2_000 });
      const newer = approvalFixture({ approver: 'admin', createdAt: NOW - 1_000, expiresAt: NOW + 5_000 });
      await stores().approvals.create(newer, NOW + 60_000);
      await stores().approvals.create(older, NOW + 60_000);
      expect((await stores().approvals.pendingForAdmins(NOW)).map((v) => v.record.id)).toStrictEqual([older.id, newer.id]);
      expect(await stores().approvals.decide(older.id, 'denied', admin, NOW)).toBe('decided');
      expect((await stores().approvals.pendingForAdmins(NOW)).map((v) => v.record.id)).toStrictEqual([newer.id]);
      expect(await stores().approvals.pendingForAdmins(NOW + 5_000)).toStrictEqual([]);
      expect(await stores().approvals.get(older.id, NOW)).toStrictEqual({ record: older, status: 'denied', decidedBy: 'admin:security-team', decidedAt: NOW });
    });

    it('answers pending, then slow_down for a poll within the interval, then the approved record once', async () => {
      const record = approvalFixture();
      await stores().approvals.create(record, record.expiresAt + 60_000);
      const poll = (at: number) => stores().approvals.poll(record.id, bindingOf(record), at);
      expect(await poll(NOW + 1_000)).toStrictEqual({ outcome: 'pending' });
      expect(await poll(NOW + 1_500)).toStrictEqual({ outcome: 'slow_down' });
      expect(await stores().approvals.decide(record.id, 'approved', alice, NOW + 2_000)).toBe('decided');
      expect(await poll(NOW + 2_200)).toStrictEqual({ outcome: 'slow_down' });
      expect(await poll(NOW + 3_200)).toStrictEqual({ outcome: 'approved', record });
      expect(await poll(NOW + 5_000)).toStrictEqual({ outcome: 'consumed' });
      expect((await stores().approvals.get(record.id, NOW + 5_000))?.status).toBe('consumed');
    });

    it('answers unknown, and changes nothing, to a poll from another gateway certificate, agent or user', async () => {
      const record = approvalFixture();
      await stores().approvals.create(record, record.expiresAt + 60_000);
      await stores().approvals.decide(record.id, 'approved', alice, NOW);
      for (const other of [{ certThumbprint: 'z'.repeat(43) }, { gateway: 'spiffe://other' }, { agent: 'spiffe://agent/b' }, { userId: 'bob' }]) {
        expect(await stores().approvals.poll(record.id, { ...bindingOf(record), ...other }, NOW + 100)).toStrictEqual({ outcome: 'unknown' });
      }
      expect(await stores().approvals.poll('unknown', bindingOf(record), NOW + 100)).toStrictEqual({ outcome: 'unknown' });
      expect(await stores().approvals.poll(record.id, bindingOf(record), NOW + 200)).toStrictEqual({ outcome: 'approved', record });
    });

    it('answers denied to every poll of a denied request', async () => {
      const record = approvalFixture();
      await stores().approvals.create(record, record.expiresAt + 60_000);
      expect(await stores().approvals.decide(record.id, 'denied', alice, NOW)).toBe('decided');
      expect(await stores().approvals.poll(record.id, bindingOf(record), NOW + 1)).toStrictEqual({ outcome: 'denied' });
      expect(await stores().approvals.poll(record.id, bindingOf(record), NOW + 2_000)).toStrictEqual({ outcome: 'denied' });
    });

    it('expires a pending or approved request at its deadline; a decision after it does not land', async () => {
      const pending = approvalFixture();
      const approved = approvalFixture();
      for (const r of [pending, approved]) await stores().approvals.create(r, r.expiresAt + 60_000);
      await stores().approvals.decide(approved.id, 'approved', alice, NOW);
      expect(await stores().approvals.decide(pending.id, 'approved', alice, pending.expiresAt)).toBe('expired');
      for (const r of [pending, approved]) {
        expect(await stores().approvals.poll(r.id, bindingOf(r), r.expiresAt)).toStrictEqual({ outcome: 'expired' });
        expect((await stores().approvals.get(r.id, r.expiresAt))?.status).toBe('expired');
      }
    });

    it('lets only the first of two decisions land, and only the right decider make it', async () => {
      const record = approvalFixture();
      const forAdmin = approvalFixture({ approver: 'admin' });
      for (const r of [record, forAdmin]) await stores().approvals.create(r, r.expiresAt + 60_000);
      expect(await stores().approvals.decide(record.id, 'approved', { role: 'user', id: 'bob' }, NOW)).toBe('unknown');
      expect(await stores().approvals.decide(record.id, 'approved', admin, NOW)).toBe('unknown');
      expect(await stores().approvals.decide(forAdmin.id, 'approved', alice, NOW)).toBe('unknown');
      const both = await Promise.all([
        stores().approvals.decide(record.id, 'approved', alice, NOW),
        stores().approvals.decide(record.id, 'denied', alice, NOW),
      ]);
      expect(both.sort()).toStrictEqual(['already_decided', 'decided']);
      expect(await stores().approvals.decide('unknown', 'approved', alice, NOW)).toBe('unknown');
    });

    it('gives the approved record to exactly one of 50 concurrent polls', async () => {
      const record = approvalFixture({ intervalMs: 0 });
      await stores().approvals.create(record, record.expiresAt + 60_000);
      await stores().approvals.decide(record.id, 'approved', alice, NOW);
      const polls = await Promise.all(Array.from({ length: 50 }, () => stores().approvals.poll(record.id, bindingOf(record), NOW + 10)));
      expect(polls.filter((p) => p.outcome === 'approved')).toHaveLength(1);
      expect(polls.filter((p) => p.outcome === 'consumed')).toHaveLength(49);
    });
  });
}
