/**
 * Approval events reach a configured webhook endpoint: `approval.requested` when an exchange for
 * an approval-gated operation waits, `approval.decided` when an admin decides; both verified with
 * the `standardwebhooks` package, neither carrying the bearer `auth_req_id`.
 */
import { rm } from 'node:fs/promises';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_A } from '../../helpers/exchange-fixture.js';
import { startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';
import { adminCall } from '../../helpers/admin-client.js';
import { approvalParams, sha256, type Action } from '../../helpers/approval-fixture.js';
import { createTestPki, type TestPki } from '../../helpers/vault.js';
import { startWebhookReceiver, writeWebhookSecret, type WebhookReceiver } from '../../helpers/webhook-receiver.js';

let w: ForwardWorld;
let receiverPki: TestPki;
let receiver: WebhookReceiver;
let secret: string;

beforeAll(async () => {
  // The receiver has a PKI of its own: the endpoint's caFile is what makes the vault trust it.
  receiverPki = await createTestPki();
  receiver = await startWebhookReceiver(receiverPki.dir);
  const written = await writeWebhookSecret(receiverPki.dir, 'approvals');
  secret = written.secret;
  const endpoint = {
    name: 'approvals',
    url: `${receiver.url}/approvals`,
    events: ['approval.requested', 'approval.decided'],
    secretFile: written.file,
    caFile: `${receiverPki.dir}/ca.crt`,
    allowPrivateNetwork: true,
  };
  w = await startForwardWorld({
    extraOperations: {
      'records.approve': { description: 'Create a record, approved by an admin', methods: ['POST'], paths: ['/records'], approval: 'admin' },
    },
    overrides: { approvals: { ttlSeconds: 600, pollIntervalSeconds: 1 }, webhooks: { endpoints: [endpoint], intervalMs: 50 } },
  });
});
afterAll(async () => {
  await w?.close();
  await receiver?.close();
  await rm(receiverPki.dir, { recursive: true, force: true });
});

const CREATE: Action = { method: 'POST', path: '/records', body: '{"name":"Ada"}', summary: 'Create the record Ada' };

describe('approval webhooks', () => {
  it('announce the waiting request and the admin decision, by the request id only', async () => {
    const res = await w.vault.exchange(await approvalParams(w.vault, 'records.approve', CREATE));
    expect(res.status).toBe(400);
    const authReqId = res.json<{ auth_req_id: string }>().auth_req_id;
    const id = sha256(authReqId);
    expect((await adminCall(w.vault, `/admin/approvals/${id}/deny`, { method: 'POST' })).status).toBe(200);

    await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBe(2);
    const payloads = receiver.received.map((r) => new Webhook(secret).verify(r.body, r.headers) as { type: string });
    const data = { approval: id, approver: 'admin', agent: AGENT_A, provider: 'crm', operation: 'crm:records.approve' };
    expect(payloads.sort((a, b) => a.type.localeCompare(b.type))).toStrictEqual([
      { type: 'approval.decided', timestamp: expect.any(String), data: { ...data, decision: 'denied', decidedBy: 'admin' } },
      { type: 'approval.requested', timestamp: expect.any(String), data },
    ]);
    expect(JSON.stringify(receiver.received)).not.toContain(authReqId);
  });
});
