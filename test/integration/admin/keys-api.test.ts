import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRefreshToken, sealRefreshToken } from '../../../src/grants/secrets.js';
import type { Grant } from '../../../src/store/grant-store.js';
import { adminCall } from '../../helpers/admin-client.js';
import { startVault, type TestVault } from '../../helpers/vault.js';
import { withRequestId } from '../../helpers/request-id.js';
import { trailEntries, trailRecords } from '../../helpers/audit-trail.js';

const GRANTS = 25;
let vault: TestVault;

function grant(i: number): Grant {
  return {
    id: `g${String(i).padStart(3, '0')}`,
    userId: `https://idp.example.test#u${i}`,
    provider: 'crm',
    upstreamSubject: `s${i}`,
    scopes: ['api'],
    status: 'active',
    refreshToken: '',
    version: 1,
    consent: {},
    createdAt: 1,
    updatedAt: 1,
  };
}

beforeAll(async () => {
  vault = await startVault();
  const { grants } = vault.runtime.stores;
  for (let i = 0; i < GRANTS; i++) {
    const g = grant(i);
    g.refreshToken = sealRefreshToken(vault.runtime.envelope, g, `refresh-${i}`);
    await grants.create(g);
  }
  // Two ciphertexts swapped in storage.
  const [a, b] = [(await grants.get('g003'))!, (await grants.get('g004'))!];
  await grants.rewrapRefreshToken(a.id, a.refreshToken, b.refreshToken);
  await grants.rewrapRefreshToken(b.id, b.refreshToken, a.refreshToken);
});
afterAll(async () => {
  await vault?.close();
});

const signingPem = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('keys API', () => {
  it('reloads a new KEK, rewraps in resumable batches, reports the swapped ciphertexts and never rewrites them', async () => {
    const kid1 = vault.runtime.keys.signingKeys.active.kid;
    expect((await adminCall(vault, '/admin/keys')).json()).toStrictEqual({
      sealed: false,
      kek: { ids: ['1'], active: '1' },
      signing: { active: kid1, previous: [] },
      rewrap: null,
    });

    await writeFile(join(vault.pki.dir, 'kek-2.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
    const reloaded = await adminCall(vault, '/admin/keys/reload', { method: 'POST' });
    expect(reloaded.json()).toStrictEqual({ sealed: false, kek: { ids: ['1', '2'], active: '2' }, signing: { active: kid1, previous: [] } });

    const first = await adminCall(vault, '/admin/keys/rewrap', { method: 'POST', body: { pageSize: 10, maxPages: 1 } });
    const s1 = first.json<{ startedAt: string; updatedAt: string }>();
    expect(s1).toStrictEqual({
      activeKeyId: '2',
      done: false,
      cursor: Buffer.from('g009').toString('base64url'),
      scanned: 10,
      rewrapped: 8,
      alreadyActive: 0,
      raced: 0,
      failed: [
        { grantId: 'g003', reason: 'cannot_open' },
        { grantId: 'g004', reason: 'cannot_open' },
      ],
      startedAt: s1.startedAt,
      updatedAt: s1.updatedAt,
    });
    const rest = await adminCall(vault, '/admin/keys/rewrap', { method: 'POST', body: {} });
    const s2 = rest.json<{ updatedAt: string }>();
    expect(s2).toStrictEqual({
      activeKeyId: '2',
      done: true,
      scanned: GRANTS,
      rewrapped: GRANTS - 2,
      alreadyActive: 0,
      raced: 0,
      failed: [
        { grantId: 'g003', reason: 'cannot_open' },
        { grantId: 'g004', reason: 'cannot_open' },
      ],
      startedAt: s1.startedAt,
      updatedAt: s2.updatedAt,
    });
    expect((await adminCall(vault, '/admin/keys')).json<{ rewrap: unknown }>().rewrap).toStrictEqual(s2);

    for (let i = 0; i < GRANTS; i++) {
      const g = (await vault.runtime.stores.grants.get(grant(i).id))!;
      if (i === 3 || i === 4) {
        expect(vault.runtime.envelope.keyIdOf(g.refreshToken)).toBe('1');
        expect(() => openRefreshToken(vault.runtime.envelope, g)).toThrow();
      } else {
        expect(vault.runtime.envelope.keyIdOf(g.refreshToken)).toBe('2');
        expect(openRefreshToken(vault.runtime.envelope, g)).toBe(`refresh-${i}`);
      }
    }

    const records = await trailRecords(vault.runtime.stores.audit);
    expect(records.map((r) => [r.action, r.decision, r.actor])).toStrictEqual([
      ['key.rotate', 'allow', 'spiffe://dev.local/admin'],
      ['key.rewrap', 'allow', 'spiffe://dev.local/admin'],
      ['key.rewrap', 'allow', 'spiffe://dev.local/admin'],
    ]);
    expect(records[2]!.details).toStrictEqual({ activeKeyId: '2', done: true, scanned: GRANTS, rewrapped: GRANTS - 2, failed: 2 });
  });

  it('activates a new signing key and keeps a removed one published for the longest token lifetime', async () => {
    const kid1 = vault.runtime.keys.signingKeys.active.kid;
    await writeFile(join(vault.pki.dir, 'signing-2.key'), signingPem(), { mode: 0o600 });
    const res = await adminCall(vault, '/admin/keys/reload', { method: 'POST' });
    const kid2 = res.json<{ signing: { active: string } }>().signing.active;
    expect(kid2).not.toBe(kid1);
    expect(res.json()).toStrictEqual({ sealed: false, kek: { ids: ['1', '2'], active: '2' }, signing: { active: kid2, previous: [kid1] } });

    await rm(join(vault.pki.dir, 'signing-1.key'));
    const after = await adminCall(vault, '/admin/keys/reload', { method: 'POST' });
    expect(after.json<{ signing: unknown }>().signing).toStrictEqual({ active: kid2, previous: [kid1] });
    const signing = vault.runtime.keys.signingKeys;
    expect(signing.jwks().keys.map((k) => k.kid)).toStrictEqual([kid2, kid1]);
    const later = Date.now() + 15 * 60_000 + 1_000;
    expect(signing.jwks(later).keys.map((k) => k.kid)).toStrictEqual([kid2]);
    expect(signing.get(kid1, later)).toBeUndefined();
  });

  it('refuses a reload of broken key material with server_error, keeps the old keys, and audits it', async () => {
    await writeFile(join(vault.pki.dir, 'kek-3.key'), 'too-short', { mode: 0o600 });
    try {
      const res = await adminCall(vault, '/admin/keys/reload', { method: 'POST' });
      expect({ status: res.status, body: res.json() }).toStrictEqual({
        status: 500,
        body: withRequestId(res, { error: 'server_error', error_description: 'The server encountered an unexpected condition.' }),
      });
      expect(vault.logs.text()).not.toContain('too-short');
      expect(vault.runtime.keys.keyring.activeId).toBe('2');
      const last = (await trailEntries(vault.runtime.stores.audit)).at(-1);
      expect(JSON.parse(last!.body)).toMatchObject({ action: 'key.rotate', decision: 'error', reason: 'key material rejected' });
    } finally {
      await rm(join(vault.pki.dir, 'kek-3.key'));
    }
  });

  it('refuses malformed rewrap batches with invalid_request and runs nothing', async () => {
    const invalid = {
      error: 'invalid_request',
      error_description: 'The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.',
    };
    const before = (await adminCall(vault, '/admin/keys')).json();
    for (const body of [{ pageSize: 0 }, { pageSize: 1001 }, { maxPages: 0 }, { pageSize: 'ten' }, { restart: 'yes' }, { extra: 1 }]) {
      const res = await adminCall(vault, '/admin/keys/rewrap', { method: 'POST', body });
      expect({ body, status: res.status, answer: res.json() }).toStrictEqual({ body, status: 400, answer: withRequestId(res, invalid) });
    }
    expect((await adminCall(vault, '/admin/keys')).json()).toStrictEqual(before);
  });

  it('refuses key operations while the global switch holds the keys sealed', async () => {
    await adminCall(vault, '/admin/kill-switches', { method: 'POST', body: { scope: 'global', target: '*', reason: 'drill' } });
    for (const path of ['/admin/keys/reload', '/admin/keys/rewrap']) {
      const res = await adminCall(vault, path, { method: 'POST' });
      expect({ status: res.status, body: res.json() }).toStrictEqual({
        status: 503,
        body: withRequestId(res, { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable. Retry later.' }),
      });
    }
    expect((await adminCall(vault, '/admin/keys')).json<{ sealed: boolean; kek: unknown }>()).toMatchObject({ sealed: true, kek: { ids: [], active: null } });
    await adminCall(vault, '/admin/kill-switches/global/*', { method: 'DELETE' });
    expect((await adminCall(vault, '/admin/keys')).json<{ kek: unknown }>().kek).toStrictEqual({ ids: ['1', '2'], active: '2' });
  });
});
