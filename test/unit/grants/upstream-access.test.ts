/**
 * The decisions of the refresh single-flight that the storm tests cannot
 * force: a peer committing first while this replica's refresh is rejected,
 * and a provider that says invalid_grant with nobody else involved. The
 * upstream here is a scripted stand-in for UpstreamOAuth.refresh; the storm
 * tests run the same code against oidc-provider.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createEnvelope } from '../../../src/crypto/envelope.js';
import { Keyring } from '../../../src/crypto/keyring.js';
import { GrantNeedsConsent, UpstreamAccessTokens } from '../../../src/grants/upstream-access.js';
import { openRefreshToken, sealAccessToken, sealRefreshToken } from '../../../src/grants/secrets.js';
import { ProviderCatalog } from '../../../src/providers/catalog.js';
import { UpstreamInvalidGrant, type UpstreamOAuth, type UpstreamTokens } from '../../../src/providers/upstream-oauth.js';
import { StoreUnavailableError } from '../../../src/store/errors.js';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';
import { grantFixture } from '../../contract/fixtures.js';

async function setup(refresh: (grantId: string) => Promise<UpstreamTokens>) {
  const envelope = await createEnvelope(new Keyring([{ id: 'k1', key: randomBytes(32) }], 'k1'));
  const stores = createMemoryStores();
  const base = grantFixture();
  const grant = { ...base, refreshToken: sealRefreshToken(envelope, base, 'rt-1') };
  await stores.grants.create(grant);
  const upstream = { refresh: () => refresh(grant.id) } as unknown as UpstreamOAuth;
  const tokens = new UpstreamAccessTokens(stores, envelope, new ProviderCatalog({}, {}), upstream, { pollMs: 1 });
  return { envelope, stores, grant, tokens };
}

describe('upstream access single-flight', () => {
  it('uses the peer’s result when the provider rejects a refresh token a peer already rotated', async () => {
    const { envelope, stores, grant, tokens } = await setup(async (grantId) => {
      // While our refresh was on the wire, another replica refreshed, committed and cached.
      await stores.grants.commitRefresh(grantId, grant.version, sealRefreshToken(envelope, grant, 'rt-2'));
      await stores.tokens.cacheAccessToken(
        grantId,
        { ciphertext: sealAccessToken(envelope, grant, 'peer-at'), expiresAt: Date.now() + 3_600_000, grantVersion: grant.version + 1 },
        3_600_000,
      );
      throw new UpstreamInvalidGrant('rotated by a peer');
    });
    const access = await tokens.get(grant);
    expect(access.accessToken).toBe('peer-at');
    const stored = (await stores.grants.get(grant.id))!;
    expect(stored.status).toBe('active');
    expect(openRefreshToken(envelope, stored)).toBe('rt-2');
  });

  it('parks the grant as consent_required when the provider rejects the current refresh token', async () => {
    const { stores, grant, tokens } = await setup(async () => {
      throw new UpstreamInvalidGrant('revoked upstream');
    });
    await expect(tokens.get(grant)).rejects.toBeInstanceOf(GrantNeedsConsent);
    expect((await stores.grants.get(grant.id))?.status).toBe('consent_required');
  });

  it('keeps a rotated refresh token whose commit answer was lost while Redis restarted', async () => {
    const { envelope, stores, grant, tokens } = await setup(async () => ({ accessToken: 'at-2', refreshToken: 'rt-2', expiresAt: Date.now() + 3_600_000 }));
    const commit = stores.grants.commitRefresh.bind(stores.grants);
    let calls = 0;
    stores.grants.commitRefresh = async (...args) => {
      calls += 1;
      // First attempt: applied, but its answer is lost. Second: refused by the CAS (already applied).
      const result = await commit(...args);
      if (calls === 1) throw new StoreUnavailableError('connection lost');
      return result;
    };
    // The caller is refused (nothing derived leaves before the commit is known); the token is kept and persisted.
    await expect(tokens.get(grant)).rejects.toThrow(TemporarilyUnavailable);
    await tokens.rotations.settled();
    expect(calls).toBe(2);
    const stored = (await stores.grants.get(grant.id))!;
    expect(openRefreshToken(envelope, stored)).toBe('rt-2');
    expect(stored.version).toBe(grant.version + 1);
    expect((await tokens.get(stored)).accessToken).toBe('at-2');
  });
});
