/** Expectations shared by the admin grants API and CLI tests. */
import { expect } from 'vitest';
import type { Grant } from '../../src/store/grant-store.js';
import type { LinkingVault } from './linking-vault.js';

/** The admin API's view of a grant: every field but the refresh-token ciphertext. */
export const grantView = (g: Grant) => ({
  id: g.id,
  user: g.userId,
  provider: g.provider,
  upstreamSubject: g.upstreamSubject,
  ...(g.instanceUrl !== undefined && { instanceUrl: g.instanceUrl }),
  scopes: g.scopes,
  status: g.status,
  consent: g.consent,
  version: g.version,
  createdAt: g.createdAt,
  updatedAt: g.updatedAt,
});

/** The one grant `login` holds at `provider` (fails the test otherwise). */
export async function onlyGrant(lv: LinkingVault, login: string, provider: string): Promise<Grant> {
  const grants = (await lv.grants(login)).filter((g) => g.provider === provider);
  expect(grants).toHaveLength(1);
  return grants[0]!;
}
