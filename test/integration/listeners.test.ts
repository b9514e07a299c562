import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/https-client.js';
import { startVault, createTestPki, type TestVault } from '../helpers/vault.js';
import { withRequestId } from '../helpers/request-id.js';

let vault: TestVault;

beforeAll(async () => {
  // A short request timeout so the slow-client test below is quick.
  vault = await startVault({ overrides: { limits: { requestTimeoutMs: 1000 } } });
});
afterAll(() => vault.close());

const INVALID_CLIENT = {
  error: 'invalid_client',
  error_description: 'Client authentication failed.',
};

describe('public listener', () => {
  it('serves /healthz and /readyz over HTTPS without a client certificate', async () => {
    const health = await call(`${vault.publicUrl}/healthz`, { ca: vault.pki.ca });
    expect(health.status).toBe(200);
    expect(health.json()).toStrictEqual({ status: 'ok' });
    const ready = await call(`${vault.publicUrl}/readyz`, { ca: vault.pki.ca });
    expect(ready.status).toBe(200);
    expect(ready.json()).toStrictEqual({ status: 'ok', checks: { store: 'ok', keys: 'ok' } });
    expect(ready.headers['cache-control']).toBe('no-store');
  });

  it('answers unknown routes with the documented error body', async () => {
    const res = await call(`${vault.publicUrl}/nope?token=abc`, { ca: vault.pki.ca });
    expect(res.status).toBe(404);
    expect(res.json()).toStrictEqual(withRequestId(res, { error: 'not_found', error_description: 'The requested resource does not exist.' }));
  });
});

describe('internal listener (mTLS)', () => {
  it('serves /healthz and /readyz to an allowlisted gateway certificate', async () => {
    const res = await call(`${vault.internalUrl}/healthz`, { ca: vault.pki.ca, client: vault.pki.gateway });
    expect(res.status).toBe(200);
    expect(res.json()).toStrictEqual({ status: 'ok' });
    const ready = await call(`${vault.internalUrl}/readyz`, { ca: vault.pki.ca, client: vault.pki.gateway });
    expect(ready.json()).toStrictEqual({ status: 'ok', checks: { store: 'ok', keys: 'ok' } });
  });

  it('serves health to an allowlisted admin certificate', async () => {
    const res = await call(`${vault.internalUrl}/healthz`, { ca: vault.pki.ca, client: vault.pki.admin });
    expect(res.status).toBe(200);
  });

  it('fails the TLS handshake without a client certificate', async () => {
    await expect(call(`${vault.internalUrl}/healthz`, { ca: vault.pki.ca })).rejects.toThrow();
  });

  it('fails the TLS handshake with a certificate from another CA', async () => {
    const foreign = await createTestPki();
    await expect(call(`${vault.internalUrl}/healthz`, { ca: vault.pki.ca, client: foreign.gateway })).rejects.toThrow();
  });

  it('answers 401 invalid_client to a valid certificate whose identity is not allowed', async () => {
    const res = await call(`${vault.internalUrl}/healthz`, { ca: vault.pki.ca, client: vault.pki.other });
    expect(res.status).toBe(401);
    expect(res.json()).toStrictEqual(withRequestId(res, INVALID_CLIENT));
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('checks the identity on every request of a kept-alive connection, including unknown routes', async () => {
    const { Agent } = await import('node:https');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await call(`${vault.internalUrl}/missing`, { ca: vault.pki.ca, client: vault.pki.other, agent });
        expect(res.status).toBe(401);
      }
      const ok = await call(`${vault.internalUrl}/missing`, { ca: vault.pki.ca, client: vault.pki.gateway, agent: new Agent({ keepAlive: true }) });
      expect(ok.status).toBe(404);
    } finally {
      agent.destroy();
    }
  });

  it('closes a connection that never finishes its headers (timeouts are on)', async () => {
    const closed = await new Promise<number>((resolve, reject) => {
      const started = Date.now();
      const url = new URL(vault.publicUrl);
      const socket = connect({ host: url.hostname, port: Number(url.port), ca: vault.pki.ca, servername: 'localhost' }, () => {
        socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
      });
      socket.on('error', reject);
      socket.on('data', () => undefined);
      socket.on('close', () => resolve(Date.now() - started));
    });
    // headersTimeout = requestTimeoutMs = 1 s here; Node checks every second.
    expect(closed).toBeGreaterThanOrEqual(900);
    expect(closed).toBeLessThan(5_000);
  });
});
