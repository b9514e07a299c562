import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, SignJWT } from 'jose';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../../src/dev/fake-oauth-server.js';
import { adminCall } from '../../helpers/admin-client.js';
import { startVault, type TestVault } from '../../helpers/vault.js';

const AUDIENCE = 'token-vault-admin';
const GROUP = 'token-vault-admins';
const CONSOLE = 'spiffe://dev.local/other';

let idp: FakeOAuthServer;
let vault: TestVault;

beforeAll(async () => {
  idp = await startFakeOAuthServer({ profile: 'idp' });
  vault = await startVault({
    overrides: {
      admins: {
        allow: ['spiffe://dev.local/admin'],
        consoles: [CONSOLE],
        jwt: { issuer: idp.issuer, jwksUri: `${idp.origin}/jwks`, audience: AUDIENCE, group: GROUP, allowPrivateNetwork: true },
      },
    },
  });
});
afterAll(async () => {
  await vault?.close();
  await idp?.stop();
});

const engage = { scope: 'agent', target: 'spiffe://dev.local/agent/a', reason: 'incident-1' };
const invalidClient = { error: 'invalid_client', error_description: 'Client authentication failed.' };
const invalidToken = { error: 'invalid_token', error_description: 'The access token is invalid, expired or not usable for this request.' };
const adminJwt = (extra: Record<string, unknown> = {}, expiresIn = 300) =>
  idp.mintIdToken({ sub: 'alice', aud: AUDIENCE, expiresIn, extra: { groups: [GROUP], ...extra } });

async function nothingChanged(): Promise<void> {
  expect(await vault.runtime.stores.killSwitches.snapshot()).toStrictEqual({ epoch: 0, switches: [] });
  expect(await vault.runtime.stores.audit.head()).toBeNull();
}

describe('admin authentication', () => {
  it('refuses a gateway certificate even with a valid admin JWT, and changes nothing', async () => {
    const res = await adminCall(vault, '/admin/kill-switches', { method: 'POST', body: engage, client: vault.pki.gateway, bearer: await adminJwt() });
    expect(res.status).toBe(401);
    expect(res.json()).toStrictEqual(invalidClient);
    expect((await adminCall(vault, '/admin/kill-switches', { client: vault.pki.gateway })).status).toBe(401);
    await nothingChanged();
  });

  it('refuses a request without any client certificate at the TLS layer', async () => {
    await expect(adminCall(vault, '/admin/kill-switches', { client: null })).rejects.toThrow();
    await nothingChanged();
  });

  it('refuses the console certificate without a bearer token', async () => {
    const res = await adminCall(vault, '/admin/kill-switches', { method: 'POST', body: engage, client: vault.pki.other });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(res.json()).toStrictEqual(invalidToken);
    await nothingChanged();
  });

  it('refuses expired, wrongly signed, wrong-audience and group-less admin JWTs', async () => {
    const stranger = await generateKeyPair('ES256');
    const forged = await new SignJWT({ sub: 'mallory', aud: AUDIENCE, groups: [GROUP] })
      .setProtectedHeader({ alg: 'ES256', kid: 'forged' }).setIssuer(idp.issuer).setIssuedAt().setExpirationTime('5m')
      .sign(stranger.privateKey);
    const valid = await adminJwt();
    const badSignature = `${valid.slice(0, valid.lastIndexOf('.') + 1)}${'A'.repeat(valid.length - valid.lastIndexOf('.') - 1)}`;
    const tokens = [
      await adminJwt({}, -120),
      forged,
      badSignature,
      await idp.mintIdToken({ sub: 'alice', aud: 'someone-else', extra: { groups: [GROUP] } }),
      await adminJwt({ groups: ['staff'] }),
    ];
    for (const bearer of tokens) {
      const res = await adminCall(vault, '/admin/kill-switches', { method: 'POST', body: engage, client: vault.pki.other, bearer });
      expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 401, body: invalidToken });
    }
    await nothingChanged();
  });

  it('accepts the console certificate with a valid admin JWT and audits the JWT subject', async () => {
    const res = await adminCall(vault, '/admin/kill-switches', { method: 'POST', body: engage, client: vault.pki.other, bearer: await adminJwt() });
    expect(res.status).toBe(200);
    const actor = `jwt:${idp.issuer}#alice`;
    expect(res.json<{ switch: { engagedBy: string } }>().switch.engagedBy).toBe(actor);
    const [entry] = await vault.runtime.stores.audit.range(1, 10);
    expect(JSON.parse(entry!.body)).toMatchObject({ action: 'killswitch.engage', actor, agent: engage.target });
  });

  it('accepts the admin certificate on its own', async () => {
    const res = await adminCall(vault, '/admin/kill-switches');
    expect(res.status).toBe(200);
  });
});

describe('admin authentication without consoles configured', () => {
  it('refuses the other certificate: it is no identity on this vault', async () => {
    const plain = await startVault();
    try {
      const res = await adminCall(plain, '/admin/kill-switches', { client: plain.pki.other });
      expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 401, body: invalidClient });
    } finally {
      await plain.close();
    }
  });
});
