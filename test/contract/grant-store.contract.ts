import { describe, expect, it } from 'vitest';
import { StoreConflictError } from '../../src/store/errors.js';
import type { Grant, GrantTombstone } from '../../src/store/grant-store.js';
import type { Stores } from '../../src/store/stores.js';
import { grantFixture } from './fixtures.js';

/** GrantStore behaviour, including deletion of everything hanging off a grant. */
export function describeGrantStoreContract(stores: () => Stores): void {
  describe('grants', () => {
    it('creates and reads a grant back unchanged', async () => {
      const grant = grantFixture();
      await stores().grants.create(grant);
      expect(await stores().grants.get(grant.id)).toStrictEqual(grant);
    });

    it('keeps an absent instanceUrl absent and empty consent empty', async () => {
      const { instanceUrl: _omit, ...rest } = grantFixture();
      const grant: Grant = { ...rest, consent: {}, scopes: [] };
      await stores().grants.create(grant);
      expect(await stores().grants.get(grant.id)).toStrictEqual(grant);
    });

    it('returns null for an unknown grant', async () => {
      expect(await stores().grants.get('missing')).toBeNull();
    });

    it('refuses a duplicate id with StoreConflictError and keeps the original', async () => {
      const grant = grantFixture();
      await stores().grants.create(grant);
      await expect(stores().grants.create({ ...grant, userId: 'someone-else' })).rejects.toBeInstanceOf(StoreConflictError);
      expect(await stores().grants.get(grant.id)).toStrictEqual(grant);
      expect(await stores().grants.listByUser('someone-else')).toStrictEqual([]);
    });

    it('lists the grants of one user only', async () => {
      const a1 = grantFixture({ id: 'a1' });
      const a2 = grantFixture({ id: 'a2', provider: 'servicenow' });
      const b1 = grantFixture({ id: 'b1', userId: 'https://idp.example|bob' });
      for (const g of [a2, b1, a1]) await stores().grants.create(g);
      expect(await stores().grants.listByUser(a1.userId)).toStrictEqual([a1, a2]);
      expect(await stores().grants.listByUser('nobody')).toStrictEqual([]);
    });

    it('pages a filtered listing to the end with a cursor', async () => {
      const agent = 'spiffe://corp.example/agent/lister';
      const matching: Grant[] = [];
      for (let i = 0; i < 14; i++) {
        const id = `l-${String(i).padStart(2, '0')}`;
        const even = i % 2 === 0;
        const grant = grantFixture({
          id,
          provider: even ? 'salesforce' : 'servicenow',
          consent: even ? { [agent]: ['salesforce:records.read'] } : {},
        });
        await stores().grants.create(grant);
        if (even) matching.push(grant);
      }
      const filter = { provider: 'salesforce', agent, status: 'active' as const };
      const p1 = await stores().grants.list(filter, 3);
      expect(p1.items).toStrictEqual(matching.slice(0, 3));
      expect(p1.next).toBeTypeOf('string');
      const p2 = await stores().grants.list(filter, 3, p1.next);
      expect(p2.items).toStrictEqual(matching.slice(3, 6));
      const p3 = await stores().grants.list(filter, 3, p2.next);
      expect(p3).toStrictEqual({ items: matching.slice(6, 7) });
      expect(await stores().grants.list(filter, 3, p2.next)).toStrictEqual(p3);

      const all = await stores().grants.list({}, 7);
      expect(all.items.map((g) => g.id)).toStrictEqual(['l-00', 'l-01', 'l-02', 'l-03', 'l-04', 'l-05', 'l-06']);
      const rest = await stores().grants.list({}, 7, all.next);
      expect(rest.items).toHaveLength(7);
      expect(rest.next).toBeUndefined();
      const past = await stores().grants.list({}, 7, Buffer.from('l-99').toString('base64url'));
      expect(past).toStrictEqual({ items: [] });
      expect(await stores().grants.list({ status: 'revoked' }, 5)).toStrictEqual({ items: [] });
      expect(await stores().grants.list({ userId: 'nobody' }, 5)).toStrictEqual({ items: [] });
    });

    it('commits a refresh only for the current version, bumping it', async () => {
      const grant = grantFixture({ version: 4 });
      await stores().grants.create(grant);
      expect(await stores().grants.commitRefresh(grant.id, 4, 'rotated-1')).toBe(5);
      expect(await stores().grants.commitRefresh(grant.id, 4, 'stale')).toBeNull();
      const stored = await stores().grants.get(grant.id);
      expect(stored?.refreshToken).toBe('rotated-1');
      expect(stored?.version).toBe(5);
      expect(stored?.updatedAt).toBeGreaterThanOrEqual(grant.updatedAt);
      expect(await stores().grants.commitRefresh('missing', 1, 'x')).toBeNull();
    });

    it('lets exactly one of many concurrent refresh commits win', async () => {
      const grant = grantFixture();
      await stores().grants.create(grant);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => stores().grants.commitRefresh(grant.id, 1, `rt-${i}`)));
      expect(results.filter((v) => v !== null)).toStrictEqual([2]);
    });

    it('swaps a re-wrapped refresh token only while the ciphertext is unchanged, keeping the version', async () => {
      const grant = grantFixture({ version: 3, refreshToken: 'ct-old-key' });
      await stores().grants.create(grant);
      expect(await stores().grants.rewrapRefreshToken(grant.id, 'ct-other', 'ct-new-key')).toBe(false);
      expect(await stores().grants.rewrapRefreshToken(grant.id, 'ct-old-key', 'ct-new-key')).toBe(true);
      expect(await stores().grants.get(grant.id)).toMatchObject({ refreshToken: 'ct-new-key', version: 3 });
      // A refresh that started before the rewrap still commits on the version it read.
      expect(await stores().grants.commitRefresh(grant.id, 3, 'ct-rotated')).toBe(4);
      expect(await stores().grants.rewrapRefreshToken(grant.id, 'ct-new-key', 'ct-stale')).toBe(false);
      expect(await stores().grants.rewrapRefreshToken('missing', 'a', 'b')).toBe(false);
    });

    it('sets status with and without an expected version', async () => {
      const grant = grantFixture();
      await stores().grants.create(grant);
      expect(await stores().grants.setStatus(grant.id, 'consent_required', 1)).toBe(2);
      expect(await stores().grants.setStatus(grant.id, 'active', 1)).toBeNull();
      expect(await stores().grants.setStatus(grant.id, 'revoked')).toBe(3);
      expect(await stores().grants.get(grant.id)).toMatchObject({ status: 'revoked', version: 3 });
      expect(await stores().grants.setStatus('missing', 'revoked')).toBeNull();
    });

    it('adds, replaces and removes one agent consent', async () => {
      const grant = grantFixture({ consent: {} });
      await stores().grants.create(grant);
      expect(await stores().grants.setConsent(grant.id, 'agent-a', ['op.read'])).toBe(true);
      expect(await stores().grants.setConsent(grant.id, 'agent-b', ['op.read', 'op.write'])).toBe(true);
      expect(await stores().grants.setConsent(grant.id, 'agent-a', ['op.write'])).toBe(true);
      expect((await stores().grants.get(grant.id))?.consent).toStrictEqual({ 'agent-a': ['op.write'], 'agent-b': ['op.read', 'op.write'] });
      expect(await stores().grants.setConsent(grant.id, 'agent-b', [])).toBe(true);
      const stored = await stores().grants.get(grant.id);
      expect(stored?.consent).toStrictEqual({ 'agent-a': ['op.write'] });
      expect(stored?.version).toBe(1);
      expect(await stores().grants.setConsent('missing', 'agent-a', ['op.read'])).toBe(false);
    });

    it('deletes a grant with its cached access token (its operation tokens die with it: token-liveness)', async () => {
      const grant = grantFixture();
      const other = grantFixture();
      await stores().grants.create(grant);
      await stores().grants.create(other);
      await stores().tokens.cacheAccessToken(grant.id, { ciphertext: 'at', expiresAt: Date.now() + 60_000, grantVersion: 1 }, 60_000);

      expect(await stores().grants.delete(grant.id)).toBe(true);
      expect(await stores().grants.get(grant.id)).toBeNull();
      expect(await stores().tokens.getAccessToken(grant.id)).toBeNull();
      expect(await stores().grants.listByUser(grant.userId)).toStrictEqual([other]);
      expect((await stores().grants.list({}, 10)).items).toStrictEqual([other]);
      expect(await stores().grants.delete(grant.id)).toBe(false);
    });

    it('keeps an integrity_error status (a quarantined grant) as written', async () => {
      const grant = grantFixture();
      await stores().grants.create(grant);
      expect(await stores().grants.setStatus(grant.id, 'integrity_error', 1)).toBe(2);
      expect(await stores().grants.get(grant.id)).toMatchObject({ status: 'integrity_error', version: 2 });
      expect((await stores().grants.list({ status: 'integrity_error' }, 10)).items.map((g) => g.id)).toStrictEqual([grant.id]);
    });

    const tombstoneOf = (grant: Grant, overrides: Partial<GrantTombstone> = {}): GrantTombstone => ({
      grantId: grant.id,
      userId: grant.userId,
      provider: grant.provider,
      upstreamSubject: grant.upstreamSubject,
      status: 'revoked',
      revokedAt: 1_763_776_600_000,
      reason: 'incident-7',
      revokedBy: 'spiffe://corp.example/admin',
      revokedByRole: 'admin',
      ...overrides,
    });

    it('marks a grant revoked and writes its tombstone in one step; the tombstone outlives the grant', async () => {
      const grant = grantFixture();
      await stores().grants.create(grant);
      const tombstone = tombstoneOf(grant);
      expect(await stores().grants.markRevoked(grant.id, tombstone, 60_000)).toBe(2);
      expect(await stores().grants.get(grant.id)).toMatchObject({ status: 'revoked', version: 2 });
      expect(await stores().grants.getTombstone(grant.id)).toStrictEqual(tombstone);
      expect(await stores().grants.delete(grant.id)).toBe(true);
      expect(await stores().grants.getTombstone(grant.id)).toStrictEqual(tombstone);
      expect(await stores().grants.tombstonesByUser(grant.userId)).toStrictEqual([tombstone]);
      expect(await stores().grants.tombstonesByUser('nobody')).toStrictEqual([]);
      // A grant that is gone gets no tombstone.
      expect(await stores().grants.markRevoked('missing', tombstoneOf({ ...grant, id: 'missing' }), 60_000)).toBeNull();
      expect(await stores().grants.getTombstone('missing')).toBeNull();
    });

    it('drops a tombstone when its retention ends', async () => {
      const grant = grantFixture();
      await stores().grants.create(grant);
      await stores().grants.markRevoked(grant.id, tombstoneOf(grant), 50);
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(await stores().grants.getTombstone(grant.id)).toBeNull();
      expect(await stores().grants.tombstonesByUser(grant.userId)).toStrictEqual([]);
      expect((await stores().grants.listTombstones({}, 10)).items).toStrictEqual([]);
    });

    it('pages a filtered tombstone listing in grant id order with a cursor', async () => {
      const expected: GrantTombstone[] = [];
      for (let i = 0; i < 7; i++) {
        const grant = grantFixture({ id: `t-${i}`, provider: i % 2 === 0 ? 'salesforce' : 'servicenow' });
        await stores().grants.create(grant);
        const tombstone = tombstoneOf(grant, { revokedByRole: 'user', revokedBy: grant.userId, reason: 'unlinked' });
        await stores().grants.markRevoked(grant.id, tombstone, 60_000);
        if (i % 2 === 0) expected.push(tombstone);
      }
      const p1 = await stores().grants.listTombstones({ provider: 'salesforce' }, 3);
      expect(p1.items).toStrictEqual(expected.slice(0, 3));
      expect(p1.next).toEqual(expect.any(String));
      const p2 = await stores().grants.listTombstones({ provider: 'salesforce' }, 3, p1.next);
      expect(p2).toStrictEqual({ items: expected.slice(3) });
      expect((await stores().grants.listTombstones({ userId: 'nobody' }, 3)).items).toStrictEqual([]);
    });

    it('returns copies, so caller mutation does not reach the store', async () => {
      const grant = grantFixture();
      await stores().grants.create(grant);
      const read = await stores().grants.get(grant.id);
      read?.scopes.push('mutated');
      grant.consent['x'] = ['y'];
      expect((await stores().grants.get(grant.id))?.scopes).toStrictEqual(['api', 'refresh_token']);
      expect((await stores().grants.get(grant.id))?.consent['x']).toBeUndefined();
    });
  });
}
