/**
 * Incremental authorization (RFC 6749 §3.3): a link asks for the scopes no
 * operation declares plus those of the operations it is for, in the
 * provider's order, and a grant lacks exactly the scopes it was not given.
 */
import { describe, expect, it } from 'vitest';
import { consentedOperations, linkScopes, missingScopes } from '../../../src/linking/ceiling.js';
import { ProviderCatalog } from '../../../src/providers/catalog.js';
import { providerSchema } from '../../../src/providers/schema.js';

const op = (scopes: string[]) => ({ description: 'd', scopes, methods: ['GET'], paths: ['/**'] });
const catalog = new ProviderCatalog(
  {
    crm: providerSchema.parse({
      kind: 'oidc',
      displayName: 'CRM',
      clientId: 'c',
      issuer: 'https://crm.example',
      apiBaseUrl: 'https://crm.example/api',
      scopes: ['openid', 'contacts.read', 'offline_access', 'contacts.write', 'notes'],
      operations: { read: op(['contacts.read']), write: op(['contacts.read', 'contacts.write']), notes: op(['notes']) },
    }),
    other: providerSchema.parse({
      kind: 'oidc',
      displayName: 'O',
      clientId: 'c',
      issuer: 'https://o.example',
      apiBaseUrl: 'https://o.example',
      operations: { x: op([]) },
    }),
  },
  {},
);
const crm = catalog.provider('crm')!;
const ops = (...names: string[]) => names.map((n) => catalog.operation(n)!);

describe('link scopes', () => {
  it('asks for the undeclared scopes plus those of the wanted operations, in the provider’s order', () => {
    expect(linkScopes(crm, [])).toStrictEqual(['openid', 'offline_access']);
    expect(linkScopes(crm, ops('crm:read'))).toStrictEqual(['openid', 'contacts.read', 'offline_access']);
    expect(linkScopes(crm, ops('crm:write', 'crm:read'))).toStrictEqual(['openid', 'contacts.read', 'offline_access', 'contacts.write']);
  });

  it('names the scopes a grant lacks for some operations', () => {
    expect(missingScopes({ scopes: ['openid', 'contacts.read'] }, ops('crm:read'))).toStrictEqual([]);
    expect(missingScopes({ scopes: ['openid', 'contacts.read'] }, ops('crm:write', 'crm:notes'))).toStrictEqual(['contacts.write', 'notes']);
  });

  it('reads the consented operations of a grant, on its own provider only', () => {
    const consent = { a: ['crm:read', 'other:x'], b: ['crm:read', 'crm:notes', 'crm:gone'] };
    expect(consentedOperations(catalog, { provider: 'crm', consent })).toStrictEqual(ops('crm:read', 'crm:notes'));
  });
});
