/**
 * Every refused /forward gets a clear 401/403/413 with a static body, and the
 * CRM API behind the vault receives nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mintOperationToken } from '../../../src/tokens/operation-token.js';
import { AGENT_A } from '../../helpers/exchange-fixture.js';
import { rawForward, rawRequest, startForwardWorld, type RawResponse, type ForwardWorld } from '../../helpers/forward-fixture.js';
import { adminCall } from '../../helpers/admin-client.js';
import type { Response } from '../../helpers/https-client.js';
import { FAKE_CLIENT_ID } from '../../helpers/fake-providers/catalog.js';
import { withRequestId } from '../../helpers/request-id.js';

let w: ForwardWorld;
let crmBefore: number;

beforeAll(async () => {
  w = await startForwardWorld({ limits: { requestBodyBytes: 4096 } });
});
afterAll(() => w?.close());
beforeEach(() => {
  crmBefore = w.crm.requests.length;
});

const INVALID_TOKEN = { error: 'invalid_token', error_description: 'The access token is invalid, expired or not usable for this request.' };
const INSUFFICIENT_SCOPE = { error: 'insufficient_scope', error_description: 'The request is outside the operation the access token was issued for.' };
const ACCESS_DENIED = { error: 'access_denied', error_description: 'The request was denied.' };
const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable. Retry later.' };
const TOO_LARGE = { error: 'invalid_request', error_description: 'The request body is too large.' };

const jtiOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;

/** Consecutive HTTP/1.1 answers read off one connection (each with a Content-Length). */
function splitAnswers(text: string): Array<{ status: number; headers: Record<string, string>; body: string }> {
  const answers = [];
  for (let rest = Buffer.from(text); rest.length > 0;) {
    const end = rest.indexOf('\r\n\r\n');
    const lines = rest.subarray(0, end).toString().split('\r\n');
    const headers = Object.fromEntries(
      lines.slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    const length = Number(headers['content-length']);
    answers.push({ status: Number(lines[0]!.split(' ')[1]), headers, body: rest.subarray(end + 4, end + 4 + length).toString() });
    rest = rest.subarray(end + 4 + length);
  }
  return answers;
}

function expectRefused(res: Response | RawResponse, status: number, body: Record<string, string>): void {
  expect(res.status).toBe(status);
  expect('json' in res ? res.json() : JSON.parse(res.body)).toStrictEqual(withRequestId(res, body));
  expect(res.headers['cache-control']).toBe('no-store');
  expect(w.crm.requests.length, 'the CRM API received a request').toBe(crmBefore);
}

describe('who presents the token (401 invalid_token, no use spent), and dead tokens', () => {
  it('no bearer token', async () => {
    const res = await w.forward('/records/1', 'x', { headers: { authorization: '' } });
    expectRefused(res, 401, INVALID_TOKEN);
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('a token bound to another gateway certificate, and it stays usable by its own gateway', async () => {
    const token = await w.operationToken();
    expectRefused(await w.forward('/records/1', token, { client: w.vault.pki.other }), 401, INVALID_TOKEN);
    expect((await w.forward('/records/1', token)).status).toBe(200);
  });

  it('an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { token } = mintOperationToken(w.vault.runtime.keys.signingKeys, {
      issuer: w.vault.config.publicUrl!,
      userId: 'u',
      agent: AGENT_A,
      provider: 'crm',
      operation: 'crm:records.read',
      gateway: 'spiffe://dev.local/gateway',
      certThumbprint: 'x',
      issuedAt: now - 120,
      expiresAt: now - 60,
    });
    expectRefused(await w.forward('/records/1', token), 401, INVALID_TOKEN);
  });

  it('a token whose signature does not verify, and the real token keeps its use', async () => {
    const token = await w.operationToken();
    const [h, p, s] = token.split('.');
    const forged = `${h}.${p}.${s!.slice(0, -4)}${s!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    expectRefused(await w.forward('/records/1', forged), 401, INVALID_TOKEN);
    expect((await w.vault.runtime.stores.tokens.get(jtiOf(token)))?.usesLeft).toBe(1);
    expect((await w.forward('/records/1', token)).status).toBe(200);
  });

  it('a token whose record holds no proof (written before proofs existed) is checked by its signature and spent once', async () => {
    const token = await w.operationToken();
    const { proof, ...withoutProof } = (await w.vault.runtime.stores.tokens.get(jtiOf(token)))!;
    expect(proof).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await w.vault.runtime.stores.tokens.put(withoutProof, 60_000);
    expect((await w.forward('/records/1', token)).status).toBe(200);
    crmBefore = w.crm.requests.length;
    expectRefused(await w.forward('/records/1', token), 401, INVALID_TOKEN);
  });

  it('a token already spent', async () => {
    const token = await w.operationToken();
    expect((await w.forward('/records/1', token)).status).toBe(200);
    crmBefore = w.crm.requests.length;
    expectRefused(await w.forward('/records/1', token), 401, INVALID_TOKEN);
  });

  it('a token of a grant the security team revoked', async () => {
    const { refreshToken, accessToken } = await w.oauth.issueRefreshTokenFor({
      accountId: 'alice',
      clientId: FAKE_CLIENT_ID,
      scope: 'offline_access contacts.read',
    });
    const grant = await w.vault.seedGrant('carol', { consent: w.grant.consent }, { refreshToken, accessToken: { value: accessToken, expiresInMs: 3_600_000 } });
    const token = await w.operationToken('records.read', 'carol');
    const revoked = await adminCall(w.vault, `/admin/grants/${grant.id}/revoke`, { method: 'POST', body: { reason: 'incident-7' } });
    expect(revoked.status).toBe(200);
    expectRefused(await w.forward('/records/1', token), 403, ACCESS_DENIED);
  });
});

describe('what the request does (403, the token is spent)', () => {
  it('a token minted for another operation: method outside it', async () => {
    const token = await w.operationToken('records.read');
    expectRefused(await w.forward('/records', token, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }), 403, INSUFFICIENT_SCOPE);
    expect((await w.forward('/records/1', token)).status).toBe(401);
  });

  it('a token minted for another provider', async () => {
    const token = await w.operationToken();
    const res = await w.forward('/records/1', token);
    expect(res.status).toBe(200);
    crmBefore = w.crm.requests.length;
    const second = await w.operationToken();
    expectRefused(await rawForward(w.vault, '/forward/salesforce/records/1', second), 403, INSUFFICIENT_SCOPE);
  });

  it.each([
    ['a path outside the patterns', '/contacts/1'],
    ['a deeper path than the pattern', '/records/1/notes'],
    ['dot-dot', '/records/../contacts'],
    ['dot', '/records/./1'],
    ['encoded dot-dot', '/records/%2e%2e'],
    ['encoded dot-dot, upper case', '/records/%2E%2E'],
    ['encoded slash', '/records/1%2fnotes'],
    ['encoded slash, upper case', '/records/1%2Fnotes'],
    ['double-encoded slash', '/records/1%252fnotes'],
    ['double-encoded dot', '/records/%252e%252e'],
    ['encoded backslash', '/records/1%5cnotes'],
    ['backslash', '/records/1\\notes'],
    ['empty segment', '//records/1'],
    ['trailing slash', '/records/1/'],
    ['encoded NUL', '/records/1%00'],
    ['matrix dot-dot (Java containers read ..; as ..)', '/records/..;'],
    ['encoded matrix dot-dot', '/records/%2e%2e%3b'],
    ['a path parameter', '/records/1;jsessionid=x'],
    ['a Unicode two-dot leader', '/records/%E2%80%A5'],
  ])('%s: %s', async (_name, path) => {
    const token = await w.operationToken();
    // Sent byte for byte: an HTTP client library would normalise most of these itself.
    expectRefused(await rawForward(w.vault, `/forward/crm${path}`, token), 403, INSUFFICIENT_SCOPE);
    expect((await w.forward('/records/1', token)).status).toBe(401);
  });

  it('a malformed percent-escape is refused by the router (400) before the token is read', async () => {
    const token = await w.operationToken();
    const res = await rawForward(w.vault, '/forward/crm/records/%zz', token);
    expect(res.status).toBe(400);
    expect(w.crm.requests.length).toBe(crmBefore);
  });

  it('a forged Host', async () => {
    const token = await w.operationToken();
    expectRefused(await rawForward(w.vault, '/forward/crm/records/1', token, { host: new URL(w.crm.origin).host }), 403, ACCESS_DENIED);
  });

  it('a forged Host on a connection that already forwarded with the right one, and the right one again after it', async () => {
    const [first, forged, last] = [await w.operationToken(), await w.operationToken(), await w.operationToken()];
    const vaultHost = `127.0.0.1:${new URL(w.vault.internalUrl).port}`;
    const get = (token: string, host: string, connection: string) =>
      `GET /forward/crm/records/1 HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${token}\r\nconnection: ${connection}\r\n\r\n`;
    // Three requests on one keep-alive connection: the names it may use are worked out once per connection.
    const res = await rawRequest(
      w.vault,
      get(first, vaultHost, 'keep-alive') + get(forged, new URL(w.crm.origin).host, 'keep-alive') + get(last, vaultHost, 'close'),
    );
    const answers = splitAnswers(res.text);
    expect(answers.map((a) => a.status)).toStrictEqual([200, 403, 200]);
    expect(JSON.parse(answers[1]!.body)).toStrictEqual(withRequestId(answers[1]!, ACCESS_DENIED));
    expect(w.crm.requests.length, 'the CRM API received exactly the two forwards with the right Host').toBe(crmBefore + 2);
  });

  it('an absolute-form request target naming another host', async () => {
    const token = await w.operationToken();
    // The router accepts absolute-form (RFC 9112 §3.2.2); the vault reads only origin-form targets.
    expectRefused(await rawForward(w.vault, `${w.crm.origin}/forward/crm/records/1`, token), 403, INSUFFICIENT_SCOPE);
  });

  it('a kill switch on the agent', async () => {
    const token = await w.operationToken();
    const engaged = await adminCall(w.vault, '/admin/kill-switches', { method: 'POST', body: { scope: 'agent', target: AGENT_A, reason: 'incident-9' } });
    expect(engaged.status).toBe(200);
    const exchangeWorks = () =>
      w.operationToken().then(
        () => true,
        () => false,
      );
    try {
      // The switch reaches the replica's snapshot within a second; /exchange refusing shows it has.
      await expect.poll(exchangeWorks, { timeout: 3_000 }).toBe(false);
      expectRefused(await w.forward('/records/1', token), 403, ACCESS_DENIED);
    } finally {
      await adminCall(w.vault, `/admin/kill-switches/agent/${encodeURIComponent(AGENT_A)}`, { method: 'DELETE' });
      await expect.poll(exchangeWorks, { timeout: 3_000 }).toBe(true);
    }
  });

  it('a grant no longer active (consent_required)', async () => {
    const token = await w.operationToken();
    const grant = (await w.vault.runtime.stores.grants.get(w.grant.id))!;
    await w.vault.runtime.stores.grants.setStatus(grant.id, 'consent_required');
    try {
      expectRefused(await w.forward('/records/1', token), 403, ACCESS_DENIED);
    } finally {
      await w.vault.runtime.stores.grants.setStatus(grant.id, 'active');
    }
  });
  it("a grant whose user withdrew this agent's consent", async () => {
    const token = await w.operationToken();
    await w.vault.runtime.stores.grants.setConsent(w.grant.id, AGENT_A, []);
    try {
      expectRefused(await w.forward('/records/1', token), 403, ACCESS_DENIED);
    } finally {
      await w.vault.runtime.stores.grants.setConsent(w.grant.id, AGENT_A, w.grant.consent[AGENT_A]!);
    }
  });
});

describe('oversized bodies (413)', () => {
  it('a declared Content-Length above the limit is refused before the token is touched', async () => {
    const token = await w.operationToken('records.write');
    expectRefused(
      await w.forward('/records', token, { method: 'POST', body: Buffer.alloc(5000, 0x61), headers: { 'content-type': 'application/octet-stream' } }),
      413,
      TOO_LARGE,
    );
    expect((await w.forward('/records', token, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(200);
  });

  it('a chunked body that grows past the limit is cut off and never completes upstream', async () => {
    const token = await w.operationToken('records.write');
    const chunk = 'a'.repeat(1000);
    const body = Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('') + '0\r\n\r\n';
    const port = new URL(w.vault.internalUrl).port;
    const res = await rawRequest(
      w.vault,
      `POST /forward/crm/records HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(res.status).toBe(413);
    expect(res.text).toContain(JSON.stringify(withRequestId(res, TOO_LARGE)));
    expect(w.crm.requests.length).toBe(crmBefore);
  });
});

describe('audit of refusals', () => {
  it('records a deny with its reason for a refused forward, never the token', async () => {
    const token = await w.operationToken();
    await w.forward('/records/..', token);
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
    const record = (await w.vault.auditRecords()).find((r) => r.action === 'token.forward' && r.jti === jti);
    expect(record).toMatchObject({
      decision: 'deny',
      reason: 'request target refused by normalisation',
      operation: 'crm:records.read',
      details: { method: 'GET' },
    });
    expect(JSON.stringify(await w.vault.auditRecords())).not.toContain(token);
  });

  it('a refusal whose audit record cannot be written is 503, and nothing is forwarded', async () => {
    const token = await w.operationToken();
    w.vault.audit.failing = true;
    try {
      expectRefused(await rawForward(w.vault, '/forward/crm/records/..', token), 503, UNAVAILABLE);
    } finally {
      w.vault.audit.failing = false;
    }
  });

  it('a forward whose intent record cannot be written is never sent: 503, the CRM API and the token endpoint receive nothing', async () => {
    const refreshes = w.oauth.refreshes;
    for (const [operation, init] of [
      ['records.read', {}],
      ['records.write', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"Ada"}' }],
    ] as const) {
      const token = await w.operationToken(operation);
      w.vault.audit.failing = true;
      let res: Response;
      try {
        res = await w.forward(operation === 'records.read' ? '/records/1' : '/records', token, init);
      } finally {
        w.vault.audit.failing = false;
      }
      expectRefused(res, 503, UNAVAILABLE);
      expect((await w.vault.auditRecords()).filter((r) => r.action === 'token.forward' && r.jti === jtiOf(token))).toStrictEqual([]);
    }
    expect(w.oauth.refreshes).toBe(refreshes);
  });

  it('a relayed answer whose outcome record cannot be written is dropped: 503, and the intent record says the request was sent', async () => {
    const token = await w.operationToken();
    const record = w.vault.audit.record.bind(w.vault.audit);
    // The audit store fails between the two writes of one forward.
    const outage = vi
      .spyOn(w.vault.audit, 'record')
      .mockImplementation((event) => (event.details?.phase === 'outcome' ? Promise.reject(new Error('audit store down')) : record(event)));
    let res: Response;
    try {
      res = await w.forward('/records/1', token);
    } finally {
      outage.mockRestore();
    }
    expect(res.status).toBe(503);
    expect(res.json()).toStrictEqual(withRequestId(res, UNAVAILABLE));
    // The record follows the upstream's status, so the provider did see the request (README: /forward audit).
    expect(w.crm.requests.slice(crmBefore).map((r) => r.url)).toStrictEqual(['/api/records/1']);
    const records = (await w.vault.auditRecords()).filter((r) => r.action === 'token.forward' && r.jti === jtiOf(token));
    expect(records).toMatchObject([
      { action: 'token.forward', decision: 'allow', operation: 'crm:records.read', details: { phase: 'intent', method: 'GET', path: '/records/{id}' } },
    ]);
    expect(records).toHaveLength(1);
  });
});

describe('Redis unreachable', () => {
  it('fails closed fast: 503 well under two seconds, nothing forwarded', async () => {
    const token = await w.operationToken();
    w.redis.pause();
    let res: Response;
    const started = performance.now();
    try {
      res = await w.forward('/records/1', token);
    } finally {
      w.redis.resume();
    }
    expect(performance.now() - started).toBeLessThan(2_000);
    expectRefused(res, 503, UNAVAILABLE);
    expect(res.headers['retry-after']).toBe('1');
  });
});
