/**
 * /forward against the real upstream: one redemption under a storm, the
 * upstream-401 refresh and retry, the Salesforce instance host, and streamed
 * bodies within the size limit.
 */
import { Agent } from 'node:https';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../../src/dev/fake-oauth-server.js';
import { AGENT_A, exchangeParams } from '../../helpers/exchange-fixture.js';
import { fakeClient } from '../../helpers/fake-providers/catalog.js';
import { startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';
import { call } from '../../helpers/https-client.js';
import { seedSalesforceGrant, startSalesforceVault } from '../../helpers/salesforce-vault.js';
import { withRequestId } from '../../helpers/request-id.js';

const RESPONSE_LIMIT = 6 * 1024 * 1024;
let w: ForwardWorld;

beforeAll(async () => {
  w = await startForwardWorld({ limits: { responseBodyBytes: RESPONSE_LIMIT, headersTimeoutMs: 1_000 } });
});
afterAll(() => w?.close());

describe('one use, atomically', () => {
  it('100 concurrent redemptions of a single-use token: exactly one reaches the CRM API, 99 get 401', async () => {
    const token = await w.operationToken('records.read');
    const before = w.crm.requests.length;
    const agent = new Agent({ keepAlive: true, maxSockets: 100, ca: w.vault.pki.ca, cert: w.vault.pki.gateway.cert, key: w.vault.pki.gateway.key });
    try {
      const results = await Promise.all(
        Array.from({ length: 100 }, () =>
          call(`${w.vault.internalUrl}/forward/crm/records/7`, {
            ca: w.vault.pki.ca,
            client: w.vault.pki.gateway,
            agent,
            headers: { authorization: `Bearer ${token}` },
          }),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 401)).toHaveLength(99);
    } finally {
      agent.destroy();
    }
    expect(w.crm.requests.slice(before)).toHaveLength(1);
  });
});

describe('an upstream 401', () => {
  it('GET: one refresh through the single flight and one retry, on the same single use', async () => {
    const dead = w.upstream.accessToken;
    // Only the access token dies (an RFC 7009 revocation at oidc-provider would end the whole grant).
    await (await w.oauth.provider.AccessToken.find(dead))!.destroy();
    const refreshes = w.oauth.refreshes;
    const before = w.crm.requests.length;
    const token = await w.operationToken('records.read');
    const res = await w.forward('/records/9', token);
    expect(res.status).toBe(200);
    expect(res.json()).toStrictEqual({ method: 'GET', path: '/api/records/9', sub: 'alice', bytes: 0 });
    expect(w.oauth.refreshes).toBe(refreshes + 1);
    const seen = w.crm.requests.slice(before);
    expect(seen.map((r) => [r.method, r.active])).toStrictEqual([
      ['GET', false],
      ['GET', true],
    ]);
    expect(seen[0]!.bearer).toBe(dead);
    expect(seen[1]!.bearer).not.toBe(dead);
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
    const records = (await w.vault.auditRecords()).filter((r) => r.action === 'token.forward' && r.jti === jti);
    expect(records.map((r) => r.details)).toMatchObject([
      { phase: 'intent', method: 'GET', path: '/records/{id}' },
      { phase: 'outcome', upstreamStatus: 200, retried: true },
    ]);
    expect(records.map((r) => r.decision)).toStrictEqual(['allow', 'allow']);
  });

  it('PUT with a small body: the body is kept and sent again with the refreshed token', async () => {
    w.crm.rejectNext(1);
    const refreshes = w.oauth.refreshes;
    const before = w.crm.requests.length;
    const body = JSON.stringify({ name: 'Grace' });
    const res = await w.forward('/records/5', await w.operationToken('records.write'), {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(res.json()).toStrictEqual({ method: 'PUT', path: '/api/records/5', sub: 'alice', bytes: body.length });
    const seen = w.crm.requests.slice(before);
    expect(seen.map((r) => [r.method, r.bodyBytes])).toStrictEqual([
      ['PUT', body.length],
      ['PUT', body.length],
    ]);
    expect(seen[1]!.bearer).not.toBe(seen[0]!.bearer);
    expect(w.oauth.refreshes).toBe(refreshes + 1);
  });

  it('POST: not retried; the gateway gets 502 and the CRM API saw exactly one request', async () => {
    w.crm.rejectNext(1);
    const refreshes = w.oauth.refreshes;
    const before = w.crm.requests.length;
    const token = await w.operationToken('records.write');
    const res = await w.forward('/records', token, { method: 'POST', body: '{"name":"Ada"}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(502);
    expect(res.json()).toStrictEqual(withRequestId(res, { error: 'upstream_error', error_description: 'The upstream provider failed to answer correctly.' }));
    expect(w.crm.requests.slice(before).map((r) => r.method)).toStrictEqual(['POST']);
    expect(w.oauth.refreshes).toBe(refreshes);
    // The intent went on the trail before the POST left; the failure is its outcome.
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
    const records = (await w.vault.auditRecords()).filter((r) => r.action === 'token.forward' && r.jti === jti);
    expect(records.map(({ decision, reason, details }) => ({ decision, reason, details }))).toStrictEqual([
      { decision: 'allow', reason: undefined, details: { phase: 'intent', method: 'POST', path: '/records' } },
      {
        decision: 'error',
        reason: 'upstream refused the injected token; not retried (method not idempotent or body streamed)',
        details: { phase: 'outcome', method: 'POST', path: '/records', upstreamStatus: 401, requestBytes: 14, retried: false, durationMs: expect.any(Number) },
      },
    ]);
  });
});

describe('an upstream that does not answer in time', () => {
  it('is 504 once the headers timeout passes', async () => {
    const started = performance.now();
    const res = await w.forward('/slow', await w.operationToken('files.download'));
    expect(res.status).toBe(504);
    expect(res.json()).toStrictEqual(withRequestId(res, { error: 'upstream_error', error_description: 'The upstream provider did not answer in time.' }));
    expect(performance.now() - started).toBeLessThan(1_900);
  });
});

describe('the target host', () => {
  let salesforce: FakeOAuthServer;
  afterAll(() => salesforce?.stop());

  it("Salesforce: the grant's instance_url, with the grant's own upstream token", async () => {
    salesforce = await startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] });
    const vault = await startSalesforceVault({ salesforce: { server: salesforce } });
    try {
      await seedSalesforceGrant(vault, salesforce, 'salesforce', 'alice');
      const exchanged = await vault.exchange(await exchangeParams(vault.ids, 'alice', AGENT_A, { resource: 'salesforce', scope: 'salesforce:records.read' }));
      expect(exchanged.status).toBe(200);
      const token = exchanged.json<{ access_token: string }>().access_token;
      const ok = await call(`${vault.internalUrl}/forward/salesforce/services/data/v60.0/sobjects/Account/001`, {
        ca: vault.pki.ca,
        client: vault.pki.gateway,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(ok.status).toBe(200);
      expect(ok.json()).toMatchObject({ ok: true, method: 'GET', path: '/services/data/v60.0/sobjects/Account/001', sub: 'alice' });
      expect(salesforce.apiCalls).toHaveLength(1);
    } finally {
      await vault.close();
    }
  });

  it('Salesforce: an instance_url outside the provider hosts is never sent the upstream token', async () => {
    salesforce ??= await startFakeOAuthServer({ profile: 'salesforce', clients: [fakeClient] });
    const vault = await startSalesforceVault({ salesforce: { server: salesforce, extra: { instanceHosts: ['.my.salesforce.com'] } } });
    try {
      await seedSalesforceGrant(vault, salesforce, 'salesforce', 'alice');
      const exchanged = await vault.exchange(await exchangeParams(vault.ids, 'alice', AGENT_A, { resource: 'salesforce', scope: 'salesforce:records.read' }));
      const token = exchanged.json<{ access_token: string }>().access_token;
      const calls = salesforce.apiCalls.length;
      const refused = await call(`${vault.internalUrl}/forward/salesforce/services/data/v60.0/sobjects/Account/001`, {
        ca: vault.pki.ca,
        client: vault.pki.gateway,
        headers: { authorization: `Bearer ${token}` },
      });
      expect({ status: refused.status, body: refused.json() }).toStrictEqual({
        status: 502,
        body: withRequestId(refused, { error: 'upstream_error', error_description: 'The upstream provider failed to answer correctly.' }),
      });
      expect(salesforce.apiCalls).toHaveLength(calls);
    } finally {
      await vault.close();
    }
  });
});

describe('streamed bodies', () => {
  it('a several-MB answer starts arriving before the upstream has finished sending it', async () => {
    const size = 5 * 1024 * 1024;
    const token = await w.operationToken('files.download');
    const { status, firstChunkWhileUpstreamBusy, total } = await new Promise<{ status: number; firstChunkWhileUpstreamBusy: boolean; total: number }>(
      (resolve, reject) => {
        const req = httpsRequest(
          `${w.vault.internalUrl}/forward/crm/big?bytes=${size}`,
          { ca: w.vault.pki.ca, cert: w.vault.pki.gateway.cert, key: w.vault.pki.gateway.key, agent: false, headers: { authorization: `Bearer ${token}` } },
          (res) => {
            let total = 0;
            let first: boolean | undefined;
            res.on('data', (chunk: Buffer) => {
              total += chunk.length;
              if (first === undefined) {
                // The CRM API holds the rest of its body until released: these bytes were relayed, not buffered.
                first = !w.crm.bigFinished;
                w.crm.release();
              }
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, firstChunkWhileUpstreamBusy: first === true, total }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
    expect(status).toBe(200);
    expect(firstChunkWhileUpstreamBusy).toBe(true);
    expect(total).toBe(size);
  });

  it('an answer that declares more than the response limit is refused with 502 before anything is relayed', async () => {
    const token = await w.operationToken('files.download');
    const pending = w.forward(`/big?bytes=${RESPONSE_LIMIT + 1}&declare=1`, token);
    setTimeout(() => w.crm.release(), 50);
    const res = await pending;
    expect(res.status).toBe(502);
    expect(res.json()).toStrictEqual(withRequestId(res, { error: 'upstream_error', error_description: 'The upstream provider failed to answer correctly.' }));
  });

  it('a streamed answer that grows past the response limit is cut off', async () => {
    const token = await w.operationToken('files.download');
    const pending = w.forward(`/big?bytes=${RESPONSE_LIMIT + 512 * 1024}`, token).then(
      (res) => ({ complete: true, bytes: res.text.length }),
      () => ({ complete: false, bytes: 0 }),
    );
    setTimeout(() => w.crm.release(), 50);
    const outcome = await pending;
    expect(outcome.complete === false || outcome.bytes <= RESPONSE_LIMIT).toBe(true);
    await expect.poll(() => w.vault.logs.text().includes('forward relay cut short')).toBe(true);
  });
});
