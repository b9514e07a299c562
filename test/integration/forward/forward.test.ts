import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../src/audit/events.js';
import { startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';

let w: ForwardWorld;

beforeAll(async () => {
  w = await startForwardWorld();
});
afterAll(() => w?.close());

/** The forward's audit records, in chain order (intent, then outcome). */
async function forwardRecords(jti: string): Promise<AuditRecord[]> {
  return (await w.vault.auditRecords()).filter((r) => r.action === 'token.forward' && r.jti === jti);
}

const jtiOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;

describe('/forward relays one operation with the upstream token injected', () => {
  it('GET reaches the CRM API once, authorised by the upstream access token, and its answer comes back', async () => {
    const token = await w.operationToken('records.read');
    const before = w.crm.requests.length;
    const res = await w.forward('/records/42?fields=name', token, {
      headers: {
        cookie: 'gw=1',
        connection: 'x-gateway-hop',
        'x-gateway-hop': '1',
        'keep-alive': 'timeout=5',
        'x-forwarded-for': '10.0.0.1',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        'x-request-tag': 'kept',
      },
    });
    expect(res.status).toBe(200);
    expect(res.json()).toStrictEqual({ method: 'GET', path: '/api/records/42', sub: 'alice', bytes: 0 });
    const seen = w.crm.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/api/records/42?fields=name', bearer: w.upstream.accessToken, active: true });
    const headers = seen[0]!.headers;
    for (const name of ['cookie', 'x-gateway-hop', 'keep-alive', 'x-forwarded-for', 'proxy-authorization']) expect(headers[name], name).toBeUndefined();
    expect(headers.host).toBe(new URL(w.crm.origin).host);
    expect(headers['x-request-tag']).toBe('kept');
    expect(headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    // The provider's cookie and hop-by-hop headers stay on the vault's side.
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers['x-upstream-hop']).toBeUndefined();
  });

  it('writes an intent record before sending (operation, method, path template) and an outcome record after: status, bytes, duration', async () => {
    const token = await w.operationToken('records.write');
    const res = await w.forward('/records', token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ada' }) });
    expect(res.status).toBe(200);
    expect(res.json()).toStrictEqual({ method: 'POST', path: '/api/records', sub: 'alice', bytes: 14 });
    const records = await forwardRecords(jtiOf(token));
    const trail = {
      action: 'token.forward',
      decision: 'allow',
      gateway: 'spiffe://dev.local/gateway',
      agent: expect.any(String),
      user: expect.any(String),
      operation: 'crm:records.write',
      provider: 'crm',
      grant: w.grant.id,
      jti: jtiOf(token),
      requestId: expect.any(String),
      chain: expect.any(Number),
      seq: expect.any(Number),
      time: expect.any(String),
    };
    expect(records).toStrictEqual([
      { ...trail, details: { phase: 'intent', method: 'POST', path: '/records' } },
      {
        ...trail,
        details: {
          phase: 'outcome',
          method: 'POST',
          path: '/records',
          upstreamStatus: 200,
          requestBytes: 14,
          retried: false,
          responseBytes: expect.any(Number),
          durationMs: expect.any(Number),
        },
      },
    ]);
    expect(records[1]!.seq).toBeGreaterThan(records[0]!.seq);
    expect(records[0]!.requestId).toBe(records[1]!.requestId);
    expect(JSON.stringify(records)).not.toContain('Ada');
  });

  it('spends one use per forward: a multi-use token works exactly its number of uses', async () => {
    const token = await w.operationToken('records.browse');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await w.forward(`/records/${i}/notes`, token)).status);
    expect(statuses).toStrictEqual([200, 200, 200, 200, 200, 401]);
  });
});
