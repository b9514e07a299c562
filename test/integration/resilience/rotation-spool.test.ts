/**
 * The rotation spool on disk: 0600 files in a 0700 directory holding ciphertext only (canary),
 * bound to its grant and rotation; a process that starts with a spooled rotation refuses to
 * refresh that grant until the rotation is committed, then removes the file.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEnvelope, type Envelope } from '../../../src/crypto/envelope.js';
import { Keyring } from '../../../src/crypto/keyring.js';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { openRefreshToken, openSpooledRefreshToken, sealRefreshToken, sealSpooledRefreshToken } from '../../../src/grants/secrets.js';
import { UpstreamAccessTokens } from '../../../src/grants/upstream-access.js';
import { ProviderCatalog } from '../../../src/providers/catalog.js';
import type { UpstreamOAuth } from '../../../src/providers/upstream-oauth.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';
import { FileRotationSpool } from '../../../src/store/rotation-spool.js';
import { grantFixture } from '../../contract/fixtures.js';

const CANARY = 'CANARY-spool-9d1e';
let dir: string;
let envelope: Envelope;

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'tv-spool-')), 'spool');
  envelope = await createEnvelope(new Keyring([{ id: 'k1', key: randomBytes(32) }], 'k1'));
});
afterEach(() => rm(join(dir, '..'), { recursive: true, force: true }));

describe('rotation spool', () => {
  it('writes 0600 files in a 0700 directory with no plaintext, bound to the grant and the rotation', async () => {
    const grant = grantFixture();
    const spool = new FileRotationSpool(dir);
    const sealed = sealSpooledRefreshToken(envelope, grant, 3, `${CANARY}-refresh`);
    await spool.write({ grantId: grant.id, userId: grant.userId, provider: grant.provider, baseVersion: 3, sealed });
    const [name, ...others] = await readdir(dir);
    expect(others).toStrictEqual([]);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, name!))).mode & 0o777).toBe(0o600);
    const text = await readFile(join(dir, name!), 'utf8');
    expect(text).not.toContain(CANARY);
    expect(name).not.toContain(grant.id);
    const { entries, problems } = await spool.readAll();
    expect(problems).toStrictEqual([]);
    expect(entries).toStrictEqual([{ grantId: grant.id, userId: grant.userId, provider: grant.provider, baseVersion: 3, sealed }]);
    expect(openSpooledRefreshToken(envelope, grant, 3, sealed)).toBe(`${CANARY}-refresh`);
    // Not the grant's own slot, not another rotation of it.
    expect(() => openRefreshToken(envelope, { ...grant, refreshToken: sealed })).toThrow();
    expect(() => openSpooledRefreshToken(envelope, grant, 2, sealed)).toThrow();
    await spool.remove(grant.id);
    expect(await readdir(dir)).toStrictEqual([]);
  });

  it('is replayed before serving: the grant refuses to refresh until the spooled token is committed and audited', async () => {
    const stores = createMemoryStores();
    const base = grantFixture();
    const grant = { ...base, refreshToken: sealRefreshToken(envelope, base, 'rt-spent') };
    await stores.grants.create(grant);
    const spool = new FileRotationSpool(dir);
    const sealed = sealSpooledRefreshToken(envelope, grant, grant.version, 'rt-new');
    await spool.write({ grantId: grant.id, userId: grant.userId, provider: grant.provider, baseVersion: grant.version, sealed });

    let presented: string[] = [];
    const upstream = {
      refresh: async (_p: string, rt: string) => ((presented = [...presented, rt]), { accessToken: 'at', expiresAt: Date.now() + 3_600_000 }),
    };
    const audited: string[] = [];
    const tokens = new UpstreamAccessTokens(stores, envelope, new ProviderCatalog({}, {}), upstream as unknown as UpstreamOAuth, { spool }, async (e) => {
      audited.push(`${e.outcome}: ${e.reason ?? ''}`);
    });
    const commit = stores.grants.commitRefresh.bind(stores.grants);
    let storeDown = true;
    stores.grants.commitRefresh = async (...args) => (storeDown ? Promise.reject(new TemporarilyUnavailable('down')) : commit(...args));
    expect(await tokens.rotations.replay()).toStrictEqual([]);
    await expect(tokens.get(grant)).rejects.toThrow(TemporarilyUnavailable);
    expect(presented).toStrictEqual([]);

    storeDown = false;
    await tokens.rotations.settled();
    const stored = (await stores.grants.get(grant.id))!;
    expect(openRefreshToken(envelope, stored)).toBe('rt-new');
    expect(audited).toStrictEqual(['rotated: replayed from the spool']);
    expect(await readdir(dir)).toStrictEqual([]);
    await tokens.get(stored);
    expect(presented).toStrictEqual(['rt-new']);
    await tokens.rotations.close();
  });
});
