/**
 * Operations that need approval, over real HTTPS, Redis, the fake CRM provider and its API: the
 * exchange waits (`authorization_pending`), an admin decides through the admin API, the gateway
 * polls (OpenID CIBA Core 1.0 poll mode) and the token allows exactly the approved request once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_A, AGENT_B } from '../../helpers/exchange-fixture.js';
import { startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';
import { adminCall } from '../../helpers/admin-client.js';
import type { Response } from '../../helpers/https-client.js';
import { withRequestId } from '../../helpers/request-id.js';
import { approvalParams, poll, sha256, type Action } from '../../helpers/approval-fixture.js';
import { runAdminCli } from '../../helpers/admin-cli.js';

let w: ForwardWorld;

beforeAll(async () => {
  w = await startForwardWorld({
    extraOperations: {
      'records.approve': {
        description: 'Create a record, each one approved by an admin',
        methods: ['POST', 'PUT'],
        paths: ['/records', '/records/{id}'],
        approval: 'admin',
      },
    },
    overrides: { approvals: { ttlSeconds: 600, pollIntervalSeconds: 1 } },
  });
});
afterAll(() => w?.close());

const CREATE: Action = { method: 'POST', path: '/records?mode=strict', body: '{"name":"Ada"}', summary: 'Create the record Ada' };
const PENDING = { error: 'authorization_pending', error_description: 'The request awaits approval. Poll no sooner than the interval.' };
const SLOW_DOWN = { error: 'slow_down', error_description: 'Polling too fast: wait at least the interval between polls.' };
const INVALID_GRANT = { error: 'invalid_grant', error_description: 'auth_req_id is unknown, spent or not issued to this caller' };
const DENIED = { error: 'access_denied', error_description: 'The approver denied the request.' };
const INSUFFICIENT_SCOPE = { error: 'insufficient_scope', error_description: 'The request is outside the operation the access token was issued for.' };
const INVALID_TOKEN = { error: 'invalid_token', error_description: 'The access token is invalid, expired or not usable for this request.' };
const NOT_PENDING = { error: 'invalid_request', error_description: 'The approval request is no longer pending.' };

function expectError(res: Response, status: number, body: Record<string, string>): void {
  expect({ status: res.status, body: res.json() }).toStrictEqual({ status, body: withRequestId(res, body) });
}

/** Asks for the approval-gated operation; returns the auth_req_id and the request's id as approvers see it. */
async function ask(action: Action = CREATE): Promise<{ authReqId: string; id: string }> {
  const res = await w.vault.exchange(await approvalParams(w.vault, 'records.approve', action));
  const body = res.json<{ auth_req_id: string }>();
  expect({ status: res.status, body }).toStrictEqual({
    status: 400,
    body: withRequestId(res, { ...PENDING, auth_req_id: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expires_in: 600, interval: 1 }),
  });
  expect(res.headers['cache-control']).toBe('no-store');
  return { authReqId: body.auth_req_id, id: sha256(body.auth_req_id) };
}

const decide = (id: string, decision: 'approve' | 'deny') => adminCall(w.vault, `/admin/approvals/${id}/${decision}`, { method: 'POST' });

/** Polls once the interval has passed, so the answer is never slow_down. */
async function pollAfterInterval(authReqId: string): Promise<Response> {
  await sleep(1_100);
  return poll(w.vault, authReqId);
}

describe('an admin-approved operation', () => {
  it('waits, is listed for admins with the exact action, and its token allows that request once', async () => {
    const { authReqId, id } = await ask();
    expectError(await poll(w.vault, authReqId), 400, PENDING);
    expectError(await poll(w.vault, authReqId), 400, SLOW_DOWN);

    const listed = await adminCall(w.vault, '/admin/approvals');
    expect(listed.status).toBe(200);
    expect(listed.json<{ approvals: unknown[] }>().approvals).toContainEqual({
      id,
      status: 'pending',
      approver: 'admin',
      gateway: 'spiffe://dev.local/gateway',
      agent: AGENT_A,
      user: w.grant.userId,
      grant: w.grant.id,
      operation: 'crm:records.approve',
      method: 'POST',
      path: '/records?mode=strict',
      body_sha256: sha256(CREATE.body),
      summary: 'Create the record Ada',
      created_at: expect.any(String),
      expires_at: expect.any(String),
    });

    const approved = await decide(id, 'approve');
    expect(approved.status).toBe(200);
    expect(approved.json()).toMatchObject({ id, status: 'approved', decided_by: 'admin:spiffe://dev.local/admin' });
    expectError(await decide(id, 'deny'), 409, NOT_PENDING);

    const issued = await pollAfterInterval(authReqId);
    expect(issued.status).toBe(200);
    const token = issued.json<{ access_token: string }>().access_token;
    expect(issued.json()).toStrictEqual({
      access_token: token,
      issued_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_type: 'Bearer',
      expires_in: expect.any(Number),
      scope: 'crm:records.approve',
    });
    expectError(await pollAfterInterval(authReqId), 400, INVALID_GRANT);

    const before = w.crm.requests.length;
    const sent = await w.forward(CREATE.path, token, { method: 'POST', body: CREATE.body, headers: { 'content-type': 'application/json' } });
    expect({ status: sent.status, body: sent.json() }).toStrictEqual({
      status: 200,
      body: { method: 'POST', path: '/api/records', sub: 'alice', bytes: CREATE.body.length },
    });
    expect(w.crm.requests.length).toBe(before + 1);
    expectError(await w.forward(CREATE.path, token, { method: 'POST', body: CREATE.body }), 401, INVALID_TOKEN);
  });

  for (const [name, request] of [
    ['another method', { method: 'PUT', path: CREATE.path, body: CREATE.body }],
    ['another path', { method: 'POST', path: '/records/7?mode=strict', body: CREATE.body }],
    ['another query', { method: 'POST', path: '/records', body: CREATE.body }],
    ['another body', { method: 'POST', path: CREATE.path, body: '{"name":"Eve"}' }],
  ] as const) {
    it(`refuses ${name} than approved, sends nothing upstream and spends the token`, async () => {
      const { authReqId, id } = await ask();
      expect((await decide(id, 'approve')).status).toBe(200);
      const token = (await poll(w.vault, authReqId)).json<{ access_token: string }>().access_token;
      const before = w.crm.requests.length;
      expectError(
        await w.forward(request.path, token, { method: request.method, body: request.body, headers: { 'content-type': 'application/json' } }),
        403,
        INSUFFICIENT_SCOPE,
      );
      expectError(await w.forward(CREATE.path, token, { method: 'POST', body: CREATE.body }), 401, INVALID_TOKEN);
      expect(w.crm.requests.length).toBe(before);
    });
  }

  it('answers access_denied to every poll of a denied request', async () => {
    const { authReqId, id } = await ask();
    const denied = await decide(id, 'deny');
    expect(denied.json()).toMatchObject({ id, status: 'denied' });
    expectError(await poll(w.vault, authReqId), 400, DENIED);
    expectError(await pollAfterInterval(authReqId), 400, DENIED);
  });

  it('reveals nothing to another gateway certificate or another agent polling the request, and lets its own gateway collect it', async () => {
    const { authReqId, id } = await ask();
    await decide(id, 'approve');
    expectError(await poll(w.vault, authReqId, { client: w.vault.pki.other }), 400, INVALID_GRANT);
    expectError(await poll(w.vault, authReqId, { agent: AGENT_B }), 400, INVALID_GRANT);
    expectError(await poll(w.vault, authReqId, { user: 'bob' }), 400, INVALID_GRANT);
    expectError(await poll(w.vault, 'x'.repeat(43)), 400, INVALID_GRANT);
    expect((await poll(w.vault, authReqId)).status).toBe(200);
  });

  it('audits the request and the decision with who decided, never the auth_req_id', async () => {
    const { authReqId, id } = await ask();
    await decide(id, 'deny');
    const records = (await w.vault.auditRecords()).filter((r) => r.details?.approval === id);
    expect(records.map((r) => [r.action, r.decision, r.actor])).toStrictEqual([
      ['approval.request', 'allow', undefined],
      ['approval.decide', 'deny', 'admin:spiffe://dev.local/admin'],
    ]);
    expect(JSON.stringify(await w.vault.auditRecords())).not.toContain(authReqId);
  });

  it('lists and decides from the admin CLI; a second decision fails', async () => {
    const { authReqId, id } = await ask();
    const listed = await runAdminCli(w.vault, ['approvals', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${id}  ${AGENT_A}`);
    expect(listed.stdout).toContain('POST /records?mode=strict');
    expect(listed.stdout).not.toContain(authReqId);
    const approved = await runAdminCli(w.vault, ['approvals', 'approve', id]);
    expect(approved).toStrictEqual({ code: 0, stdout: `${id} approved by admin:spiffe://dev.local/admin\n`, stderr: '' });
    const again = await runAdminCli(w.vault, ['approvals', 'deny', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('The approval request is no longer pending.');
    expect((await runAdminCli(w.vault, ['approvals', 'deny'])).code).toBe(2);
  });

  it('refuses an exchange that does not name the action, or asks for the upstream token', async () => {
    const params = await approvalParams(w.vault, 'records.approve', CREATE);
    const unbound = await w.vault.exchange({ ...params, authorization_details: JSON.stringify([{ type: 'crm', actions: ['records.approve'] }]) });
    expectError(unbound, 400, {
      error: 'invalid_request',
      error_description: 'approval needs authorization_details with method, path and body_sha256',
    });
    const raw = await w.vault.exchange({ ...params, requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
    expectError(raw, 400, { error: 'invalid_request', error_description: 'operation needs approval: only an operation token is issued' });
    const half = await w.vault.exchange({ ...params, authorization_details: JSON.stringify([{ type: 'crm', actions: ['records.approve'], method: 'POST' }]) });
    expectError(half, 400, { error: 'invalid_request', error_description: 'authorization_details entry is malformed' });
  });
});
