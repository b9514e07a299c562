/**
 * Approvals across three vault processes on one Redis: the request is made on one, approved on
 * another (admin API), polled on the third, and the token forwarded on the first. Every state
 * change is one script on the request's key, so no process holds anything the others miss.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall } from '../../helpers/admin-client.js';
import { approvalParams, exchangeAt, poll, sha256 } from '../../helpers/approval-fixture.js';
import { startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';
import { startVaultChild, type VaultChild } from '../../helpers/vault-child.js';

let w: ForwardWorld;
let asking: VaultChild;
let approving: VaultChild;

beforeAll(async () => {
  w = await startForwardWorld({
    extraOperations: {
      'records.approve': { description: 'Create a record, each one approved by an admin', methods: ['POST'], paths: ['/records'], approval: 'admin' },
    },
    overrides: { approvals: { pollIntervalSeconds: 1 } },
  });
  [asking, approving] = await Promise.all([
    startVaultChild(w.vault.rawConfig, w.vault.pki.dir, 'vault-ask'),
    startVaultChild(w.vault.rawConfig, w.vault.pki.dir, 'vault-approve'),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all([asking?.stop(), approving?.stop()]);
  await w?.close();
});

describe('approvals across vault processes', () => {
  it('asked on one process, approved on another, polled on a third; the token is forwarded once', { timeout: 60_000 }, async () => {
    const action = { method: 'POST', path: '/records', body: '{"name":"Ada"}' };
    const asked = await exchangeAt(w.vault, asking.internalUrl, await approvalParams(w.vault, 'records.approve', action));
    expect(asked.json()).toMatchObject({ error: 'authorization_pending', interval: 1 });
    const authReqId = asked.json<{ auth_req_id: string }>().auth_req_id;
    const id = sha256(authReqId);

    expect((await poll(w.vault, authReqId)).json()).toMatchObject({ error: 'authorization_pending' });
    const listed = await adminCall({ internalUrl: approving.internalUrl, pki: w.vault.pki }, '/admin/approvals');
    expect(listed.json<{ approvals: { id: string }[] }>().approvals.map((a) => a.id)).toContain(id);
    const approved = await adminCall({ internalUrl: approving.internalUrl, pki: w.vault.pki }, `/admin/approvals/${id}/approve`, { method: 'POST' });
    expect(approved.json()).toMatchObject({ id, status: 'approved' });

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const issued = await poll(w.vault, authReqId);
    expect(issued.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await poll(w.vault, authReqId, { internalUrl: approving.internalUrl })).json()).toMatchObject({ error: 'invalid_grant' });

    const token = issued.json<{ access_token: string }>().access_token;
    const sent = await w.forward(action.path, token, { method: 'POST', body: action.body, headers: { 'content-type': 'application/json' } });
    expect(sent.status).toBe(200);
  });
});
