/**
 * Storage for one fake OAuth server (oidc-provider's Adapter interface), in
 * memory and unbounded. oidc-provider's own development adapter is a single
 * LRU of 1,000 entries shared by every Provider in the process: a test holding
 * a thousand upstream grants lost the oldest refresh tokens without a word
 * (they then answered `invalid_grant`, as if revoked).
 */
import type { AdapterPayload, FakeAdapter } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  /** Epoch ms, or undefined for no expiry. */
  expiresAt: number | undefined;
}

/** Models whose records belong to a grant and die with it (revokeByGrantId). */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

export function unboundedAdapter(): (model: string) => FakeAdapter {
  const entries = new Map<string, Entry>();
  const byGrant = new Map<string, Set<string>>();
  const byUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();

  const read = (key: string): AdapterPayload | undefined => {
    const entry = entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry?.payload;
  };

  return (model) => {
    const key = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        entries.set(key(id), { payload, expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined });
        if (GRANTABLE.has(model) && typeof payload.grantId === 'string') {
          const members = byGrant.get(payload.grantId) ?? new Set<string>();
          byGrant.set(payload.grantId, members.add(key(id)));
        }
        if (typeof payload.uid === 'string') byUid.set(payload.uid, id);
        if (typeof payload.userCode === 'string') byUserCode.set(payload.userCode, id);
      },
      find: async (id) => read(key(id)),
      findByUid: async (uid) => {
        const id = byUid.get(uid);
        return id === undefined ? undefined : read(key(id));
      },
      findByUserCode: async (userCode) => {
        const id = byUserCode.get(userCode);
        return id === undefined ? undefined : read(key(id));
      },
      async consume(id) {
        const payload = read(key(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        entries.delete(key(id));
      },
      async revokeByGrantId(grantId) {
        for (const member of byGrant.get(grantId) ?? []) entries.delete(member);
        byGrant.delete(grantId);
      },
    };
  };
}
