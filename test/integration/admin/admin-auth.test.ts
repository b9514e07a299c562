import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, SignJWT } from 'jose';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../../src/dev/fake-oauth-server.js';
import { sealRefreshToken } from '../../../src/grants/secrets.js';
import type { Grant } from '../../../src/store/grant-store.js';
import { adminCall, type AdminCallOptions } from '../../helpers/admin-client.js';
import { startVault, type TestVault } from '../../helpers/vault.js';
import { withRequestId } from '../../helpers/request-id.js';
import { trailEntries } from '../../helpers/audit-trail.js';

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
/** Right issuer, audience and group, signed by a key the IdP never published. */
const forgedJwt = async () => {
  const stranger = await generateKeyPair('ES256');
  return new SignJWT({ sub: 'mallory', aud: AUDIENCE, groups: [GROUP] })
    .setProtectedHeader({ alg: 'ES256', kid: 'forged' })
    .setIssuer(idp.issuer)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(stranger.privateKey);
};

async function nothingChanged(): Promise<void> {
  expect(await vault.runtime.stores.killSwitches.snapshot()).toStrictEqual({ epoch: 0, switches: [] });
  expect((await vault.runtime.stores.audit.heads()).every((h) => h === null)).toBe(true);
}

/** Everything an admin route could change, to compare before and after refused calls. */
async function adminState() {
  const { stores, keys } = vault.runtime;
  return {
    killSwitches: await stores.killSwitches.snapshot(),
    auditHead: await stores.audit.heads(),
    grants: (await stores.grants.list({}, 100)).items,
    rewrap: await stores.adminJobs.load('kek-rewrap'),
    keks: { ids: keys.keyring.ids(), active: keys.keyring.activeId, signing: keys.signingKeys.active.kid },
  };
}

/** The request an admin would send to this route (bodies that pass validation). */
function adminRequest(method: string, path: string): AdminCallOptions {
  const bodies: Record<string, unknown> = {
    'POST /admin/kill-switches': engage,
    'POST /admin/grants/{id}/revoke': { reason: 'x' },
    'POST /admin/grants/revoke': { provider: 'crm', reason: 'x' },
    'POST /admin/keys/rewrap': {},
  };
  const body = bodies[`${method} ${path}`];
  return { method, ...(body !== undefined && { body }) };
}

describe('admin authentication', () => {
  it('refuses every admin route, as listed in the OpenAPI document, without a valid admin credential, and changes nothing', async () => {
    const now = Date.now();
    const ref = { id: 'g-victim', userId: 'https://idp.example.test#u1', provider: 'crm' };
    const grant: Grant = {
      ...ref,
      upstreamSubject: 's',
      scopes: [],
      status: 'active',
      version: 1,
      consent: {},
      createdAt: now,
      updatedAt: now,
      refreshToken: sealRefreshToken(vault.runtime.envelope, ref, 'refresh-victim'),
    };
    await vault.runtime.stores.grants.create(grant);
    const before = await adminState();
    const paths = (vault.app.internal.swagger() as { paths: Record<string, Record<string, unknown>> }).paths;
    const routes = Object.entries(paths)
      .filter(([path]) => path.startsWith('/admin/'))
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })));
    expect(routes.length).toBeGreaterThanOrEqual(12);
    const bad: Array<[string, AdminCallOptions, unknown]> = [
      ['gateway certificate with a valid admin JWT', { client: vault.pki.gateway, bearer: await adminJwt() }, invalidClient],
      ['gateway certificate', { client: vault.pki.gateway }, invalidClient],
      ['console certificate without a bearer token', { client: vault.pki.other }, invalidToken],
      ['console certificate with an expired admin JWT', { client: vault.pki.other, bearer: await adminJwt({}, -120) }, invalidToken],
      ['console certificate with a wrongly signed admin JWT', { client: vault.pki.other, bearer: await forgedJwt() }, invalidToken],
    ];
    for (const { method, path } of routes) {
      const url = path.replace('{id}', grant.id).replace('{scope}', 'agent').replace('{target}', encodeURIComponent(engage.target));
      for (const [label, credential, body] of bad) {
        const res = await adminCall(vault, url, { ...adminRequest(method, path), ...credential });
        expect({ route: `${method} ${path}`, label, status: res.status, body: res.json() }).toStrictEqual({
          route: `${method} ${path}`,
          label,
          status: 401,
          body: withRequestId(res, body as object),
        });
      }
      // No client certificate at all: refused in the TLS handshake.
      await expect(adminCall(vault, url, { ...adminRequest(method, path), client: null })).rejects.toThrow();
    }
    expect(await adminState()).toStrictEqual(before);
    await vault.runtime.stores.grants.delete(grant.id);
  });

  it('refuses a gateway certificate even with a valid admin JWT, and changes nothing', async () => {
    const res = await adminCall(vault, '/admin/kill-switches', { method: 'POST', body: engage, client: vault.pki.gateway, bearer: await adminJwt() });
    expect(res.status).toBe(401);
    expect(res.json()).toStrictEqual(withRequestId(res, invalidClient));
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
    expect(res.json()).toStrictEqual(withRequestId(res, invalidToken));
    await nothingChanged();
  });

  it('refuses expired, wrongly signed, wrong-audience and group-less admin JWTs', async () => {
    const forged = await forgedJwt();
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
      expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 401, body: withRequestId(res, invalidToken) });
    }
    await nothingChanged();
  });

  it('accepts the console certificate with a valid admin JWT and audits the JWT subject', async () => {
    const res = await adminCall(vault, '/admin/kill-switches', { method: 'POST', body: engage, client: vault.pki.other, bearer: await adminJwt() });
    expect(res.status).toBe(200);
    const actor = `jwt:${idp.issuer}#alice`;
    expect(res.json<{ switch: { engagedBy: string } }>().switch.engagedBy).toBe(actor);
    const [entry] = await trailEntries(vault.runtime.stores.audit);
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
      expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 401, body: withRequestId(res, invalidClient) });
    } finally {
      await plain.close();
    }
  });
});
